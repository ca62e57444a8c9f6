# hapair: run as root on a fresh Debian 12 or Ubuntu host.
#   make demo   the main job (see README)
#   make test   the whole test suite: lint, types, unit tests, real-tool checks
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
HAPAIR := $(VENV)/bin/hapair
STAMP := $(VENV)/.installed

.PHONY: install demo test test-unit test-tools lint clean

install: $(STAMP)

$(STAMP): pyproject.toml packaging/apt-packages.txt packaging/install.sh
	bash packaging/install.sh
	@touch $(STAMP)

demo: install
	$(HAPAIR) validate examples/m2l.toml
	$(HAPAIR) render examples/m2l.toml --out out/m2l
	@echo; echo "==> node1's keepalived.conf:"; cat out/m2l/node1/etc/keepalived/keepalived.conf
	@echo; echo "==> node1's MariaDB config:"; cat out/m2l/node1/etc/mysql/mariadb.conf.d/60-hapair.cnf
	@echo; echo "Every file of both nodes is under out/m2l/."

lint: install
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/pytest

test-unit: install
	$(VENV)/bin/pytest -m "not tools and not lab"

test-tools: install
	$(VENV)/bin/pytest -m tools

clean:
	rm -rf out build .pytest_cache .mypy_cache .ruff_cache
