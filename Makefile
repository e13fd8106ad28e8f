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

# ---------------------------------------------------------------------------------------------
# Moving the demo and the models to simulation v2 (docs/simulation_v2.md), about four hours on
# 2 cores. Every step writes its output under runs/ (git-ignored), so `make retrain-v2` resumes
# where it stopped; `make swap-v2` then copies the results over data/ and models/default.
# The numbers in README, data/README.md and the model card are regenerated from these outputs.
V2     := runs/models_v2
V2_SIM := runs/sim50k_v2.h5
PY     := $(BIN)/python -m explorer

$(V2_SIM):
	$(PY) simulate --n 50000 --seed 2025 --out $@ --report runs/sim50k_v2_report --quiet
runs/demo_v2.h5: $(V2_SIM)
	$(PY) make-demo $< --n 2000 --seed 0 --out $@
$(V2)/encoder.pt: $(V2_SIM)
	$(PY) train-encoder $< --name $(V2) --max-minutes 55 --threads 2 --quiet
$(V2)/predictor.pt: $(V2)/encoder.pt
	$(PY) train-predictor $(V2_SIM) --name $(V2) --quiet
$(V2)/paper_mlp_recipe.pt: $(V2)/predictor.pt
	$(BIN)/python -m explorer.ml.paper_recipe $(V2_SIM) --name $(V2) --max-minutes 40.0 --threads 1 --skip-ablation
$(V2)/paper_inputs_ensemble.pt: $(V2)/predictor.pt
	$(BIN)/python -m explorer.ml.paper_recipe $(V2_SIM) --name $(V2) --threads 1 --skip-recipe
$(V2)/midir.pt: $(V2)/predictor.pt
	$(PY) train-midir $(V2_SIM) --name $(V2) --json > runs/midir_v2.json
runs/ceiling_v2.json: $(V2_SIM)
	$(PY) ceiling $< --minutes 35 --json > $@.tmp && mv $@.tmp $@
$(V2)/evaluation.json: $(V2)/paper_mlp_recipe.pt $(V2)/paper_inputs_ensemble.pt $(V2)/midir.pt runs/ceiling_v2.json
	$(PY) evaluate $(V2_SIM) --models $(V2) --ceiling runs/ceiling_v2.json --write --readme README.md --figures docs/evaluation --json > runs/evaluate_v2.json
runs/ladder_v2.json: runs/ceiling_v2.json
	$(PY) ladder $(V2_SIM) --rungs truth_visible,truth_measured --spectrum-json runs/ceiling_v2.json --markdown docs/simulation_v2.md --json > $@.tmp && mv $@.tmp $@
runs/sedfit_demo_v2.h5: runs/demo_v2.h5
	$(PY) sedfit $< --sample 120 --split test --out runs/sedfit_demo_v2 --table $@

retrain-v2: runs/demo_v2.h5 $(V2)/evaluation.json runs/ladder_v2.json runs/sedfit_demo_v2.h5

# the swap, then every table that quotes the shipped demo and models, each by its command
swap-v2: retrain-v2
	cp runs/demo_v2.h5 data/demo_catalog.h5
	cp runs/sedfit_demo_v2.h5 data/sedfit_demo.h5
	cp runs/ceiling_v2.json docs/evaluation/ceiling.json
	rm -f models/default/*
	cp $(V2)/*.pt $(V2)/*.json $(V2)/MODEL_CARD.md models/default/
	$(PY) validate-sim data/demo_catalog.h5 --write data/README.md
	$(PY) train-midir $(V2_SIM) --name default --evaluate-only --readme README.md --quiet
	$(PY) sedfit-compare data/demo_catalog.h5 --table data/sedfit_demo.h5 --models default --time-fits 1 --write-card --readme README.md
	$(PY) attribute --sample 100 --target W1,W2,W3,W4,qpah,lbol_agn --seed 0 --markdown docs/attribution_rankings.md --readme README.md --json > runs/attribution_v2.json
	cp exports/attribution/ranking_W3.png docs/attribution_ranking_W3.png

.PHONY: retrain-v2 swap-v2
