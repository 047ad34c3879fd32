# The two commands: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint test-sqlite test-postgresql test-faketime system-packages bench bench-dagster-reference venv clean

# Debian packages the tests use: Chromium (browser tests), PostgreSQL (the suite's second database), faketime
# (the unit suite at fixed dates), Redis (the Celery broker of the multi-replica tests) and Maven (the local YARN).
APT_NEEDS := curl:curl chromium:chromium faketime:faketime redis-server:redis-server mvn:maven java:default-jdk-headless
system-packages:
	@missing=""; for pair in $(APT_NEEDS); do command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair#*:}"; done; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then apt-get update && apt-get install -y $$missing; fi

$(STAMP): pyproject.toml setup.cfg constraints.txt
	@$(PYTHON) -c "import ensurepip, venv" 2>/dev/null || (apt-get update && apt-get install -y python3-venv)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# ruff (with a complexity limit) and mypy on the package; `make test` runs it first, so a lint error fails fast.
lint: $(STAMP)
	$(VENV)/bin/ruff check airflow_mesh bench scripts dags tests
	$(VENV)/bin/mypy

# The whole suite twice: on SQLite, then on a throw-away PostgreSQL the test session starts and stops
# (tests/conftest.py); then the unit suite under faketime at six dates (scripts/test_faketime.sh). Every run
# always happens; the summary names each; any failing fails `make test`.
test: lint $(STAMP) system-packages
	@sqlite=0; postgresql=0; faketime=0; \
	echo "=== test suite on SQLite ==="; \
	AIRFLOW_MESH_TEST_DB=sqlite $(PY) -m pytest $(PYTEST_ARGS) || sqlite=$$?; \
	echo "=== test suite on PostgreSQL ==="; \
	AIRFLOW_MESH_TEST_DB=postgresql $(PY) -m pytest $(PYTEST_ARGS) || postgresql=$$?; \
	echo "=== unit suite under faketime ==="; \
	bash scripts/test_faketime.sh || faketime=$$?; \
	echo "make test: SQLite run exit $$sqlite, PostgreSQL run exit $$postgresql, faketime runs exit $$faketime (0 = all passed)"; \
	[ $$sqlite -eq 0 ] && [ $$postgresql -eq 0 ] && [ $$faketime -eq 0 ]

test-sqlite: $(STAMP) system-packages
	AIRFLOW_MESH_TEST_DB=sqlite $(PY) -m pytest $(PYTEST_ARGS)

test-postgresql: $(STAMP) system-packages
	AIRFLOW_MESH_TEST_DB=postgresql $(PY) -m pytest $(PYTEST_ARGS)

test-faketime: $(STAMP) system-packages
	bash scripts/test_faketime.sh

demo: $(STAMP)
	@command -v curl >/dev/null || (apt-get update && apt-get install -y curl)
	exec bash scripts/demo.sh   # demo.sh as make's own child: make's TERM reaches it (and Ctrl-C does)

bench: $(STAMP) system-packages
	$(PY) bench/registry_load.py
	$(PY) bench/sensor_check.py
	$(PY) bench/planner.py
	$(PY) bench/spark_tracking.py 200
	$(PY) bench/backfill_execute.py
	BENCH_DB=postgresql $(PY) bench/backfill_execute.py
	$(PY) bench/backfill_progress.py
	BENCH_DB=postgresql $(PY) bench/backfill_progress.py
	$(PY) bench/policy_overhead.py
	$(MAKE) bench-dagster-reference

# The planner's reference: Dagster's asset-backfill targeting on the planner benchmark's graphs. Dagster lives in
# its own venv (never in the project's: its dependencies would clash with Airflow's), with the pure core's few
# dependencies at the project's pinned versions so the mesh planner is timed there on the same libraries.
DAGSTER_VENV    := .venv-dagster
DAGSTER_VERSION := 1.13.29
$(DAGSTER_VENV)/.installed: constraints.txt
	$(PYTHON) -m venv $(DAGSTER_VENV)
	$(DAGSTER_VENV)/bin/python -m pip install --quiet dagster==$(DAGSTER_VERSION) \
		$$(grep -iE '^(pydantic|pydantic_core|sqlglot|croniter|pyyaml|tzdata)==' constraints.txt)
	touch $@

bench-dagster-reference: $(DAGSTER_VENV)/.installed
	PYTHONPATH=. $(DAGSTER_VENV)/bin/python bench/dagster_reference.py

clean:
	rm -rf $(VENV) $(DAGSTER_VENV) .demo build *.egg-info
