# The README's commands. `make test` creates .venv on first use.
PY ?= python3
VENV := .venv

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV) || { rm -rf $(VENV); echo "could not create a virtualenv: on Debian/Ubuntu run 'apt-get install python3-venv'" >&2; exit 1; }
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

.PHONY: install test demo bench
install: $(VENV)/.installed

# The gates first (each fast, each must report nothing), then the suite.
test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/pytest -q

demo: $(VENV)/.installed
	$(VENV)/bin/support-console demo

bench: $(VENV)/.installed
	for b in bench/bench_*.py; do $(VENV)/bin/python $$b || exit 1; done
