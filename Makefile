# Two commands for a fresh Debian 12 / Raspberry Pi OS machine: `make demo` and `make test`.
# Each installs what it needs: apt packages when run as root (otherwise it prints the apt
# line to run), a virtual environment in .venv, and the Python packages from PyPI.

VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
APT_PACKAGES := mosquitto libzbar0 libgl1 libglib2.0-0 python3-venv faketime
TEST_APT_PACKAGES := chromium fonts-noto-cjk libatomic1
# Shared test data (never copied into the repository); .ci/run sets these too.
KIOSK_TEST_FACES ?= $(abspath $(wildcard ../shared/faces))
KIOSK_TEST_FACES_EAST_ASIAN ?= $(abspath $(wildcard ../shared/faces_east_asian))
export KIOSK_TEST_FACES KIOSK_TEST_FACES_EAST_ASIAN

.PHONY: all test demo deps system-deps test-system-deps lint typecheck schemas clean

all: test

# apt_install: install the Debian packages in $(1) that are missing (as root), or print the line.
define apt_install
	@missing=""; \
	for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "installing system packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now mosquitto >/dev/null 2>&1 || true; fi; \
	else \
	  echo "missing system packages; run:  sudo apt-get install -y$$missing"; exit 1; \
	fi
endef

system-deps:
	$(call apt_install,$(APT_PACKAGES))

# The browser tests of the kiosk screen: Debian's Chromium driven by Playwright (whose bundled
# node needs libatomic1), CJK fonts.
test-system-deps: system-deps
	$(call apt_install,$(TEST_APT_PACKAGES))

# dlib: face_recognition declares a dependency on "dlib", which pip compiles from source
# (about 9 minutes and 1.4 GB of RAM). We install the prebuilt dlib-bin wheel instead
# (x86-64, aarch64) and face_recognition itself with --no-deps; see README.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e '.[dev,demo]'
	$(PY) -c "import dlib" 2>/dev/null || $(PIP) install dlib
	$(PIP) install --no-deps 'face_recognition==1.3.0'
	$(VENV)/bin/kiosk models install
	touch $@

deps: system-deps $(VENV)/.installed

lint: deps
	$(VENV)/bin/ruff check terminal central common devtools cli drivers models tests
	$(VENV)/bin/ruff format --check terminal central common devtools cli drivers models tests

typecheck: deps
	$(VENV)/bin/mypy

schemas: deps
	$(PY) -m models.schema_export

test: deps test-system-deps lint typecheck
	KIOSK_TEST_BROWSER=1 $(VENV)/bin/pytest

demo: deps
	$(VENV)/bin/kiosk demo

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
