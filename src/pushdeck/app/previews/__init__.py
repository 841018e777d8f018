"""Per-platform notification previews: measured layout, QPainter renderers and widgets."""

from __future__ import annotations

from pushdeck.app.previews import android, ios, web
from pushdeck.app.previews.base import StateSpec

ALL_STATES: tuple[StateSpec, ...] = (*ios.STATES, *android.STATES, *web.STATES)
STATES_BY_KEY: dict[str, StateSpec] = {state.key: state for state in ALL_STATES}

__all__ = ["ALL_STATES", "STATES_BY_KEY", "StateSpec"]
