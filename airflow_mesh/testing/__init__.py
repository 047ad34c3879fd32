"""Test aids shipped with the package, so teams can test their own DAGs the way the mesh tests itself.

Nothing here runs in production. Both are clearly simulators: there is no YARN cluster in CI.
"""
