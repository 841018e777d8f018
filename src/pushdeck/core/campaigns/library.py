"""The campaign library: create, find, change, copy and delete stored campaigns.

What may change when lives here (a started campaign is history; a duplicate is the way to
edit it); the rows themselves are ``pushdeck.core.store.campaigns``. Every spec is checked
before it is stored: its app and segment exist and its templates render for anyone.
"""

from __future__ import annotations

import json
from dataclasses import replace

from pushdeck.core.campaigns.schedule_times import first_due_time
from pushdeck.core.campaigns.spec import (
    EDITABLE,
    AudienceKind,
    Campaign,
    CampaignSpec,
    CampaignStatus,
    ScheduleKind,
    ScheduleSpec,
    check_spec,
    format_utc,
    spec_from_dict,
    spec_to_dict,
)
from pushdeck.core.campaigns.templating import require_valid_templates
from pushdeck.core.common.errors import ConfigError, PushdeckError
from pushdeck.core.common.untrusted import MAX_PROVIDER_TEXT, provider_text
from pushdeck.core.store import campaigns as rows
from pushdeck.core.store.apps import get_app
from pushdeck.core.store.segments import get_segment
from pushdeck.core.store.workspace import Row, Workspace, damaged_row


def _row_to_campaign(row: Row) -> Campaign:
    return Campaign(
        id=row["id"],
        spec=_stored_spec(row),
        status=stored_status(row["status"], row["name"], row["id"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        scheduled_at=row["scheduled_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error=row["error"],
    )


def _stored_spec(row: Row) -> CampaignSpec:
    """The spec column, or an error naming the campaign (never a bare JSONDecodeError)."""
    what = f"campaign {row['name']!r}"
    try:
        return spec_from_dict(json.loads(row["spec"]))
    except (ValueError, PushdeckError) as exc:  # not JSON, or JSON that is no campaign
        problem = getattr(exc, "message", None) or str(exc)
        raise damaged_row(
            what, "campaigns", row["id"], f"its spec is not valid ({problem})"
        ) from exc
    except TypeError as exc:  # not text at all (a number or a blob)
        raise damaged_row(what, "campaigns", row["id"], f"its spec is not text ({exc})") from exc


def stored_status(value: object, name: str, row_id: object) -> CampaignStatus:
    """A stored status as the enum, or an error naming the campaign's damaged row."""
    try:
        return CampaignStatus(str(value))
    except ValueError:
        known = ", ".join(s.value for s in CampaignStatus)
        raise damaged_row(
            f"campaign {name!r}",
            "campaigns",
            row_id,
            f"its status {value!r} is not one this Pushdeck knows ({known})",
        ) from None


def _first_due(spec: CampaignSpec) -> str | None:
    due = first_due_time(spec.schedule)
    return format_utc(due) if due else None


def _initial_status(spec: CampaignSpec) -> CampaignStatus:
    """'scheduled' when it has a time, else 'draft'."""
    if spec.schedule.kind is ScheduleKind.NOW:
        return CampaignStatus.DRAFT
    return CampaignStatus.SCHEDULED


def _check_references(ws: Workspace, spec: CampaignSpec) -> None:
    """Its app and segment exist (a clear error otherwise), and every template renders
    for any recipient: refused when saved, not per device at send time."""
    get_app(ws, spec.app)
    if spec.audience.kind is AudienceKind.SEGMENT:
        get_segment(ws, spec.audience.segment)
    require_valid_templates(spec)


def _dump(spec: CampaignSpec) -> str:
    return json.dumps(spec_to_dict(spec), ensure_ascii=False, sort_keys=True)


def create_campaign(ws: Workspace, spec: CampaignSpec) -> Campaign:
    """Store a new campaign: 'scheduled' when it has a time, else 'draft'."""
    _check_references(ws, spec)
    rows.insert_campaign(
        ws,
        name=spec.name,
        app=spec.app,
        status=str(_initial_status(spec)),
        spec_json=_dump(spec),
        scheduled_at=_first_due(spec),
    )
    return get_campaign(ws, spec.name)


def get_campaign(ws: Workspace, name: str) -> Campaign:
    row = rows.row_by_name(ws, name)
    if row is None:
        known = ", ".join(rows.names(ws)[:10]) or "none yet"
        raise ConfigError(
            f"There is no campaign named {name!r} (campaigns: {known}).",
            hint="Create one with 'pushdeck campaigns create --file campaign.json'.",
        )
    return _row_to_campaign(row)


def get_campaign_by_id(ws: Workspace, campaign_id: int) -> Campaign:
    row = rows.row_by_id(ws, campaign_id)
    if row is None:
        raise ConfigError(f"There is no campaign with id {campaign_id}.")
    return _row_to_campaign(row)


def campaign_names(ws: Workspace) -> list[str]:
    """Every campaign's name, newest first."""
    return rows.names(ws)


def list_campaigns(ws: Workspace, *, status: CampaignStatus | None = None) -> list[Campaign]:
    """All campaigns, newest first, optionally only those with ``status``."""
    return [
        _row_to_campaign(r)
        for r in rows.rows(ws, status=str(status) if status is not None else None)
    ]


def update_campaign(ws: Workspace, name: str, spec: CampaignSpec) -> Campaign:
    """Replace the spec of an editable campaign (renaming is allowed)."""
    current = get_campaign(ws, name)
    # A scheduled campaign may already have sent part of its audience (a local-time
    # schedule's earlier zones, or devices held for their quiet hours): it is history too.
    if current.status not in EDITABLE or current.started_at is not None:
        raise ConfigError(
            f"Campaign {name!r} is {current.status}"
            f"{' and has started sending' if current.started_at else ''}; "
            "sent campaigns cannot be changed.",
            hint=f"Duplicate it ('pushdeck campaigns duplicate {name} NEW') and edit the copy.",
        )
    check_spec(spec)
    _check_references(ws, spec)
    rows.update_campaign(
        ws,
        current.id,
        name=spec.name,
        app=spec.app,
        spec_json=_dump(spec),
        scheduled_at=_first_due(spec),
        status=str(_initial_status(spec)),
    )
    return get_campaign(ws, spec.name)


def duplicate_campaign(ws: Workspace, name: str, new_name: str) -> Campaign:
    """An editable copy of any campaign (the way to change a sent one)."""
    source = get_campaign(ws, name)
    spec = replace(source.spec, name=new_name, schedule=ScheduleSpec())
    return create_campaign(ws, spec)


def delete_campaign(ws: Workspace, name: str) -> None:
    """Delete a campaign that never started (a sent one is history and stays)."""
    current = get_campaign(ws, name)
    if current.status not in EDITABLE or current.started_at is not None:
        raise ConfigError(
            f"Campaign {name!r} is {current.status}"
            f"{' and has started sending' if current.started_at else ''}; it cannot be deleted."
        )
    rows.delete_campaign(ws, current.id)


def set_status(
    ws: Workspace,
    name: str,
    status: CampaignStatus,
    *,
    error: str | None = None,
    started: bool = False,
    finished: bool = False,
) -> None:
    """Record a status change (and optionally the start/finish time and error)."""
    if error is not None:
        error = provider_text(error, 4 * MAX_PROVIDER_TEXT)  # may quote a provider
    rows.set_status(ws, name, str(status), error=error, started=started, finished=finished)


def current_status(ws: Workspace, campaign_id: int) -> CampaignStatus:
    """The status as stored now (another process may have paused or cancelled it)."""
    row = rows.status_row(ws, campaign_id)
    if row is None:
        raise ConfigError(f"There is no campaign with id {campaign_id}.")
    return stored_status(row["status"], row["name"], campaign_id)


def segment_usage(ws: Workspace, segment: str) -> list[tuple[str, str]]:
    """(campaign, status) of every campaign whose audience is segment ``segment``."""
    return [
        (c.name, str(c.status))
        for c in list_campaigns(ws)
        if c.spec.audience.kind is AudienceKind.SEGMENT and c.spec.audience.segment == segment
    ]
