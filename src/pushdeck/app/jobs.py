"""Workspace jobs: plain functions the TaskRunner runs on its worker thread.

They take the worker context and return plain data (core dataclasses) for the GUI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pushdeck.app.composer.draft import DRAFT_NAME
from pushdeck.app.tasks import WorkerContext
from pushdeck.core.common.model import App, Device

PREVIEW_RECIPIENTS = 40


@dataclass(frozen=True)
class Overview:
    """What the window shows right after a workspace opens."""

    location: str  # the file, or the shared workspace's URI without its password
    device_count: int
    recipients: list[Device] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)
    campaigns: list[tuple[str, str, str, str]] = field(
        default_factory=list
    )  # name, status, app, created
    draft: dict[str, Any] | None = None
    apps: list[App] = field(default_factory=list)  # whether each has a service extension


def load_overview(ctx: WorkerContext) -> Overview:
    from pushdeck.core.store import apps, devices, drafts

    ws = ctx.require_ws()
    recipients = devices.list_devices(ws, limit=PREVIEW_RECIPIENTS)
    attributes = sorted({name for device in recipients for name in device.attributes})
    return Overview(
        location=ws.location,
        device_count=devices.count_devices(ws),
        recipients=recipients,
        attributes=attributes,
        campaigns=_campaign_rows(ctx),
        draft=drafts.load_draft(ws, DRAFT_NAME),
        apps=apps.list_apps(ws),
    )


def list_apps(ctx: WorkerContext) -> list[App]:
    from pushdeck.core.store import apps

    return apps.list_apps(ctx.require_ws())


def count_devices(ctx: WorkerContext) -> int:
    """How many devices the open workspace has (the status bar)."""
    from pushdeck.core.store import devices

    return devices.count_devices(ctx.require_ws())


def _campaign_rows(ctx: WorkerContext) -> list[tuple[str, str, str, str]]:
    try:
        from pushdeck.core.campaigns.library import list_campaigns
    except ImportError:  # the campaign engine is optional for this page
        return []
    return [
        (c.name, str(c.status.value), c.spec.app, c.created_at)
        for c in list_campaigns(ctx.require_ws())
    ]


def save_draft(document: dict[str, Any]) -> Any:
    def job(ctx: WorkerContext) -> None:
        from pushdeck.core.store import drafts

        drafts.save_draft(ctx.require_ws(), DRAFT_NAME, document)

    return job


def create_demo(path: Path) -> Any:
    """Create the demo workspace at ``path`` unless it exists; return the path."""

    def job(_ctx: WorkerContext) -> Path:
        from pushdeck.core.demo.workspace import create_demo as make

        if not path.exists():
            make(path)
        return path

    return job
