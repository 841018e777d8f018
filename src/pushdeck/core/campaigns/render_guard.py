"""A send that cannot render its message stops, and sending nothing is never success.

A template failing for one recipient (a filter given text where it needs a number, a
render limit) skips that recipient. Failing for *most* recipients means the campaign
is wrong, not the devices: the dispatcher asks ``RenderGuard`` after every render and
stops with its reason instead of skipping the whole audience and reporting "sent".

"Most" is judged in two steps. Once at least ``MIN_FAILURES`` renders failed and they
outnumber the successes of this run, a random sample of the devices still queued is
rendered (nothing is sent): recipients are sent in device-id order, so the first ones
may all be old imports missing an attribute while the rest are fine. Only when most of
the sample fails too does the send stop; otherwise the next check waits until the
failures double. A broken template stops after a handful of skips, not a million, and
a cluster of odd devices never stops a good campaign.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from pushdeck.core.common.model import Device
from pushdeck.core.store.workspace import Workspace

if TYPE_CHECKING:
    from pushdeck.core.campaigns.spec import Campaign

#: Render failures needed before a send may stop (then failures must outnumber successes).
MIN_FAILURES = 20
#: Queued devices rendered to confirm that most of the audience fails.
SAMPLE_SIZE = 40
#: Journal states in which the provider was actually asked.
ANSWERED = ("accepted", "rejected", "dead")

#: The queued recipients to judge by: (device, variant) pairs.
Sampler = Callable[[], Iterable[tuple[Device, str]]]
Renderer = Callable[[Device, str], object]


class RenderGuard:
    """Counts renders of one send run; says when the send must stop and why."""

    def __init__(
        self,
        campaign: str,
        *,
        sample: Sampler | None = None,
        render: Renderer | None = None,
        min_failures: int = MIN_FAILURES,
        sample_size: int = SAMPLE_SIZE,
    ) -> None:
        self.campaign = campaign
        self.sample = sample
        self.render = render
        self.next_check = min_failures
        self.sample_size = sample_size
        self.succeeded = 0
        self.failed = 0
        self.reasons: Counter[str] = Counter()
        self.stopped = False

    @classmethod
    def for_campaign(cls, ws: Workspace, campaign: Campaign, render: Renderer) -> RenderGuard:
        """A guard that confirms with a sample of ``campaign``'s queued devices."""
        from pushdeck.core.store.devices import row_to_device
        from pushdeck.core.store.journal_sample import random_queued

        def sample() -> Iterable[tuple[Device, str]]:
            rows = random_queued(ws, campaign.id, SAMPLE_SIZE)
            return [(row_to_device(r), r["j_variant"]) for r in rows]

        return cls(campaign.name, sample=sample, render=render)

    def success(self) -> None:
        self.succeeded += 1

    def failure(self, reason: str) -> str:
        """Record a failed render; return why the send must stop now ('' to go on)."""
        self.failed += 1
        self.reasons[reason] += 1
        if self.stopped or self.failed < self.next_check or self.failed <= self.succeeded:
            return ""
        sampled = self._judge_queue()
        if sampled is not None and sampled[0] * 2 <= sampled[2]:
            self.next_check = self.failed * 2  # a cluster of odd devices: look again later
            return ""
        self.stopped = True
        top, _ = self.reasons.most_common(1)[0]
        also = (
            f" and for {sampled[0]} of {sampled[1]} devices sampled from those still queued"
            if sampled
            else ""
        )
        name = self.campaign
        return (
            f"Stopped: the message could not be rendered for {self.failed} of the first "
            f"{self.failed + self.succeeded} recipients{also} (most often: {top}). Those were "
            "skipped; nothing more was sent and the other devices stay queued. Fix the "
            "devices' data and resume with 'pushdeck campaigns send "
            f"{name}', or fix the template in a copy ('pushdeck campaigns duplicate {name} NEW')."
        )

    def _judge_queue(self) -> tuple[int, int, int] | None:
        """(failed, rendered, sample size) over a sample of the queue; None without one.

        Stops rendering as soon as the majority is decided (a slow template costs at
        most half a sample of render deadlines).
        """
        if self.sample is None or self.render is None:
            return None
        pairs = list(self.sample())
        if not pairs:
            return None
        failed = rendered = 0
        for device, variant in pairs:
            rendered += 1
            try:
                self.render(device, variant)
            except Exception:  # noqa: BLE001 - any render failure counts, like in a send
                failed += 1
            if failed * 2 > len(pairs) or (rendered - failed) * 2 >= len(pairs):
                break  # the majority of the sample is decided
        return failed, rendered, len(pairs)


def nothing_sent_reason(counts: Mapping[str, int], top_skip: str = "") -> str:
    """Why a campaign with nothing left to send is not a success ('' when it is).

    A campaign whose every recipient was skipped (no provider was ever asked) sent
    nothing; calling it "sent" would report a success that did not happen.
    """
    skipped = counts.get("skipped", 0)
    if skipped == 0 or any(counts.get(state, 0) for state in ANSWERED):
        return ""
    why = f" (most often: {top_skip})" if top_skip else ""
    return (
        f"Nothing was sent: all {skipped:,} recipients were skipped{why}. See "
        "'pushdeck campaigns status NAME --json' and the report's skip reasons."
    )


def campaign_nothing_sent(ws: Workspace, name: str, counts: Mapping[str, int]) -> str:
    """``nothing_sent_reason`` with the most common skip reason read from the journal."""
    if not counts.get("skipped") or any(counts.get(state, 0) for state in ANSWERED):
        return ""
    from pushdeck.core.campaigns.library import get_campaign
    from pushdeck.core.store.journal import reason_counts

    top = reason_counts(ws, get_campaign(ws, name).id, "skipped")
    return nothing_sent_reason(counts, top[0][0] if top else "").replace("NAME", name)
