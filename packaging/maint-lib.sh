# --- packaging/maint-lib.sh (spliced in by build-deb.sh) ---
# sysusers FILE: create the users and groups of a sysusers.d file. systemd-sysusers when the
# machine has it; otherwise (a minimal chroot or container) its u/g/m lines with
# groupadd/useradd/usermod.
sysusers() {
  if command -v systemd-sysusers >/dev/null 2>&1; then
    systemd-sysusers "$1"
    return
  fi
  grep -Ev '^[[:space:]]*(#|$)' "$1" | while read -r line; do
    eval "set -- $line"
    case $1 in
      g) getent group "$2" >/dev/null || groupadd --system "$2" ;;
      u)
        if ! getent passwd "$2" >/dev/null; then
          getent group "$2" >/dev/null || groupadd --system "$2"
          useradd --system --gid "$2" --home-dir "${5:-/}" --no-create-home \
            --shell /usr/sbin/nologin --comment "${4:-}" "$2"
        fi ;;
      m)
        getent group "$3" >/dev/null || groupadd --system "$3"
        usermod --append --groups "$3" "$2" ;;
    esac
  done
}

# systemd_running: whether systemd is this machine's init (not in a chroot or a container build).
systemd_running() { [ -d /run/systemd/system ]; }

# py_compile VENV: byte-compile the venv for its Python (the .deb ships sources only: the build
# never runs the target's interpreter); the services cannot write there (ProtectSystem=strict).
py_compile() {
  "$1/bin/python3" -m compileall -q -j 0 "$1/lib" >/dev/null 2>&1 || true
}

# py_clean VENV: remove what py_compile wrote, which dpkg does not know about.
py_clean() {
  if [ -d "$1" ]; then
    find "$1" -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true
  fi
}
# --- end of maint-lib.sh ---
