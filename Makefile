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

# + tests and the optional GPL-3 'simulate' extra (bagpipes), whose tests run too
$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e ".[simulate,test]"
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

# The dashboard (app.ipynb) with Voila on the embedded demo catalog and models/default, offline.
# VOILA_OPTIONS = explorer.app.browser.VOILA_OPTIONS: no browser window, loopback only, the
# 'irox' template (Voila's 'lab' without its CDN links; Voila finds it on JUPYTER_PATH), one
# preheated kernel (the notebook already run when the page opens). The browser tests start Voila
# with the same options; tests/test_app_panels.py checks that the two agree.
PORT         ?= 8866
VOILA_OPTIONS := --no-browser --Voila.ip=127.0.0.1 --template=irox --preheat_kernel=True --pool_size=1

run: install
	@echo "IR-Optical Explorer: open http://localhost:$(PORT) in a browser (Ctrl-C stops the server)"
	JUPYTER_PATH=$(CURDIR)/explorer/app/jupyter$${JUPYTER_PATH:+:$$JUPYTER_PATH} \
	  $(BIN)/voila app.ipynb --port=$(PORT) $(VOILA_OPTIONS)

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
