# Everything runs inside .venv, made on first use: a fresh machine needs only
# Python (with venv) and a C compiler.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
KERNELS_BUILT := $(VENV)/.kernels-built
KERNEL_SOURCES := $(wildcard swingsync_fast/kernels/*.pyx swingsync_fast/kernels/*.pxd)
# The web app's pose assets (MediaPipe Pose from npm, locked by web/package-lock.json):
# installed when npm is here; without it /app/ loads and says they are missing.
ifneq ($(shell command -v npm 2>/dev/null),)
WEB_ASSETS := web/node_modules/.package-lock.json
else
WEB_ASSETS := web-assets-missing
endif
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench build clean token web-assets-missing

run: build $(WEB_ASSETS)
	$(BIN)/python -m swingsync_fast serve --host $(HOST) --port $(PORT)

test: build $(WEB_ASSETS)
	$(BIN)/python -m pytest -q tests

# A token for the web app or a client: make token USER=alice ROLE=coach (USER defaults to your login)
ROLE ?= player
token: build
	$(if $(USER),,$(error say whose token: make token USER=alice [ROLE=player|coach|admin]))
	@$(BIN)/python -m swingsync_fast token "$(USER)" --role "$(ROLE)"

bench: build
	$(BIN)/python -m pytest -q bench --benchmark-only --benchmark-columns=min,median,mean,max,rounds

build: $(KERNELS_BUILT)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): $(BIN)/python pyproject.toml setup.py
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,video]'
	touch $@

$(KERNELS_BUILT): $(INSTALLED) $(KERNEL_SOURCES)
	$(BIN)/python setup.py --quiet build_ext --inplace
	touch $@

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund

web-assets-missing:
	@echo "npm not found: the web app at /app/ will say its pose assets are missing (install Node.js to get them)"

clean:
	rm -rf build $(VENV) swingsync_fast/kernels/*.c swingsync_fast/kernels/*.so
