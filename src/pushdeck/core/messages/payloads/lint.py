"""Lint: things a user wants to know before sending, that the builders do not refuse.

Each check is a small function of the message returning zero or more warnings;
``lint`` runs them all in a fixed order so the composer's list is stable. Lengths
for truncation are published *heuristics* (reference/previews.md), not
measurements: the previews measure; lint only points at likely trouble.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from pushdeck.core.common.model import App, InterruptionLevel, Message, Priority, PushType
from pushdeck.core.messages.payloads.apns import needs_service_extension
from pushdeck.core.messages.payloads.webpush import WEB_TOPIC_RE


class Severity(StrEnum):
    ERROR = "error"  # a provider will reject it, or nothing useful will happen
    WARNING = "warning"  # likely not what you meant
    INFO = "info"  # worth knowing


@dataclass(frozen=True)
class LintWarning:
    code: str  # stable identifier, e.g. "background-high-priority"
    severity: Severity
    field: str  # the Message field to look at
    message: str
    hint: str = ""


Check = Callable[[Message], Iterator[LintWarning]]
#: Checks that also need the app's declared facts (``None`` when the app is not known).
AppCheck = Callable[[Message, App | None], Iterator[LintWarning]]

# Heuristics from reference/previews.md (Braze): iOS lock screen fits ~35 title chars
# next to "now"; Chrome on macOS and on Android show 35; Safari macOS 38.
TITLE_HEURISTIC = 35
# iOS lock screen / Notification Center: ~160 characters text-only, ~130 with an image.
BODY_HEURISTIC = 160
BODY_HEURISTIC_WITH_IMAGE = 130
APNS_COLLAPSE_LIMIT = 64
WEB_MAX_ACTIONS = 2  # Chrome's Notification.maxActions
IOS_MAX_ACTIONS = 4
FCM_RESERVED_KEYS = frozenset({"from", "notification", "message_type"})
FCM_RESERVED_PREFIXES = ("google.", "gcm.")
_UNSAFE_SCHEMES = frozenset({"javascript", "data", "file", "vbscript"})


def _w(code: str, severity: Severity, field: str, message: str, hint: str = "") -> LintWarning:
    return LintWarning(code, severity, field, message, hint)


def check_background_priority(m: Message) -> Iterator[LintWarning]:
    # The builder already sends APNs background pushes with priority 5 (Apple's rule),
    # so this is no error: it is about Android, where HIGH is honoured as asked.
    if m.is_silent and m.priority is Priority.HIGH:
        yield _w(
            "background-high-priority",
            Severity.WARNING,
            "priority",
            "High priority on a message that shows nothing: Firebase deprioritises apps "
            "whose high-priority messages show no notification (iOS background pushes are "
            "sent with priority 5 whatever is asked, as Apple requires).",
            "Leave priority unset: data-only and background messages then go as NORMAL.",
        )


def check_push_type_content(m: Message) -> Iterator[LintWarning]:
    # The same contradictions the APNs builder refuses (resolve_push_type).
    visible = not m.is_silent or m.badge is not None or bool(m.sound)
    if m.push_type is PushType.BACKGROUND and (visible or not m.content_available):
        yield _w(
            "push-type-contradicts-content",
            Severity.ERROR,
            "push_type",
            "A background push must carry content-available and nothing visible; iOS "
            "devices cannot be sent this message.",
            "Remove title/body/badge/sound, or leave the push type unset.",
        )
    elif m.push_type in (PushType.WIDGETS, PushType.CONTROLS) and visible:
        yield _w(
            "push-type-contradicts-content",
            Severity.ERROR,
            "push_type",
            f"A {m.push_type.value} push only reloads; it cannot show a title, body, badge "
            "or sound.",
            "Send the alert as a separate push.",
        )


def check_never_priority_1(m: Message) -> Iterator[LintWarning]:
    low = m.priority in (Priority.LOW, Priority.VERY_LOW)
    if low and m.push_type in (PushType.LIVEACTIVITY, PushType.LOCATION):
        yield _w(
            "priority-raised-to-5",
            Severity.INFO,
            "priority",
            f"A {m.push_type.value} push never goes with apns-priority 1; Pushdeck sends 5.",
        )


def check_content_available_mixed(m: Message) -> Iterator[LintWarning]:
    if m.content_available and not m.is_silent:
        yield _w(
            "content-available-with-alert",
            Severity.WARNING,
            "content_available",
            "content_available is set on a message with a visible alert; iOS treats it as "
            "an alert and may not wake the app in the background.",
            "Send background updates as separate silent pushes.",
        )


def check_nothing_to_show(m: Message) -> Iterator[LintWarning]:
    if m.is_live_activity:
        yield _w(
            "live-activity-ios-only",
            Severity.INFO,
            "live_activity_event",
            "A Live Activity reaches only iOS devices with a matching token (an update or "
            "end: Live Activity tokens; a start: push-to-start tokens); other devices are "
            "excluded.",
        )
        return
    if m.push_type not in (None, PushType.ALERT):
        return  # VoIP, location, widgets, …: the push type says what it is for
    if m.is_silent and (m.badge is not None or m.sound):
        return  # a badge-only or sound-only alert is valid on iOS
    if m.is_silent and not m.content_available:
        yield _w(
            "empty-message",
            Severity.ERROR,
            "title",
            "The message has no title or body and is not a background update: nothing "
            "would be shown.",
            "Add a title or body, or mark it content_available for a silent update.",
        )
    elif m.is_silent:
        yield _w(
            "web-silent",
            Severity.INFO,
            "content_available",
            "Browsers must show a notification for every push; a silent message sent to "
            "the web shows the browser's generic 'site updated' notice, and Safari may "
            "revoke the subscription of a site whose pushes show nothing.",
        )


def check_collapse_id(m: Message) -> Iterator[LintWarning]:
    size = len(m.collapse_id.encode())
    if size > APNS_COLLAPSE_LIMIT:
        yield _w(
            "collapse-id-too-long",
            Severity.ERROR,
            "collapse_id",
            f"collapse_id is {size} bytes; APNs allows {APNS_COLLAPSE_LIMIT} (BadCollapseId).",
            "Use a short identifier such as 'order-1234'.",
        )
    if m.collapse_id and not WEB_TOPIC_RE.match(m.collapse_id):
        yield _w(
            "collapse-id-not-web-topic",
            Severity.WARNING,
            "collapse_id",
            "collapse_id is not a valid Web Push Topic (1-32 characters of A-Z a-z 0-9 - _); "
            "web sends will be refused.",
            "Use letters, digits, '-' and '_' only, at most 32 characters.",
        )


def _is_https(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(parts.netloc)


def check_https_media(m: Message) -> Iterator[LintWarning]:
    media = (("image_url", m.image_url), ("web_icon", m.web_icon), ("web_badge", m.web_badge))
    for field, url in media:
        if url and not _is_https(url):
            yield _w(
                "media-not-https",
                Severity.WARNING,
                field,
                f"{field} is not an https:// URL ({url!r}); iOS, Android and browsers may "
                "refuse to load it and show the notification without it.",
                "Host the image on https.",
            )


def check_android_channel(m: Message) -> Iterator[LintWarning]:
    if not m.is_silent and not m.android_channel_id and not m.is_live_activity:
        yield _w(
            "android-channel-missing",
            Severity.INFO,
            "android_channel_id",
            "No Android channel is set; Android 8+ uses the app's default channel (or a "
            "'Miscellaneous' fallback) whose importance may hide heads-up display.",
            "Set android_channel_id to a channel the app creates.",
        )


def check_title_length(m: Message) -> Iterator[LintWarning]:
    if len(m.title) > TITLE_HEURISTIC:
        yield _w(
            "title-likely-truncated",
            Severity.INFO,
            "title",
            f"The title has {len(m.title)} characters; by a published heuristic about "
            f"{TITLE_HEURISTIC} fit on the iOS lock screen and in Chrome on macOS/Android.",
            "Heuristic only: check the previews, which measure the real layout.",
        )


def check_body_length(m: Message) -> Iterator[LintWarning]:
    limit = BODY_HEURISTIC_WITH_IMAGE if m.image_url else BODY_HEURISTIC
    if len(m.body) > limit:
        yield _w(
            "body-very-long",
            Severity.INFO,
            "body",
            f"The body has {len(m.body)} characters; by a published heuristic about {limit} "
            "show on the iOS lock screen" + (" with an image" if m.image_url else "") + ".",
            "Heuristic only: check the previews; put the key point first.",
        )


def check_actions(m: Message) -> Iterator[LintWarning]:
    if len(m.actions) > WEB_MAX_ACTIONS:
        yield _w(
            "too-many-web-actions",
            Severity.WARNING,
            "actions",
            f"{len(m.actions)} actions; Chrome shows at most {WEB_MAX_ACTIONS} on the web.",
        )
    if len(m.actions) > IOS_MAX_ACTIONS:
        yield _w(
            "too-many-ios-actions",
            Severity.WARNING,
            "actions",
            f"{len(m.actions)} actions; iOS shows at most {IOS_MAX_ACTIONS}.",
        )


def check_critical(m: Message) -> Iterator[LintWarning]:
    critical = m.interruption_level is InterruptionLevel.CRITICAL
    if m.critical_sound and not critical:
        yield _w(
            "critical-sound-level",
            Severity.WARNING,
            "interruption_level",
            "A critical sound is set but the interruption level is not 'critical'.",
            "Set interruption_level to critical; either needs Apple's critical-alerts "
            "entitlement, without which iOS plays a normal sound.",
        )
    elif critical:
        yield _w(
            "critical-entitlement",
            Severity.INFO,
            "interruption_level",
            "Critical alerts need Apple's approved critical-alerts entitlement in the app.",
        )


def check_badge(m: Message) -> Iterator[LintWarning]:
    if m.badge is not None and m.badge < 0:
        yield _w(
            "badge-negative",
            Severity.ERROR,
            "badge",
            f"badge is {m.badge}; the badge is an absolute count (0 clears it).",
        )


def check_ttl(m: Message) -> Iterator[LintWarning]:
    if m.ttl_seconds == 0 and m.priority in (Priority.LOW, Priority.VERY_LOW):
        yield _w(
            "ttl-zero-low-priority",
            Severity.WARNING,
            "ttl_seconds",
            "TTL 0 with low priority: the message is delivered only if the device is "
            "reachable right now, and low priority may delay it past that moment.",
            "Give it a TTL or a higher priority.",
        )


def check_mutable_content(m: Message) -> Iterator[LintWarning]:
    if m.mutable_content and not m.image_url:
        yield _w(
            "mutable-content-no-image",
            Severity.INFO,
            "mutable_content",
            "mutable_content is set without an image; the Notification Service Extension "
            "runs anyway. The preview shows what is sent, not necessarily what is shown.",
        )


def check_relevance(m: Message) -> Iterator[LintWarning]:
    score = m.relevance_score
    if score is not None and not 0.0 <= score <= 1.0 and not m.is_live_activity:
        yield _w(
            "relevance-out-of-range",
            Severity.WARNING,
            "relevance_score",
            f"relevance_score is {score}; iOS expects 0 to 1 (any value only for Live Activities).",
        )


def check_sound(m: Message) -> Iterator[LintWarning]:
    if "/" in m.sound or "\\" in m.sound:
        yield _w(
            "sound-has-path",
            Severity.WARNING,
            "sound",
            f"sound {m.sound!r} contains a path; devices look up a bare file name in the "
            "app bundle (iOS) or res/raw (Android).",
            "Use the file name only, e.g. 'chime.caf'.",
        )


def check_fcm_data_keys(m: Message) -> Iterator[LintWarning]:
    for key in m.data:
        if key in FCM_RESERVED_KEYS or key.startswith(FCM_RESERVED_PREFIXES):
            yield _w(
                "fcm-reserved-data-key",
                Severity.ERROR,
                f"data.{key}",
                f"Data key {key!r} is reserved by FCM; the send fails with INVALID_ARGUMENT.",
                "Rename the key.",
            )


def check_declarative(m: Message) -> Iterator[LintWarning]:
    if m.web_declarative and not urlsplit(m.url).scheme.startswith("http"):
        yield _w(
            "declarative-needs-url",
            Severity.ERROR,
            "url",
            "A declarative Web Push needs an http(s) URL to open on click; Safari drops it "
            "otherwise, and Pushdeck refuses to build it.",
        )


def check_url(m: Message) -> Iterator[LintWarning]:
    if not m.url:
        return
    parts = urlsplit(m.url)
    if not parts.scheme or not (parts.netloc or parts.path):
        yield _w(
            "url-invalid",
            Severity.ERROR,
            "url",
            f"url {m.url!r} is not a valid URL (it needs a scheme such as https: or myapp:).",
        )
    elif parts.scheme.lower() in _UNSAFE_SCHEMES:
        yield _w(
            "url-unsafe-scheme",
            Severity.ERROR,
            "url",
            f"url uses the {parts.scheme}: scheme, which browsers and apps refuse to open.",
        )
    elif parts.scheme not in ("http", "https"):
        yield _w(
            "url-not-web",
            Severity.INFO,
            "url",
            f"url is an app deep link ({parts.scheme}:); browsers cannot open it from a "
            "web notification.",
        )


def check_ios_image(m: Message, app: App | None) -> Iterator[LintWarning]:
    # Without the app (a bare message) nothing is known about its extension: the
    # previews say that the image depends on it.
    if app is None or not app.apns_topic or app.has_service_extension:
        return
    if needs_service_extension(m):
        yield _w(
            "ios-image-no-extension",
            Severity.WARNING,
            "image_url",
            f"The app {app.name!r} has not declared a Notification Service Extension: iOS "
            "devices will show this notification without its image.",
            "Add the extension (docs/ios-images.md), then mark the app with "
            f"'pushdeck apps update {app.name} --has-nse'.",
        )


APP_CHECKS: tuple[AppCheck, ...] = (check_ios_image,)


_PLATFORM_NAMES = {"ios": "iOS (APNs)", "android": "Android (FCM)", "web": "Web Push"}


def check_payload_size(m: Message) -> Iterator[LintWarning]:
    """Each platform's payload, built as it will be sent, against its byte limit."""
    from pushdeck.core.messages.payloads import (  # the builders import this module
        preview_payloads,
    )

    for platform, preview in preview_payloads(m).items():
        if preview.over:
            yield _w(
                "payload-too-large",
                Severity.ERROR,
                "body",
                f"The {_PLATFORM_NAMES.get(platform, platform)} payload is {preview.size:,} "
                f"bytes, {preview.over:,} over its {preview.limit:,}-byte limit: it cannot be "
                "sent.",
                "Shorten the title or body, or move custom data out of the notification.",
            )


CHECKS: tuple[Check, ...] = (
    check_payload_size,
    check_nothing_to_show,
    check_background_priority,
    check_push_type_content,
    check_never_priority_1,
    check_content_available_mixed,
    check_collapse_id,
    check_https_media,
    check_android_channel,
    check_title_length,
    check_body_length,
    check_actions,
    check_critical,
    check_badge,
    check_ttl,
    check_mutable_content,
    check_relevance,
    check_sound,
    check_fcm_data_keys,
    check_url,
    check_declarative,
)


def lint(message: Message, app: App | None = None) -> list[LintWarning]:
    """Every warning for ``message`` (sent for ``app`` when given), errors first, in a
    stable order."""
    found = [w for check in CHECKS for w in check(message)]
    found += [w for app_check in APP_CHECKS for w in app_check(message, app)]
    rank = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    return sorted(found, key=lambda w: rank[w.severity])
