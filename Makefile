# hapair: run as root on a fresh Debian 12 or Ubuntu host.
#   make demo   the main job (see README)
#   make test   the whole test suite: lint, types, unit tests, real-tool checks
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
HAPAIR := $(VENV)/bin/hapair
STAMP := $(VENV)/.installed

.PHONY: install install-cli demo demo-down render test test-unit test-tools test-lab lint clean

install: $(STAMP)

$(STAMP): pyproject.toml apps/roombook/pyproject.toml packaging/apt-packages.txt packaging/install.sh
	bash packaging/install.sh
	@touch $(STAMP)

# The hapair command alone, for a control host that deploys real servers
# (a laptop, a jump host): no lab, no test tools; `apply` installs the nodes'.
install-cli:
	bash packaging/install.sh --control-only

# The guide's cluster as a lab of real machines on this host (the two nodes
# and a witness), deployed by apply. The example labs share their addresses:
# any other one running is taken down first.
demo: install
	@for s in examples/lab*.toml; do $(HAPAIR) lab down $$s >/dev/null 2>&1 || true; done
	$(HAPAIR) lab up examples/lab.toml
	$(HAPAIR) lab status examples/lab.toml
	@echo "Sign in as demo@roombook.test; the password is ROOMBOOK_DEMO_PASSWORD in"
	@echo "/var/lib/hapair/lab/lab/secrets.toml (root only). Stop the lab with: make demo-down"

demo-down: install
	$(HAPAIR) lab down examples/lab.toml

# The guide's own cluster (bonds, RAID) rendered for real servers.
render: install
	$(HAPAIR) validate examples/m2l.toml
	$(HAPAIR) render examples/m2l.toml --out out/m2l

lint: install
	$(VENV)/bin/ruff check src tests apps bench
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/pytest --durations=25

test-unit: install
	$(VENV)/bin/pytest -m "not tools and not lab"

test-tools: install
	$(VENV)/bin/pytest -m tools

test-lab: install
	$(VENV)/bin/pytest -m lab

clean:
	rm -rf out build .pytest_cache .mypy_cache .ruff_cache
