# Two commands for a fresh Debian 12 / Raspberry Pi OS machine: `make demo` and `make test`.
# Each installs what it needs: apt packages when run as root (otherwise it prints the apt
# line to run), a virtual environment in .venv, and the Python packages of uv.lock from PyPI.

VENV ?= .venv
PY := $(VENV)/bin/python
# On a Raspberry Pi the venv also sees apt's packages: picamera2 and libcamera's Python bindings
# (python3-picamera2) exist only there. The venv's own packages still come first.
VENV_OPTIONS ?= $(if $(shell grep -qs 'Raspberry Pi' /proc/device-tree/model && echo pi),--system-site-packages)
PIP := $(PY) -m pip --disable-pip-version-check -q
# The Python packages: exactly those of uv.lock (versions and sha256 hashes for Linux x86-64 and
# aarch64, CPython 3.11 to 3.13), installed by uv. uv is pinned, as another version may read or
# write the lock differently; `make lock` updates uv.lock after pyproject.toml has changed.
UV_VERSION := 0.13.9
UV := $(VENV)/bin/uv
UV_STAMP := $(VENV)/.uv-$(UV_VERSION)
# uv installs into the venv made by python3 below and never downloads a Python of its own.
export UV_PYTHON_DOWNLOADS := never
# uv trusts the system's CA store (ca-certificates), as pip and apt do, not only its own bundled
# roots: a site whose HTTPS goes through an inspecting proxy installs all the same.
export UV_SYSTEM_CERTS := 1
# A|B: either package will do. Debian 13 (trixie) renamed some libraries for 64-bit time_t
# (libzbar0 -> libzbar0t64, libglib2.0-0 -> libglib2.0-0t64); the first name the apt lists know is
# installed, and a machine with any of them installed has it.
APT_PACKAGES := mosquitto libzbar0t64|libzbar0 libgl1 libglib2.0-0t64|libglib2.0-0 python3-venv \
	faketime
TEST_APT_PACKAGES := chromium fonts-noto-cjk libatomic1 postgresql
# Shared test data (never copied into the repository); .ci/run sets these too.
KIOSK_TEST_FACES ?= $(abspath $(wildcard ../shared/faces))
KIOSK_TEST_FACES_EAST_ASIAN ?= $(abspath $(wildcard ../shared/faces_east_asian))
export KIOSK_TEST_FACES KIOSK_TEST_FACES_EAST_ASIAN

.PHONY: all test test-fast demo deps docs system-deps test-system-deps lint typecheck schemas \
	check-roles lock lock-upgrade clean

all: test

# apt_install: install the Debian packages in $(1) that are missing (as root), or print the line.
# An entry A|B (A/B to the shell) is present when any of its names is installed; when missing, the
# first name that apt knows (after `apt-get update` as root) is installed.
define apt_install
	@missing=""; \
	for entry in $(subst |,/,$(1)); do \
	  found=""; \
	  for p in $$(echo "$$entry" | tr '/' ' '); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' && found=1; \
	  done; \
	  [ -n "$$found" ] || missing="$$missing $$entry"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	[ "$$(id -u)" = 0 ] && apt-get update -qq; \
	names=""; \
	for entry in $$missing; do \
	  pick=""; \
	  for p in $$(echo "$$entry" | tr '/' ' '); do \
	    if [ -z "$$pick" ] && apt-cache show --no-all-versions $$p >/dev/null 2>&1; then pick=$$p; fi; \
	  done; \
	  names="$$names $${pick:-$${entry%%/*}}"; \
	done; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "installing system packages:$$names"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$names >/dev/null; \
	  for service in mosquitto postgresql; do \
	    if command -v systemctl >/dev/null 2>&1; then systemctl disable --now $$service >/dev/null 2>&1 || true; fi; \
	    service $$service stop >/dev/null 2>&1 || true; \
	  done; \
	else \
	  echo "missing system packages; run:  sudo apt-get install -y$$names"; exit 1; \
	fi
endef

system-deps:
	$(call apt_install,$(APT_PACKAGES))

# The browser tests of the kiosk screen: Debian's Chromium driven by Playwright (whose bundled
# node needs libatomic1), CJK fonts; the central side's tests on a real PostgreSQL server (each
# test run starts throwaway servers of its own: devtools/local_postgres.py).
test-system-deps: system-deps
	$(call apt_install,$(TEST_APT_PACKAGES))

$(UV_STAMP):
	@echo "creating the virtual environment $(VENV) and installing uv $(UV_VERSION) into it ..."
	python3 -m venv $(VENV_OPTIONS) $(VENV)
	$(PIP) install 'uv==$(UV_VERSION)'
	touch $@

# Exactly the locked versions of every extra that `make test` and `make demo` need (kiosk,
# central, demo, dev) and this project, editable. --locked: stop if uv.lock no longer matches
# pyproject.toml (then run `make lock`); --inexact: keep uv itself, installed with pip above.
# dlib: face_recognition declares a dependency on "dlib", which would be compiled from source
# (about 9 minutes and 1.4 GB of RAM); pyproject.toml's [tool.uv] override-dependencies drops
# it, and the prebuilt dlib-bin wheel (x86-64, aarch64) provides the same `dlib` module.
$(VENV)/.installed: pyproject.toml uv.lock $(UV_STAMP)
	@echo "installing Python packages into $(VENV) (about a minute) ..."
	UV_PROJECT_ENVIRONMENT=$(abspath $(VENV)) $(UV) sync --locked --inexact --all-extras
	@echo "installing the face models (YuNet and SFace, sha256 pinned) ..."
	$(VENV)/bin/kiosk models install
	touch $@

# The last line of `make deps` says where the kiosk command is (it is not put on PATH).
deps: system-deps $(VENV)/.installed
	@echo "kiosk is installed in $(VENV): run $(VENV)/bin/kiosk, or 'source $(VENV)/bin/activate' first"

lint: deps
	$(VENV)/bin/ruff check terminal central common devtools cli drivers models tests
	$(VENV)/bin/ruff format --check terminal central common devtools cli drivers models tests
	$(VENV)/bin/lint-imports --no-cache

typecheck: deps
	$(VENV)/bin/mypy

schemas: deps
	$(PY) -m models.schema_export

# The documentation site (mkdocs.yml, docs/) into build/site; --strict: a page missing from the
# nav, a link to a missing page or an anchor no heading makes fails the build (and `make test`).
docs: $(VENV)/.installed
	$(VENV)/bin/mkdocs build --strict --quiet --site-dir build/site

test: deps test-system-deps lint typecheck docs
	# Two workers on a 2-core machine (pytest-xdist); --dist loadfile keeps each file in one
	# worker, so its module fixtures (Chromium, face engines) are built once, in file order.
	KIOSK_TEST_BROWSER=1 $(VENV)/bin/pytest -n auto --dist loadfile

# The unit tests alone: seconds, no broker, browser or photos.
test-fast: deps
	$(VENV)/bin/pytest tests/unit

demo: deps
	$(VENV)/bin/kiosk demo

# uv.lock after pyproject.toml has changed: only what the change needs moves. lock-upgrade:
# every package to its newest release within pyproject.toml's bounds. Either way, read the
# diff of uv.lock, then run `make check-roles test`.
lock: $(UV_STAMP)
	$(UV) lock

lock-upgrade: $(UV_STAMP)
	$(UV) lock --upgrade

# Slow (a minute), and not part of `make test`: for each role a fresh venv in $(ROLES_DIR) with
# only its extra from the lock and the project not editable, as on a real machine (docs/site-admins.md,
# "Installing a kiosk or a central machine"). Fails if a venv holds the other side's packages
# or one of its own commands cannot start.
ROLES_DIR := build/check-roles
KIOSK_FORBIDDEN := matplotlib openpyxl mypy ruff playwright
CENTRAL_FORBIDDEN := opencv-python opencv-python-headless dlib dlib-bin face-recognition
KIOSK_IMPORTS := terminal.daemon cv2 dlib zxingcpp pyzbar.pyzbar aiohttp gpiozero PIL
CENTRAL_COMMANDS := receive report report,shifts alerts roster onboard keys command api
CENTRAL_IMPORTS := central.receiver.service central.reports.export central.hr_api.service matplotlib openpyxl jsonschema psycopg aiohttp
# What `kiosk CMD --help` shows for a command whose module lacks a package (cli/main.py).
MISSING_STUB := is not installed\)|which this install lacks

# check_role: a venv for extra $(1) that holds none of $(2) (normalised names), in which
# `kiosk --help` and `kiosk ARGS --help` for each ARGS in $(3) (commas for spaces) exit 0 and
# show no missing-package stub, and the modules $(4) import.
define check_role
	@set -e; dir=$(abspath $(ROLES_DIR))/$(1); rm -rf "$$dir"; \
	echo "== [$(1)] a fresh venv in $$dir with uv.lock's [$(1)]"; \
	python3 -m venv --without-pip "$$dir"; \
	UV_PROJECT_ENVIRONMENT="$$dir" $(abspath $(UV)) sync --locked --no-editable --extra $(1) --quiet; \
	$(UV) pip list --quiet --python "$$dir/bin/python"; \
	names=$$($(UV) pip list --quiet --python "$$dir/bin/python" --format freeze | sed 's/==.*//' | tr 'A-Z_.' 'a-z--'); \
	bad=""; for p in $(2); do if echo "$$names" | grep -qx "$$p"; then bad="$$bad $$p"; fi; done; \
	if [ -n "$$bad" ]; then echo "FAIL: the [$(1)] venv holds:$$bad"; exit 1; fi; \
	echo "ok: none of $(2)"; \
	for args in "" $(3); do \
	  cmd=$$(echo kiosk $$args --help | tr , ' '); \
	  if ! out=$$(cd "$$dir" && bin/$$cmd 2>&1); then echo "$$out"; echo "FAIL: $$cmd exited non-zero"; exit 1; fi; \
	  if echo "$$out" | grep -Eq '$(MISSING_STUB)'; then \
	    if [ -z "$$args" ]; then echo "   (other side's commands, as expected:)"; echo "$$out" | grep -E '$(MISSING_STUB)'; \
	    else echo "$$out"; echo "FAIL: $$cmd shows a missing-package stub"; exit 1; fi; \
	  fi; \
	  echo "ok: $$cmd"; \
	done; \
	(cd "$$dir" && bin/python -c 'import importlib, sys; list(map(importlib.import_module, sys.argv[1:]))' $(4)); \
	echo "ok: import $(4)"
endef

check-roles: system-deps $(UV_STAMP)
	$(call check_role,kiosk,$(KIOSK_FORBIDDEN),run doctor enroll qr models,$(KIOSK_IMPORTS))
	$(call check_role,central,$(CENTRAL_FORBIDDEN),$(CENTRAL_COMMANDS),$(CENTRAL_IMPORTS))
	@echo "check-roles: both roles install from uv.lock and start their commands"

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache

# Appliance packages (docs/fleet-operators.md, "Installing from a .deb"): kiosk-terminal and kiosk-central, built
# with dpkg-deb from uv.lock for ARCH (amd64|arm64, default: this machine's) and SUITE (bookworm:
# Python 3.11, trixie: 3.13) into build/deb/ (packaging/build-deb.sh; VERSION= and DEBREV= set
# the version, default pyproject.toml's and 1). deb-check (root): builds them, and kiosk-terminal
# once more one Debian revision higher, then installs into a fresh Debian root offline, runs
# `kiosk demo`, upgrades and rolls back (packaging/try-deb.sh). arm64-check: the same for arm64
# under qemu-user-static (slow: an hour or more).
ARCH ?= $(shell dpkg --print-architecture)
SUITE ?= bookworm
DEBREV ?= 1
DEB_VERSION = $(or $(VERSION),$(shell sed -n 's/^version = "\(.*\)"$$/\1/p' pyproject.toml | head -n 1))
DEB_SUFFIX = $(if $(filter trixie,$(SUITE)),deb13,deb12)
DEB_NEXT := $(shell echo $$(( $(DEBREV) + 1 )))
DEB_ENV = ARCH=$(ARCH) SUITE=$(SUITE) VERSION=$(DEB_VERSION) UV=$(abspath $(UV)) HOSTPY=$(abspath $(PY))
DEB_FILE = build/deb/kiosk-terminal_$(DEB_VERSION)-$(1)+$(DEB_SUFFIX)_$(ARCH).deb

.PHONY: deb deb-check arm64-check
deb: $(VENV)/.installed
	$(DEB_ENV) DEBREV=$(DEBREV) packaging/build-deb.sh

deb-check: deb
	$(DEB_ENV) DEBREV=$(DEB_NEXT) PACKAGES=kiosk-terminal packaging/build-deb.sh
	$(DEB_ENV) DEB=$(call DEB_FILE,$(DEBREV)) UPGRADE_DEB=$(call DEB_FILE,$(DEB_NEXT)) \
		packaging/try-deb.sh

arm64-check:
	$(MAKE) deb-check ARCH=arm64
