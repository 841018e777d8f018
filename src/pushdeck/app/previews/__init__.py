"""Per-platform notification previews: measured layout, QPainter renderers and widgets."""

from __future__ import annotations

from pushdeck.app.previews import android, ios, live_activity, web
from pushdeck.app.previews.base import StateSpec

ALL_STATES: tuple[StateSpec, ...] = (*ios.STATES, *android.STATES, *web.STATES)
#: Drawn instead of ALL_STATES when the message is a Live Activity (iOS only).
LIVE_ACTIVITY_STATES: tuple[StateSpec, ...] = live_activity.STATES
STATES_BY_KEY: dict[str, StateSpec] = {
    state.key: state for state in (*ALL_STATES, *LIVE_ACTIVITY_STATES)
}

__all__ = ["ALL_STATES", "LIVE_ACTIVITY_STATES", "STATES_BY_KEY", "StateSpec"]
