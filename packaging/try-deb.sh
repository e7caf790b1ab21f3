#!/bin/bash
# Install kiosk-terminal's .deb into a fresh Debian root, as a new machine would, and use it:
#
#   1. a minimal Debian (debootstrap --variant=minbase) for ARCH and SUITE, built once and cached in
#      ~/.cache/kiosk-deb-root/SUITE-ARCH; arm64 on an x86-64 machine runs under qemu-user-static
#      (installed and registered with binfmt_misc here if missing);
#   2. `apt-get install --download-only ./kiosk-terminal_*.deb`: only Debian's packages come from
#      the network (the .deb needs nothing at install time);
#   3. with the network cut off (`unshare --net`, loopback only): `apt-get install ./the.deb`,
#      `kiosk models check` and `kiosk demo` as an ordinary user;
#   4. an upgrade to a higher version of the same package and a rollback to the first
#      (`--allow-downgrades`), each checking that /var/lib/kiosk survives; kiosk-central of the
#      same version is installed beside it if built; then a purge.
#
# Each step prints its time and exit status. Run as root, from the project's root, after
# `make deb` (twice, the second time with a higher VERSION= or DEBREV=, for step 4):
#   ARCH=arm64 SUITE=bookworm packaging/try-deb.sh
# Environment: ARCH, SUITE (as make deb), DEB (the .deb to install; default: the lowest version of
# build/deb/kiosk-terminal_*+debNN_ARCH.deb), UPGRADE_DEB (default: the highest, if higher),
# DEMO_TIMEOUT (seconds, default 900; 5400 for a foreign ARCH), KEEP=1 (keep the root copy).
# The approach (debootstrap, bind mounts, resolv.conf, CA store) is that of
# ../shared/tools/fresh-debian-root.sh; the apt sources are Debian's own for SUITE.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HOST_ARCH=$(dpkg --print-architecture)
ARCH=${ARCH:-$HOST_ARCH}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
case $SUITE in bookworm) DEBSUFFIX=deb12 ;; trixie) DEBSUFFIX=deb13 ;; *) echo "SUITE: bookworm|trixie"; exit 2 ;; esac
if [ "$ARCH" = "$HOST_ARCH" ]; then DEMO_TIMEOUT=${DEMO_TIMEOUT:-900}; else DEMO_TIMEOUT=${DEMO_TIMEOUT:-5400}; fi
[ "$(id -u)" = 0 ] || { echo "try-deb: run as root (debootstrap, chroot, mounts)"; exit 2; }

# The kiosk-terminal .debs for ARCH and SUITE, lowest version first.
versions=()
for f in "$ROOT"/build/deb/kiosk-terminal_*+"${DEBSUFFIX}"_"$ARCH".deb; do
  [ -e "$f" ] && versions+=("$(dpkg-deb -f "$f" Version) $f")
done
sorted=$(for v in "${versions[@]}"; do echo "$v"; done | sort -t' ' -k1,1 -V)
DEB=${DEB:-$(echo "$sorted" | head -n 1 | cut -d' ' -f2-)}
[ -f "$DEB" ] || { echo "try-deb: no build/deb/kiosk-terminal_*+${DEBSUFFIX}_$ARCH.deb: run make deb ARCH=$ARCH SUITE=$SUITE"; exit 2; }
if [ -z "${UPGRADE_DEB+set}" ]; then
  UPGRADE_DEB=$(echo "$sorted" | tail -n 1 | cut -d' ' -f2-)
  [ "$UPGRADE_DEB" = "$DEB" ] && UPGRADE_DEB=""
fi
OLD_VERSION=$(dpkg-deb -f "$DEB" Version)
CENTRAL_DEB="$ROOT/build/deb/kiosk-central_${OLD_VERSION}_$ARCH.deb"

STATUS=0
SUMMARY=""
# step NAME COMMAND...: run it, print its time and exit status, remember a failure.
step() {
  local name=$1; shift
  local start=$SECONDS
  echo "---- $name"
  "$@"
  local rc=$?
  local line
  line=$(printf '%-58s exit %3d  %5d s' "$name" "$rc" $((SECONDS - start)))
  echo "==== $line"
  SUMMARY+="$line"$'\n'
  [ "$rc" -eq 0 ] || STATUS=1
  return "$rc"
}

# Foreign binaries (arm64 on x86-64) run under qemu-user-static through binfmt_misc.
setup_qemu() {
  local qarch=aarch64
  [ "$ARCH" = arm64 ] || { echo "no emulation set up for $ARCH"; return 1; }
  if ! command -v qemu-"$qarch"-static >/dev/null || ! command -v update-binfmts >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static binfmt-support >/dev/null || return 1
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || return 1
  fi
  if ! grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-"$qarch" 2>/dev/null; then
    update-binfmts --enable qemu-"$qarch" 2>/dev/null || systemctl restart systemd-binfmt 2>/dev/null || true
  fi
  grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-"$qarch" || { echo "qemu-$qarch is not registered with binfmt_misc"; return 1; }
  # F (fix binary): the interpreter is opened now, so the chroot needs no copy of it.
  grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-"$qarch" || echo "warning: qemu-$qarch lacks the F flag"
  cat /proc/sys/fs/binfmt_misc/qemu-"$qarch"
}

BASE="$HOME/.cache/kiosk-deb-root/$SUITE-$ARCH"
make_base() {
  [ -x "$BASE/usr/bin/apt-get" ] && [ -f "$BASE/etc/apt/sources.list" ] && { echo "cached: $BASE"; return 0; }
  command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; } || return 1
  rm -rf "$BASE.tmp"; mkdir -p "$(dirname "$BASE")"
  debootstrap --variant=minbase --arch="$ARCH" "$SUITE" "$BASE.tmp" "$MIRROR" >"$BASE.log" 2>&1 \
    || { tail -n 20 "$BASE.log"; return 1; }
  printf 'deb %s %s main\ndeb %s %s-updates main\ndeb http://deb.debian.org/debian-security %s-security main\n' \
    "$MIRROR" "$SUITE" "$MIRROR" "$SUITE" "$SUITE" > "$BASE.tmp/etc/apt/sources.list"
  rm -rf "$BASE" && mv "$BASE.tmp" "$BASE" && du -sh "$BASE"
}

W=$(mktemp -d /var/tmp/try-deb.XXXXXX)
R="$W/root"
MOUNTED=""
cleanup() {
  local m
  for m in $MOUNTED; do umount "$R/$m" 2>/dev/null || umount -l "$R/$m"; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept: $R"; else rm -rf "$W"; fi
}
trap cleanup EXIT

prepare_root() {
  cp -a "$BASE" "$R" || return 1
  cp /etc/resolv.conf "$R/etc/resolv.conf"
  # Services of installed packages (mosquitto) are not started in the chroot.
  printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d" && chmod 0755 "$R/usr/sbin/policy-rc.d"
  local m
  for m in proc sys dev; do mount --bind "/$m" "$R/$m" && MOUNTED="$m $MOUNTED"; done
  mount --bind /dev/pts "$R/dev/pts" && MOUNTED="dev/pts $MOUNTED"
  mount -t tmpfs tmpfs "$R/dev/shm" && MOUNTED="dev/shm $MOUNTED"
  mkdir -p "$R/tmp/debs"
  cp "$DEB" ${UPGRADE_DEB:+"$UPGRADE_DEB"} "$R/tmp/debs/"
  [ -f "$CENTRAL_DEB" ] && cp "$CENTRAL_DEB" "$R/tmp/debs/"
  chroot "$R" useradd --create-home --shell /bin/bash demo || return 1
  DEMO_UID=$(chroot "$R" id -u demo) && DEMO_GID=$(chroot "$R" id -g demo)
}

ROOT_ENV=(/usr/bin/env -i HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin bash -o pipefail -c)
# in_root CMD: a bash command line in the root, as root, with the network.
in_root() { chroot "$R" "${ROOT_ENV[@]}" "$1"; }
# offline CMD: the same in a new network namespace that has only the loopback interface.
offline() { unshare --net sh -c 'ip link set lo up && exec "$@"' offline chroot "$R" "${ROOT_ENV[@]}" "$1"; }
# offline_user CMD: offline, as the ordinary user demo (HOME=/home/demo).
offline_user() {
  unshare --net sh -c 'ip link set lo up && exec "$@"' offline \
    chroot --userspec="$DEMO_UID:$DEMO_GID" "$R" /usr/bin/env -i HOME=/home/demo LANG=C.UTF-8 \
    USER=demo PATH=/usr/local/bin:/usr/bin:/bin bash -o pipefail -c "cd && $1"
}

deb_in_root() { echo "/tmp/debs/$(basename "$1")"; }
APT_OFFLINE='-o Acquire::Retries=0 -o Acquire::http::Timeout=5'

echo "try-deb: $ARCH $SUITE, $(basename "$DEB") ($(du -h "$DEB" | cut -f1))${UPGRADE_DEB:+, upgrade: $(basename "$UPGRADE_DEB")}"
if [ "$ARCH" != "$HOST_ARCH" ]; then step "qemu-user-static registered for $ARCH" setup_qemu || exit 1; fi
step "debootstrap minbase $SUITE $ARCH (cached)" make_base || exit 1
step "copy the base root, mounts" prepare_root || exit 1
D=$(deb_in_root "$DEB")
step "apt-get update (network)" in_root "apt-get update -qq"
step "apt-get install --download-only ./the.deb (network)" \
  in_root "apt-get install -y -q --download-only $D ${UPGRADE_DEB:+$(deb_in_root "$UPGRADE_DEB")} $([ -f "$CENTRAL_DEB" ] && deb_in_root "$CENTRAL_DEB") | tail -n 3 && du -sh /var/cache/apt/archives"
MIRROR_IP=$(getent ahostsv4 deb.debian.org | awk 'NR == 1 {print $1}')
step "offline: the network is really cut" offline "! timeout 5 bash -c 'exec 3<>/dev/tcp/${MIRROR_IP:-151.101.2.132}/80' 2>/dev/null &&
  echo 'deb.debian.org (${MIRROR_IP:-151.101.2.132}:80) unreachable'"
step "offline: apt-get install ./$(basename "$DEB")" offline "apt-get install -y -q $APT_OFFLINE $D | tail -n 5"
step "offline: installed: kiosk user, /var/lib/kiosk, bytecode, units" offline "
  id kiosk && ls -ld /var/lib/kiosk && stat -c '%U:%G %a' /var/lib/kiosk | grep -qx 'kiosk:kiosk 750' &&
  stat -c '%U:%G %a %s' /etc/kiosk/template.key | grep -qx 'kiosk:kiosk 600 32' && echo 'template key made' &&
  echo \"\$(find /opt/kiosk-terminal/venv -name '*.pyc' | wc -l) .pyc files\" &&
  ls /usr/lib/systemd/system/kiosk*.service /usr/lib/sysusers.d/kiosk.conf &&
  grep '^ExecStart' /usr/lib/systemd/system/kiosk.service && du -sh /opt/kiosk-terminal"
step "offline: kiosk --help, models check, imports" offline_user "
  kiosk --help >/dev/null && kiosk models check &&
  /opt/kiosk-terminal/venv/bin/python3 -c 'import cv2, dlib, zxingcpp, pyzbar.pyzbar, jsonschema, terminal.daemon; print(\"imports ok, OpenCV\", cv2.__version__)'"
step "offline: kiosk demo (as user demo, timeout $DEMO_TIMEOUT s)" offline_user "timeout $DEMO_TIMEOUT kiosk demo --workdir /home/demo/demo 2>&1 | tail -n 40"
in_root "echo 'kept across upgrades' > /var/lib/kiosk/try-deb-marker && mkdir -p /etc/kiosk && echo '# admin config' > /etc/kiosk/kiosk.toml"
if [ -f "$CENTRAL_DEB" ]; then
  step "offline: apt-get install ./$(basename "$CENTRAL_DEB")" offline "apt-get install -y -q $APT_OFFLINE $(deb_in_root "$CENTRAL_DEB") | tail -n 3 &&
    id kiosk-central && kiosk-central receive --help | head -n 1 && kiosk-central report --help | head -n 1 &&
    /opt/kiosk-central/venv/bin/python3 -c 'import matplotlib, openpyxl, jsonschema, psycopg, aiohttp, central.receiver.service'"
fi
KEY_SUM=$(in_root "sha256sum /etc/kiosk/template.key")
SURVIVES="grep -qx 'kept across upgrades' /var/lib/kiosk/try-deb-marker && grep -qx '# admin config' /etc/kiosk/kiosk.toml && test \"\$(sha256sum /etc/kiosk/template.key)\" = '$KEY_SUM' && echo '/var/lib/kiosk, /etc/kiosk and the template key kept'"
if [ -n "$UPGRADE_DEB" ]; then
  NEW_VERSION=$(dpkg-deb -f "$UPGRADE_DEB" Version)
  step "offline: upgrade to $NEW_VERSION" offline "apt-get install -y -q $APT_OFFLINE $(deb_in_root "$UPGRADE_DEB") | tail -n 3 &&
    dpkg-query -W -f '\${Version}\n' kiosk-terminal | grep -qx '$NEW_VERSION' && $SURVIVES && kiosk models check"
  step "offline: rollback to $OLD_VERSION (--allow-downgrades)" offline "apt-get install -y -q --allow-downgrades $APT_OFFLINE $D | tail -n 3 &&
    dpkg-query -W -f '\${Version}\n' kiosk-terminal | grep -qx '$OLD_VERSION' && $SURVIVES && kiosk --help >/dev/null &&
    test -z \"\$(dpkg -V kiosk-terminal)\" && echo 'dpkg -V: no file differs'"
else
  echo "(no higher-version kiosk-terminal .deb for $ARCH $SUITE in build/deb: upgrade and rollback skipped)"
fi
step "offline: purge" offline "apt-get purge -y -q kiosk-terminal | tail -n 2 && test ! -e /var/lib/kiosk && test ! -e /etc/kiosk &&
  test ! -e /opt/kiosk-terminal && test ! -e /usr/bin/kiosk && echo 'purged: /var/lib/kiosk, /etc/kiosk, /opt/kiosk-terminal gone'"

echo
echo "try-deb $ARCH $SUITE: $(basename "$DEB")${UPGRADE_DEB:+ -> $(basename "$UPGRADE_DEB") -> back}"
printf '%s' "$SUMMARY"
echo "try-deb: $([ $STATUS = 0 ] && echo OK || echo FAILED) (total ${SECONDS} s)"
exit $STATUS
