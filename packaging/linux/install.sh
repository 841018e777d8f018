#!/bin/sh
# Install this unpacked Pushdeck bundle for the current user (no root needed):
# a `pushdeck` command in ~/.local/bin, the menu entry, icons and AppStream metadata.
#   ./install.sh            install (run from wherever you unpacked the tarball)
#   ./install.sh --remove   undo it (leaves the bundle folder and your workspaces alone)
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
bin="${XDG_BIN_HOME:-$HOME/.local/bin}"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
files="applications/io.pushdeck.Pushdeck.desktop metainfo/io.pushdeck.Pushdeck.metainfo.xml"
for size in 16x16 24x24 32x32 48x48 64x64 128x128 256x256 512x512; do
  files="$files icons/hicolor/$size/apps/io.pushdeck.Pushdeck.png"
done
files="$files icons/hicolor/scalable/apps/io.pushdeck.Pushdeck.svg"
if [ "${1:-}" = "--remove" ]; then
  rm -f "$bin/pushdeck"
  for f in $files; do rm -f "$data/$f"; done
  echo "Removed the pushdeck command and menu entry."
  exit 0
fi
mkdir -p "$bin"
ln -sf "$here/pushdeck" "$bin/pushdeck"
for f in $files; do
  mkdir -p "$(dirname "$data/$f")"
  cp "$here/share/$f" "$data/$f"
done
command -v update-desktop-database >/dev/null && update-desktop-database "$data/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q "$data/icons/hicolor" || true
echo "Installed: $bin/pushdeck and the Pushdeck menu entry."
case ":$PATH:" in *":$bin:"*) ;; *) echo "Add $bin to your PATH to run 'pushdeck' from a terminal." ;; esac
