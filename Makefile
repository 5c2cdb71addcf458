# osa-console: one command to run the demo night, one to run every test.
# Everything installs into .venv; system packages (graphviz, SLURM for its tests) via apt.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DIR ?= osa-demo
# Every package version pinned: a fresh machine installs what was tested, not whatever
# the package registry serves that day. Refreshed on purpose with `make lock`.
CONSTRAINTS := requirements/constraints.txt

.PHONY: install demo test test-fast lint format bench slurm-up slurm-down clean lock

$(STAMP): pyproject.toml setup.py $(CONSTRAINTS)
	@scripts/install-system-deps
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "is ignored" || true
	@$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[analysis,dev]' 2>&1 | grep -v "is ignored" || true
	@$(BIN)/python -c "import osa_core, lstchain, textual" && touch $(STAMP)

install: $(STAMP)

## Pin again, on purpose: every version .venv has now (after e.g. `pip install -U x`)
## goes to $(CONSTRAINTS); review the diff, run `make test`, commit it.
lock: $(STAMP)
	@{ \
	  echo "# Constraints for \`make install\` (pip -c): the exact version of every package it may"; \
	  echo "# install, so a fresh machine gets what was tested. A constraint installs nothing by"; \
	  echo "# itself. Refreshed on purpose only, with \`make lock\` (pip freeze of .venv, minus"; \
	  echo "# this project): review the diff, run \`make test\`, commit."; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -iv '^osa[-_]console\b'; \
	} > $(CONSTRAINTS).tmp
	@mv $(CONSTRAINTS).tmp $(CONSTRAINTS)
	@echo "$(CONSTRAINTS): $$(grep -vc '^#' $(CONSTRAINTS)) packages pinned"

## The main job: the demo night, processed end to end on this machine.
demo: $(STAMP)
	$(BIN)/osa demo --dir $(DEMO_DIR)

## Every test (unit, integration, real lstchain, SLURM when a cluster is up, console).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

## Only the fast unit tests (seconds).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/run.py

slurm-up:
	scripts/slurm-local up

slurm-down:
	scripts/slurm-local down

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .ruff_cache
