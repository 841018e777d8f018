"""App test fixtures: GUI-thread checks on, preview fonts loaded, sample messages."""

from __future__ import annotations

import os

os.environ["PUSHDECK_THREAD_CHECKS"] = "1"

import pytest

import pushdeck.app  # noqa: F401  (applies the PySide6/3.11 None-refcount workaround)
from pushdeck.app.threads import set_checks_enabled
from pushdeck.core.common.model import Action, Message

set_checks_enabled(True)

LONG_BODY = (
    "Hi Ana, our biggest sale of the year starts now. Everything in store is 40% off until "
    "midnight: shoes, jackets, bags and more. Tap to shop before it is gone, free shipping too, "
    "and members get early access to the new collection tomorrow morning at nine."
)


@pytest.fixture
def fonts(qapp):
    from pushdeck.app.fonts import load_bundled_fonts

    return load_bundled_fonts()


@pytest.fixture
def rich_message() -> Message:
    return Message(
        title="Flash sale: 40% off everything today only!",
        body=LONG_BODY,
        badge=3,
        thread_id="sale",
        actions=(
            Action("buy", "Buy now"),
            Action("later", "Remind me later"),
            Action("stop", "Unsubscribe", destructive=True),
        ),
    )

