"""Typed app settings saved as JSON in the platform config directory (never pickled).

QSettings holds only window geometry and state (see ``main_window``).
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
        return cls(
            recent[:MAX_RECENT],
            str(doc.get("last_workspace", "")),
            appearance if appearance in ("system", "light", "dark") else "system",
            path,
            str(doc.get("last_page", "Campaigns")),
        )

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        doc = {k: v for k, v in asdict(self).items() if k != "path"}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=2), encoding="utf-8")
        tmp.replace(self.path)

    def remember(self, workspace: Path) -> None:
        text = str(workspace)
        self.recent_workspaces = [text, *[p for p in self.recent_workspaces if p != text]][
            :MAX_RECENT
        ]
        self.last_workspace = text
        self.save()
