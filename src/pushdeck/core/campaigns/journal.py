"""The send journal: one durable row per (campaign, device), written in batches.

States::

    queued ──► in_flight ──► accepted | rejected | skipped | dead
      │ ▲
      ▼ │ (released when the device's quiet hours end)
    held
    (excluded and control are final from the start, excluded also by a frequency cap
    or quiet hours at send time; cancelled ends queued and held rows)

A row is committed as ``in_flight`` *before* its send starts and gets its outcome
afterwards, so after a crash every row still ``in_flight`` is exactly a send whose
outcome is unknown: it is re-queued and its ``possibly_duplicated`` counter raised.

A transient failure (provider unavailable, throttling, no connection) never makes a
row final: it goes back to ``queued`` with the failure as its ``reason``, and a later
``send`` (or Resume) sends it. Only a request that was written and not answered raises
``possibly_duplicated``; one that never reached the provider does not.

The rows themselves are read and written by ``pushdeck.core.store.journal``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pushdeck.core.common.untrusted import provider_text
from pushdeck.core.store import journal as rows
from pushdeck.core.store.workspace import Workspace


class JournalState(StrEnum):
    QUEUED = "queued"
    IN_FLIGHT = "in_flight"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    SKIPPED = "skipped"  # never sent: e.g. over the payload budget, template failed
    DEAD = "dead"  # the provider said the token is dead
    EXCLUDED = "excluded"  # targeted but cannot receive (reason says why)
    CONTROL = "control"  # hold-out group: deliberately not sent
    CANCELLED = "cancelled"  # the campaign was cancelled before it was sent
    HELD = "held"  # waits for the device's quiet hours to end (release_at)


#: States that say a send happened (the provider answered).
SENT_STATES = (JournalState.ACCEPTED, JournalState.REJECTED, JournalState.DEAD)
#: States a device never leaves.
FINAL_STATES = frozenset(
    {
        JournalState.ACCEPTED,
        JournalState.REJECTED,
        JournalState.SKIPPED,
        JournalState.DEAD,
        JournalState.EXCLUDED,
        JournalState.CONTROL,
        JournalState.CANCELLED,
    }
)


@dataclass(frozen=True)
class Outcome:
    """The final word on one device, as the dispatcher buffers it."""

    device_id: int
    state: JournalState
    attempts: int
    provider_id: str = ""
    http_status: int | None = None
    reason: str = ""
    # dead-token hygiene: mark the device unregistered with this reason and time
    unregister_reason: str = ""
    unregister_at: str = ""
    # sends whose outcome was unknown (transport error) before a retry: maybe duplicates
    unknown_sends: int = 0


def requeue_unfinished(ws: Workspace, campaign_id: int, outcomes: Sequence[Outcome]) -> None:
    """Put rows back in the queue after sends that did not finish them (a transient
    failure, or a stop before the send), keeping what was learned: attempts so far, the
    last failure's reason and status, and whether an earlier send may have arrived."""
    rows.requeue_in_flight(
        ws,
        campaign_id,
        [
            rows.Requeued(o.device_id, o.attempts, o.reason, o.http_status, o.unknown_sends)
            for o in outcomes
        ],
    )


def write_outcomes(ws: Workspace, campaign_id: int, outcomes: Sequence[Outcome]) -> None:
    """Record a batch of outcomes (and unregister dead devices) in one transaction.

    Reasons and ids quote the provider's answer, which is untrusted: they are stored as
    one line of capped plain text (``untrusted.provider_text``).
    """
    finished = [
        rows.Finished(
            o.device_id,
            o.state.value,
            o.attempts,
            provider_text(o.provider_id) if o.provider_id else "",
            o.http_status,
            provider_text(o.reason) if o.reason else "",
            o.unknown_sends,
        )
        for o in outcomes
    ]
    dead = [
        rows.Unregistered(o.device_id, provider_text(o.unregister_reason), o.unregister_at)
        for o in outcomes
        if o.unregister_reason
    ]
    rows.record_finished(ws, campaign_id, finished, dead)
