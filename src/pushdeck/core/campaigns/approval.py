"""Approval before sending, on a shared workspace (issue 18).

A campaign created or changed by an editor needs a sender's approval before it is sent
or queued; a change after the approval withdraws it (the approval holds the md5 of the
app and spec it saw). ``require_approved`` is the one check on every way to send
(dispatch, ``campaigns send``, the scheduler); the database's ``campaigns_send_gate``
trigger refuses the same status change, so psql cannot go around it. On a workspace
file there is one local user with every right: nothing to approve.
"""

from __future__ import annotations

from dataclasses import dataclass

from pushdeck.core.campaigns.library import get_campaign
from pushdeck.core.campaigns.spec import Campaign
from pushdeck.core.common.errors import PermissionDeniedError
from pushdeck.core.store import approval as store
from pushdeck.core.store.workspace import Workspace
from pushdeck.core.team.members import my_role
from pushdeck.core.team.roles import SENDERS


@dataclass(frozen=True)
class Approval:
    needed: bool  # the last change was an editor's
    current: bool  # approved as the campaign is now
    changed_by: str
    approved_by: str  # '' when never approved
    approved_at: str | None

    @property
    def ok(self) -> bool:
        return not self.needed or self.current

    def describe(self) -> str:
        if self.current and self.approved_by:
            return f"Approved by {self.approved_by} at {self.approved_at}."
        if not self.needed:
            return "No approval needed (last changed by a sender)."
        if self.approved_by:
            return (
                f"Changed by {self.changed_by} after {self.approved_by}'s approval: "
                "needs approval again."
            )
        return f"Changed by {self.changed_by}: needs a sender's approval."


def approval_state(ws: Workspace, campaign: Campaign) -> Approval:
    row = store.state(ws, campaign.id)
    if row is None:
        return Approval(False, False, "", "", None)
    return Approval(
        bool(row["needs_approval"]), bool(row["current"]), row["changed_by"],
        row["approved_by"], row["approved_at"],
    )  # fmt: skip


@dataclass(frozen=True)
class TeamView:
    """What the review shows of the team's rules (a workspace file: nothing)."""

    shared: bool
    role: str  # this login's role ('owner' on a workspace file)
    approval: Approval

    @property
    def may_approve(self) -> bool:
        return self.shared and self.role in SENDERS

    @property
    def send_refusal(self) -> str:
        """Why this login may not send the campaign now ('' when it may)."""
        if not self.shared:
            return ""
        if self.role not in SENDERS:
            return PermissionDeniedError(
                "send campaigns", role=self.role, ask="a sender or an admin"
            ).message
        if not self.approval.ok:
            return self.approval.describe()
        return ""


def team_view(ws: Workspace, campaign: Campaign) -> TeamView:
    if ws.dialect.is_sqlite:
        return TeamView(False, "owner", Approval(False, False, "", "", None))
    return TeamView(True, my_role(ws), approval_state(ws, campaign))


def approve_campaign(ws: Workspace, name: str) -> Approval:
    """Approve campaign ``name`` as it is now (senders, admins and the owner)."""
    campaign = get_campaign(ws, name)
    if ws.dialect.is_sqlite:
        return Approval(False, False, "", "", None)
    role = my_role(ws)
    if role not in SENDERS:
        raise PermissionDeniedError("approve campaigns", role=role, ask="a sender or an admin")
    store.approve(ws, campaign.id)
    return approval_state(ws, campaign)


def require_approved(ws: Workspace, campaign: Campaign) -> None:
    """Refuse (PermissionDeniedError) a send or queue this login may not start."""
    if ws.dialect.is_sqlite:
        return
    role = my_role(ws)
    if role not in SENDERS:
        raise PermissionDeniedError("send campaigns", role=role, ask="a sender or an admin")
    state = approval_state(ws, campaign)
    if not state.ok:
        raise PermissionDeniedError(
            "send campaigns",
            role=role,
            custom=f"Campaign {campaign.name!r} needs the approval of a sender before it is "
            f"sent. {state.describe()}",
            hint=f"A sender runs: pushdeck campaigns approve {campaign.name}",
        )
