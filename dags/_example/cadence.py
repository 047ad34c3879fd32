"""How often the example's sensors check their producers: ``MESH_EXAMPLE_POKE_SECONDS`` (default 60 s;
the tests use 1 s and ``make demo`` 20 s). A team's DAG would write its own ``poke_interval``."""

import os

POKE_SECONDS = float(os.environ.get("MESH_EXAMPLE_POKE_SECONDS", "60"))
