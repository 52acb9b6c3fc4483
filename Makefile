# kubeling: `make up` starts a cluster, `make test` runs every test. Both install what is missing.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
DATA_DIR ?= /var/lib/kubeling
APT_PACKAGES := python3-venv ca-certificates busybox-static nginx-light redis-server redis-tools docker-registry skopeo runc crun containernetworking-plugins iptables nftables conntrack iproute2 util-linux python3-grpcio
STAMP := $(VENV)/.installed
PLUGIN_LINK ?= /usr/local/bin/kubectl-kubeling

.PHONY: up test unit integration deps system-deps plugin bench clean

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
	@command -v kubectl >/dev/null || { echo "kubectl is required on PATH (the tests drive the real kubectl)"; exit 1; }

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

deps: system-deps $(STAMP)

# kubectl runs any `kubectl-<name>` on PATH as `kubectl <name>`: link the venv's entry point there
plugin: $(STAMP)
	@test "$$(readlink $(PLUGIN_LINK) 2>/dev/null)" = "$(abspath $(VENV))/bin/kubectl-kubeling" || \
	  ln -sfn $(abspath $(VENV))/bin/kubectl-kubeling $(PLUGIN_LINK) || \
	  echo "could not link $(PLUGIN_LINK): put $(abspath $(VENV))/bin on PATH for 'kubectl kubeling'"

up: deps plugin
	$(VENV)/bin/kubeling up --data-dir $(DATA_DIR)

test: deps
	$(PY) -m pytest -q -p no:cacheprovider tests

unit: deps
	$(PY) -m pytest -q -p no:cacheprovider tests/unit

integration: deps
	$(PY) -m pytest -q -p no:cacheprovider tests/integration

bench: deps
	$(PY) bench/api.py

clean:
	rm -rf $(VENV) build *.egg-info
