# The two commands: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench venv clean

$(STAMP): setup.cfg pyproject.toml constraints.txt
	@$(PYTHON) -c "import ensurepip, venv" 2>/dev/null || (apt-get update && apt-get install -y python3-venv)
	@command -v curl >/dev/null || (apt-get update && apt-get install -y curl)
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)  # browser tests
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

demo: $(STAMP)
	bash scripts/demo.sh

bench: $(STAMP)
	$(PY) bench/registry_load.py
	$(PY) bench/sensor_check.py
	$(PY) bench/planner.py
	$(PY) bench/spark_tracking.py 200
	$(PY) bench/backfill_execute.py

clean:
	rm -rf $(VENV) .demo build *.egg-info
