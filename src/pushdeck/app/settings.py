"""Typed app settings saved as JSON in the platform config directory (never pickled).

QSettings holds only window geometry and state (see ``main_window``). A shared workspace is
remembered by its URI without the password, with the keyring reference its password is
kept under (``shared_keyring``); the password itself never comes here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

MAX_RECENT = 8


@dataclass
class AppSettings:
    recent_workspaces: list[str] = field(default_factory=list)
    last_workspace: str = ""
    preview_appearance: str = "system"  # "system" | "light" | "dark"
    path: Path | None = field(default=None, repr=False, compare=False)
    last_page: str = "Campaigns"  # the page the window opens a workspace on
    #: Shared workspace URI (no password) -> the keyring reference of its password.
    shared_keyring: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> AppSettings:
        """Read settings; a missing or unreadable file gives defaults (never a crash)."""
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls(path=path)
        if not isinstance(doc, dict):
            return cls(path=path)
        recent = [str(p) for p in doc.get("recent_workspaces", []) if isinstance(p, str)]
        appearance = doc.get("preview_appearance", "system")
        shared = doc.get("shared_keyring", {})
        return cls(
            recent[:MAX_RECENT],
            str(doc.get("last_workspace", "")),
            appearance if appearance in ("system", "light", "dark") else "system",
            path,
            str(doc.get("last_page", "Campaigns")),
            {str(k): str(v) for k, v in shared.items()} if isinstance(shared, dict) else {},
        )

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        doc = {k: v for k, v in asdict(self).items() if k != "path"}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=2), encoding="utf-8")
        tmp.replace(self.path)

    def remember(self, workspace: Path | str, keyring_reference: str = "") -> None:
        """Put ``workspace`` (a path, or a shared workspace's URI *without* its password)
        first in the recent list; ``keyring_reference`` where its password is kept."""
        text = str(workspace)
        self.recent_workspaces = [text, *[p for p in self.recent_workspaces if p != text]][
            :MAX_RECENT
        ]
        self.last_workspace = text
        if keyring_reference:
            self.shared_keyring[text] = keyring_reference
        self.shared_keyring = {
            k: v for k, v in self.shared_keyring.items() if k in self.recent_workspaces
        }
        self.save()
