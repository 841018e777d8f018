"""The last question before a campaign goes out: to whom, of which app, through what.

"Send now" reaches thousands of real devices and cannot be taken back, so it first says
in one box: the app, how many devices on each platform (and how many are left out), the
providers that will carry it, the estimated duration, and a warning for any credential
whose last check failed. Cancel is the default button.
"""

from __future__ import annotations

import html

from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

from pushdeck.app.dates import format_when
from pushdeck.core.campaigns.review import Review

PLATFORM_NAMES = {"ios": "iOS", "android": "Android", "web": "Web"}
PROVIDER_NAMES = {
    "apns": "Apple (APNs)",
    "fcm": "Firebase Cloud Messaging",
    "webpush": "Web Push",
    "sandbox": "the sandbox (simulated: nothing leaves this computer)",
}
SHORT_PROVIDER_NAMES = {"apns": "APNs", "fcm": "FCM", "webpush": "Web Push", "sandbox": "sandbox"}


def _duration(seconds: float) -> str:
    if seconds < 60:
        return "under a minute"
    if seconds < 3600:
        return f"about {round(seconds / 60)} minutes"
    return f"about {seconds / 3600:.1f} hours"


def confirmation_rows(review: Review) -> list[tuple[str, str]]:
    """(label, rich text) for each fact of the send."""
    e = html.escape
    order = list(PLATFORM_NAMES)
    platforms = " · ".join(
        f"{PLATFORM_NAMES.get(p, p)} <b>{n:,}</b>"
        for p, n in sorted(
            review.by_platform.items(), key=lambda i: order.index(i[0]) if i[0] in order else 9
        )
    )
    excluded = review.targeted - review.eligible
    if excluded:
        platforms += f"<br>({excluded:,} left out: opted out, dead tokens or no credential)"
    providers = ", ".join(PROVIDER_NAMES.get(p, p) for p in review.providers) or "none"
    throttle = review.throttle_per_minute
    takes = _duration(review.estimated_seconds)
    return [
        ("App", f"<b>{e(review.app)}</b>"),
        ("Audience", e(review.audience)),
        ("Devices", platforms or "nobody"),
        ("Through", e(providers)),
        ("Takes", takes + (f" (throttled to {throttle:,}/minute)" if throttle else "")),
    ]


def check_warnings(review: Review) -> list[str]:
    """One sentence per credential whose last check failed."""
    e = html.escape
    return [
        f"⚠ The {e(SHORT_PROVIDER_NAMES.get(provider, provider))} credential failed its last "
        f"check ({e(format_when(when))}): {e(why.rstrip('. '))}. Check it again on "
        "Apps &amp; credentials before sending."
        for provider, when, why in review.failed_checks
    ]


def confirmation_html(review: Review) -> str:
    rows = "".join(
        f"<tr><td style='color:#555; padding-right:10px' valign='top'>{label}</td>"
        f"<td>{value}</td></tr>"
        for label, value in confirmation_rows(review)
    )
    blocked = [f"⛔ {html.escape(text)}" for text in review.missing_here]
    warnings = "".join(
        f"<p style='color:#b00020'>{text}</p>" for text in [*blocked, *check_warnings(review)]
    )
    return f"<table cellspacing='2'>{rows}</table>{warnings}"


class SendConfirmation(QMessageBox):
    """Asks before sending ``review``'s campaign; ``send_button`` sends, Cancel does not."""

    def __init__(self, review: Review, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        warn = bool(review.failed_checks)
        self.setIcon(QMessageBox.Icon.Warning if warn else QMessageBox.Icon.Question)
        self.setWindowTitle("Send now?")
        self.setAccessibleName("Confirm sending")
        self.setText(
            f"<b>Send “{html.escape(review.campaign)}” now to {review.eligible:,} "
            f"device{'s' if review.eligible != 1 else ''}?</b>"
        )
        self.setInformativeText(confirmation_html(review))
        # Wide enough that the facts do not wrap word by word.
        self.setStyleSheet("QLabel#qt_msgbox_informativelabel { min-width: 460px; }")
        self.send_button: QPushButton = self.addButton(
            f"Send to {review.eligible:,} devices", QMessageBox.ButtonRole.AcceptRole
        )
        cancel = self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(cancel)  # Enter never sends by accident
        if not review.can_send_here:  # a secret is in another machine's keyring only
            self.setIcon(QMessageBox.Icon.Warning)
            self.setWindowTitle("Cannot send from this machine")
            self.send_button.setEnabled(False)
            self.send_button.setToolTip(" ".join(review.missing_here))
        self.setEscapeButton(cancel)
