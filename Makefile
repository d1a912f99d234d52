# Quick start: `make demo` then `make test`. Both create .venv and install tfpipe into it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATA ?= tfrecords
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install demo test lint bench bench-quick clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,beam]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) -m tfpipe.demo --data $(DATA)

test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check tfpipe tests benchmarks examples

bench: install
	$(PY) -m benchmarks --out benchmarks/results

bench-quick: install
	$(PY) -m benchmarks --quick --out benchmarks/results

clean:
	rm -rf $(VENV) $(DATA)/sample $(DATA)/*/ .pytest_cache
