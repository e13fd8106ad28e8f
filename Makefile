# Fresh machine: `make run` (install, then serve the dashboard at http://localhost:8866) and
# `make test` (which never runs `make run`: that one blocks until Ctrl-C).
# torch==2.13.0 (CPU build) is installed FIRST: an unpinned torch pulled in by a dependency
# (spender, captum) would otherwise download several GB of CUDA packages.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run app info test install install-dev browser-deps lint bench clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.torch: | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	touch $@

# the app and the models (BSD-compatible dependencies only)
$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(BIN)/pip install -q -e .
	touch $@

# + tests, the optional GPL-3 'simulate' extra (bagpipes) and the 'survey' extra (Dask, LSDB),
# whose tests run too
$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e ".[simulate,survey,test]"
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

# The dashboard (app.ipynb) with Voila on the embedded demo catalog and models/default, offline:
# `python -m explorer serve` (explorer/cli.py) starts Voila with explorer.app.browser.VOILA_OPTIONS
# (no browser window, loopback only, the 'irox' template, one preheated kernel), the options the
# browser tests use, and explorer.app.browser.voila_env (the template's folder on JUPYTER_PATH).
# `make run PORT=9000` serves on another port; `python -m explorer serve --help` lists the rest.
PORT ?= 8866

# `make run CATALOG=my.h5 MODELS=name` opens another catalog / model directory (default: the demo
# catalog and models/default)
CATALOG ?=
MODELS  ?=
run: install
	$(BIN)/python -m explorer serve --port=$(PORT) $(if $(CATALOG),--catalog=$(CATALOG)) $(if $(MODELS),--models=$(MODELS))

app: run

# summary of the embedded demo catalog (what `make run` printed before it served the dashboard)
info: install
	$(BIN)/python -m explorer info data/demo_catalog.h5

# Browser tests drive Debian's Chromium (playwright cannot download browsers offline).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "browser tests need Debian's chromium: sudo apt-get install chromium chromium-driver"; fi; }

test: install-dev browser-deps
	$(BIN)/python -m pytest -q

lint: install-dev
	$(BIN)/ruff check explorer tests benchmarks
	$(BIN)/ruff format --check explorer tests benchmarks

bench: install-dev
	$(BIN)/python benchmarks/run.py --json

clean-venv:
	rm -rf $(VENV)
