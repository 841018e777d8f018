"""The PDF report is set in its bundled font, whatever the machine has installed.

``pushdeck report`` runs in a subprocess whose fontconfig sees no font directory at all, so
the only fonts Qt can use are the ones Pushdeck bundles and registers itself. The PDF must
embed only the bundled report face (Noto Sans), never a substitute.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pushdeck.core.demo.campaign import DEMO_CAMPAIGN
from pushdeck.core.demo.workspace import create_demo

pytestmark = pytest.mark.skipif(
    not os.environ.get("CI") and shutil.which("pdffonts") is None,
    reason="poppler-utils not installed",
)

FONTS_CONF = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <dir>{fonts}</dir>
  <cachedir>{cache}</cachedir>
</fontconfig>
"""


def _isolated_fontconfig(tmp_path: Path) -> dict[str, str]:
    """An environment whose fontconfig knows one empty folder: no system font is visible."""
    fonts, cache = tmp_path / "no-fonts", tmp_path / "fc-cache"
    fonts.mkdir()
    cache.mkdir()
    conf = tmp_path / "fonts.conf"
    conf.write_text(FONTS_CONF.format(fonts=fonts, cache=cache))
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(
        FONTCONFIG_FILE=str(conf), FONTCONFIG_PATH=str(tmp_path), QT_QPA_PLATFORM="offscreen"
    )
    return env


def test_pdf_uses_only_the_bundled_report_font(tmp_path: Path) -> None:
    demo = create_demo(tmp_path / "demo.pushdeck", devices=300)
    env = _isolated_fontconfig(tmp_path)
    listed = subprocess.run(
        ["fc-list"], capture_output=True, text=True, env=env, check=False, timeout=60
    )
    assert listed.stdout.strip() == "", "the isolated fontconfig still sees system fonts"
    out = tmp_path / "report.pdf"
    result = subprocess.run(
        [sys.executable, "-m", "pushdeck", "report", DEMO_CAMPAIGN, "--format", "pdf", "-o",
         str(out), "--workspace", str(demo)],
        capture_output=True, text=True, env=env, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    fonts = subprocess.run(
        ["pdffonts", str(out)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    # pdffonts: two header lines, then one line per font; the name is "ABCDEF+Family-Style".
    names = {re.sub(r"^[A-Z]{6}\+", "", line.split()[0]) for line in fonts.splitlines()[2:]}
    assert names, fonts
    assert all(name.startswith("NotoSans-") for name in names), fonts
    assert "NotoSans-Regular" in names and "NotoSans-Bold" in names, fonts
    text = subprocess.run(
        ["pdftotext", str(out), "-"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert DEMO_CAMPAIGN in text and "Funnel" in text
