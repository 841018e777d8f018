"""Render the app icon set from src/pushdeck/resources/icons/app/pushdeck.svg.

    python packaging/make_icons.py            # writes next to the SVG
    python packaging/make_icons.py --check    # exit 1 if the committed set is missing sizes

Writes ``pushdeck-{16..1024}.png`` (Qt's QSvgRenderer, antialiased), ``pushdeck.ico``
(Windows: 16-256 px, PNG-compressed entries, supported since Vista) and ``pushdeck.icns``
(macOS: PNG-compressed ``ic*``/``icp*`` chunks, 16-1024 px). Both containers are written
here directly (they are simple formats), so no imaging library is needed; the outputs are
committed, so building the bundle does not need this script.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ICONS = ROOT / "src" / "pushdeck" / "resources" / "icons" / "app"
SVG = ICONS / "pushdeck.svg"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
#: icns chunk type -> pixel size of its PNG (the @2x types reuse the bigger renders).
ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"icp6", 64),
    (b"ic07", 128),
    (b"ic08", 256),
    (b"ic09", 512),
    (b"ic10", 1024),
    (b"ic11", 32),
    (b"ic12", 64),
    (b"ic13", 256),
    (b"ic14", 512),
)


def render_pngs(svg: Path = SVG, sizes: tuple[int, ...] = SIZES) -> dict[int, bytes]:
    """PNG bytes of the SVG at each size."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not a valid SVG")
    out: dict[int, bytes] = {}
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        buffer.close()
        out[size] = bytes(data.data())
    del _app
    return out


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """A .ico holding PNG images (ICONDIR, ICONDIRENTRY per image, then the PNGs)."""
    sizes = [s for s in ICO_SIZES if s in pngs]
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, blobs = b"", b""
    for size in sizes:
        blob = pngs[size]
        side = 0 if size >= 256 else size  # 0 means 256
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(blob), offset)
        blobs += blob
        offset += len(blob)
    return header + entries + blobs


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """An .icns of PNG chunks: 'icns' + total length, then (type, length, data) chunks."""
    chunks = b"".join(
        kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size] for kind, size in ICNS_TYPES
    )
    return b"icns" + struct.pack(">I", 8 + len(chunks)) + chunks


def outputs() -> list[Path]:
    return [
        *(ICONS / f"pushdeck-{size}.png" for size in SIZES),
        ICONS / "pushdeck.ico",
        ICONS / "pushdeck.icns",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the set is complete")
    args = parser.parse_args(argv)
    if args.check:
        missing = [p.name for p in outputs() if not p.is_file()]
        if missing:
            sys.stderr.write(f"missing icons: {', '.join(missing)}; run packaging/make_icons.py\n")
            return 1
        return 0
    pngs = render_pngs()
    for size, blob in pngs.items():
        (ICONS / f"pushdeck-{size}.png").write_bytes(blob)
    (ICONS / "pushdeck.ico").write_bytes(ico_bytes(pngs))
    (ICONS / "pushdeck.icns").write_bytes(icns_bytes(pngs))
    for path in outputs():
        sys.stdout.write(f"{path.relative_to(ROOT)}  {path.stat().st_size:,} bytes\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
