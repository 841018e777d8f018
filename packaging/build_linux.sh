#!/usr/bin/env bash
# Build the Linux app bundle from this checkout and prove it works:
#   clean venv -> pip install . pyinstaller -> PyInstaller (one folder) -> tarball in dist/
#   -> unpack the tarball elsewhere -> `pushdeck --self-test` on it (offscreen Qt)
#   -> its CLI against a local fake APNs trusted only through the system store.
# Exits non-zero on any failure. Needs the system libraries scripts/setup installs.
#
#   packaging/build_linux.sh            # build, tar, self-test
#   SKIP_SELF_TEST=1 packaging/build_linux.sh
#   SKIP_TRUST_TEST=1 packaging/build_linux.sh   # skip only the system-trust-store test
#   REUSE_VENV=1 packaging/build_linux.sh   # while iterating: keep build/venv's dependencies
#
# Environment: PYTHON (default python3, 3.11+), PUSHDECK_BUILD_VENV (default build/venv).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${PUSHDECK_BUILD_VENV:-build/venv}"
PYINSTALLER_VERSION="6.22.3"
started=$SECONDS

quiet_pip() {  # pip, without the harmless notes about this machine's extra local indexes
  "$VENV/bin/python" -m pip "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

echo "== clean build environment ($VENV)"
rm -rf build/pyinstaller dist/pushdeck
if [ "${REUSE_VENV:-0}" = "1" ] && [ -x "$VENV/bin/pyinstaller" ]; then
  quiet_pip install -q --no-deps --force-reinstall .  # development shortcut: same deps
else
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  quiet_pip install -q --upgrade pip
  quiet_pip install -q . "pyinstaller==$PYINSTALLER_VERSION"
fi
VERSION="$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("pushdeck"))')"
ARCH="$(uname -m)"
echo "   pushdeck $VERSION, $("$VENV/bin/pyinstaller" --version | sed 's/^/pyinstaller /'), $("$VENV/bin/python" --version)"

echo "== icons"
"$VENV/bin/python" packaging/make_icons.py --check

echo "== PyInstaller (one folder)"
"$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller packaging/pushdeck.spec

echo "== desktop integration files"
bundle="dist/pushdeck"
install -Dm644 packaging/linux/io.pushdeck.Pushdeck.desktop \
  "$bundle/share/applications/io.pushdeck.Pushdeck.desktop"
install -Dm644 packaging/linux/io.pushdeck.Pushdeck.metainfo.xml \
  "$bundle/share/metainfo/io.pushdeck.Pushdeck.metainfo.xml"
for size in 16 24 32 48 64 128 256 512; do
  install -Dm644 "src/pushdeck/resources/icons/app/pushdeck-$size.png" \
    "$bundle/share/icons/hicolor/${size}x${size}/apps/io.pushdeck.Pushdeck.png"
done
install -Dm644 src/pushdeck/resources/icons/app/pushdeck.svg \
  "$bundle/share/icons/hicolor/scalable/apps/io.pushdeck.Pushdeck.svg"
install -Dm755 packaging/linux/install.sh "$bundle/install.sh"
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate packaging/linux/io.pushdeck.Pushdeck.desktop
  echo "   desktop-file-validate: ok"
else
  echo "   desktop-file-validate: not installed, skipped"
fi
if command -v appstreamcli >/dev/null; then
  appstreamcli validate --no-net --explain packaging/linux/io.pushdeck.Pushdeck.metainfo.xml
else
  echo "   appstreamcli: not installed, skipped"
fi

echo "== tarball"
tarball="dist/pushdeck-$VERSION-linux-$ARCH.tar.gz"
rm -f "$tarball"
tar -C dist -czf "$tarball" pushdeck
echo "   $tarball: $(du -m "$tarball" | cut -f1) MiB compressed, folder $(du -sm "$bundle" | cut -f1) MiB on disk"

if [ "${SKIP_SELF_TEST:-0}" != "1" ]; then
  unpacked="$(mktemp -d)"
  trap 'rm -rf "$unpacked"' EXIT
  tar -C "$unpacked" -xzf "$tarball"
  exe="$unpacked/pushdeck/pushdeck"
  # A clean environment: no venv on PATH, no PYTHONPATH, a fresh HOME, no keyring.
  clean() { env -i PATH=/usr/bin:/bin HOME="$unpacked/home" LANG=C.UTF-8 "$@"; }
  echo "== self-test of the unpacked tarball (offscreen Qt, no keyring, empty HOME)"
  clean "$exe" --version
  clean QT_QPA_PLATFORM=offscreen "$exe" --self-test
  if command -v xvfb-run >/dev/null; then
    echo "== self-test on a real X11 server (xvfb, Qt's xcb platform)"
    clean xvfb-run -a env QT_QPA_PLATFORM=xcb "$exe" --self-test
  else
    echo "   xvfb-run not installed: X11 self-test skipped"
  fi
  if [ "${SKIP_TRUST_TEST:-0}" != "1" ]; then
    # The frozen `pushdeck push` / `credentials check` against a local fake APNs whose CA
    # is only in the system store (tests/e2e/test_packaging.py -k trust_store; docs/packaging.md).
    echo "== trust store: the bundle verifies servers with the system's CAs"
    test_python="${PUSHDECK_TEST_PYTHON:-.venv/bin/python}"
    if [ ! -x "$test_python" ]; then
      echo "   $test_python not found: run scripts/setup first (or SKIP_TRUST_TEST=1)" >&2
      exit 1
    fi
    # A private D-Bus session with an unlocked gnome-keyring: the CLI keeps the APNs key there.
    PUSHDECK_BUNDLE_EXE="$exe" CI=1 dbus-run-session -- bash -c '
      set -euo pipefail
      export HOME="$(mktemp -d)" XDG_RUNTIME_DIR="$(mktemp -d)"
      chmod 700 "$XDG_RUNTIME_DIR"
      eval "$(echo -n pw | gnome-keyring-daemon --unlock --components=secrets)" >/dev/null
      exec "$0" -m pytest -q -rs -p no:cacheprovider tests/e2e/test_packaging.py -k trust_store
    ' "$test_python" 2> >(grep -v "Failed to set fd limit" >&2)
  fi
fi
echo "== done in $((SECONDS - started)) s: $tarball"
