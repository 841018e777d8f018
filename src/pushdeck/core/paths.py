"""Where Pushdeck keeps its files by default (platform conventions via platformdirs)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "Pushdeck"
WORKSPACE_ENV = "PUSHDECK_WORKSPACE"


def data_dir() -> Path:
    """The per-user data directory, e.g. ~/.local/share/Pushdeck on Linux."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    """The per-user config directory (recent workspaces, preferences)."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def default_workspace_path() -> Path:
    """``$PUSHDECK_WORKSPACE`` when set, else ``<data dir>/workspace.pushdeck``."""
    env = os.environ.get(WORKSPACE_ENV)
    if env:
        return Path(env).expanduser()
    return data_dir() / "workspace.pushdeck"


def demo_workspace_path() -> Path:
    """Where the ready-made demo workspace lives."""
    return data_dir() / "demo.pushdeck"
