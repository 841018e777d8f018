"""The shared vocabulary of Pushdeck: frozen dataclasses and enums.

Everything here is plain data with no I/O, so the store, the provider core, the
campaign engine, the CLI and the app can all pass these objects around freely.
Mappings inside frozen dataclasses are never mutated by convention; the
dataclasses are therefore comparable but not hashable.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

#: Keys Pushdeck adds to every payload's data so that opens can be attributed.
CAMPAIGN_KEY = "pushdeck_campaign"
VARIANT_KEY = "pushdeck_variant"


@lru_cache(maxsize=1)
def known_timezones() -> frozenset[str]:
    """Every IANA zone name this machine knows (devices, segments and schedules use them)."""
    return frozenset(zoneinfo.available_timezones())


class Platform(StrEnum):
    IOS = "ios"
    ANDROID = "android"
    WEB = "web"


class ProviderKind(StrEnum):
    APNS = "apns"
    FCM = "fcm"
    WEBPUSH = "webpush"
    SANDBOX = "sandbox"


#: The provider a device uses when the import does not say otherwise.
DEFAULT_PROVIDER: Mapping[Platform, ProviderKind] = {
    Platform.IOS: ProviderKind.APNS,
    Platform.ANDROID: ProviderKind.FCM,
    Platform.WEB: ProviderKind.WEBPUSH,
}


class ApnsEnvironment(StrEnum):
    SANDBOX = "sandbox"
    PRODUCTION = "production"


class OptIn(StrEnum):
    AUTHORIZED = "authorized"
    PROVISIONAL = "provisional"
    DENIED = "denied"
    UNKNOWN = "unknown"


class DeviceStatus(StrEnum):
    ACTIVE = "active"
    UNREGISTERED = "unregistered"
    INVALID = "invalid"


class InterruptionLevel(StrEnum):
    PASSIVE = "passive"
    ACTIVE = "active"
    TIME_SENSITIVE = "time-sensitive"
    CRITICAL = "critical"


class Priority(StrEnum):
    """Delivery priority asked for; ``Message.priority = None`` lets each platform choose.

    Per platform (payloads/apns.py, fcm.py, webpush.py): HIGH → apns-priority 10, FCM
    HIGH, Urgency high; NORMAL → 5, NORMAL, normal; LOW → 1, NORMAL, low; VERY_LOW → 1,
    NORMAL, very-low. APNs background pushes always get 5, Live Activity and location
    pushes never 1. Unset: 10 on APNs (5 for background), FCM HIGH only when a
    notification is shown (NORMAL for data-only), Urgency normal.
    """

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"  # APNs 1, Web Push "low"; FCM has no low and uses NORMAL
    VERY_LOW = "very-low"  # Web Push "very-low"; APNs 1, FCM NORMAL


class AndroidVisibility(StrEnum):
    PRIVATE = "private"
    PUBLIC = "public"
    SECRET = "secret"


class AndroidNotificationPriority(StrEnum):
    """Android's display priority (pre-Android 8 devices; channels decide on 8+)."""

    MIN = "min"
    LOW = "low"
    DEFAULT = "default"
    HIGH = "high"
    MAX = "max"


class PushType(StrEnum):
    """APNs push types Pushdeck can send (apns-push-type)."""

    ALERT = "alert"
    BACKGROUND = "background"
    VOIP = "voip"
    LOCATION = "location"
    COMPLICATION = "complication"
    FILEPROVIDER = "fileprovider"
    MDM = "mdm"
    LIVEACTIVITY = "liveactivity"
    PUSHTOTALK = "pushtotalk"
    WIDGETS = "widgets"  # WidgetKit reload (iOS 26+), with the widget push token
    CONTROLS = "controls"  # Control Center control reload (iOS 18+), with its push token


class LiveActivityEvent(StrEnum):
    """What a Live Activity push does (``aps.event``)."""

    START = "start"  # push-to-start (iOS 17.2+): needs attributes-type and attributes
    UPDATE = "update"
    END = "end"


class TokenKind(StrEnum):
    """Which APNs token a device row holds; each kind accepts different pushes."""

    DEVICE = "device"  # the app's device token (alerts, background, …)
    LIVEACTIVITY = "liveactivity"  # one Live Activity's push token (updates, end)
    PUSHTOSTART = "pushtostart"  # the app's push-to-start token (Live Activity start)


@dataclass(frozen=True)
class Action:
    """A notification action button (iOS category action, Android action, web action)."""

    id: str
    title: str
    destructive: bool = False
    foreground: bool = True
    icon: str = ""  # web only
    url: str = ""  # web: the page the action opens (declarative Web Push needs one)


@dataclass(frozen=True)
class Message:
    """One notification as the user composed it, before any platform's encoding.

    Empty strings and ``None`` mean "not set"; payload builders omit unset fields.
    """

    # Content
    title: str = ""
    subtitle: str = ""
    body: str = ""
    image_url: str = ""
    url: str = ""  # deep link (apps) or click URL (web)
    # Per-platform text: replaces title / body on that platform only ("" = the common one)
    ios_title: str = ""
    ios_body: str = ""
    android_title: str = ""
    android_body: str = ""
    web_title: str = ""
    web_body: str = ""
    # Behaviour
    sound: str = ""  # iOS: "" = silent alert, "default", or a sound file in the app bundle
    critical_sound: bool = False  # iOS critical alert sound (needs Apple's entitlement)
    critical_volume: float = 1.0
    badge: int | None = None  # None leaves the badge alone, 0 clears it
    thread_id: str = ""  # iOS thread-id, Android group
    category: str = ""  # iOS category / click_action
    actions: tuple[Action, ...] = ()
    interruption_level: InterruptionLevel | None = None
    relevance_score: float | None = None
    collapse_id: str = ""  # apns-collapse-id, FCM collapse_key, Web Push Topic
    ttl_seconds: int | None = None  # None = provider default
    priority: Priority | None = None  # None = each platform's right default (see Priority)
    content_available: bool = False  # silent / background update
    mutable_content: bool = False
    push_type: PushType | None = None  # None = derived from the content
    target_content_id: str = ""  # iOS: the window/content to bring forward on tap
    filter_criteria: str = ""  # iOS Focus filter this notification belongs to
    analytics_label: str = ""  # FCM: fcm_options.analytics_label (Firebase reports)
    # Android
    android_channel_id: str = ""
    android_icon: str = ""
    android_color: str = ""  # "#RRGGBB"
    android_visibility: AndroidVisibility | None = None
    android_tag: str = ""
    #: Android sound: a res/raw file name or "default" ("" = "default" when ``sound`` is
    #: "default", else none). On Android 8+ the channel's sound wins.
    android_sound: str = ""
    android_notification_priority: AndroidNotificationPriority | None = None
    android_sticky: bool = False  # stays when tapped
    android_event_time: str = ""  # RFC 3339; when the event happened (shown as the time)
    android_bandwidth_constrained_ok: bool = False  # deliver on bandwidth-constrained networks
    # Web
    web_icon: str = ""
    web_badge: str = ""
    web_require_interaction: bool = False
    web_tag: str = ""
    #: Send the Declarative Web Push form (``{"web_push": 8030, …}``): Safari 18.4+ shows it
    #: with no service worker; docs/web-push-payload.md. Needs ``url`` (opened on click).
    web_declarative: bool = False
    #: Pad every Web Push body to the full 4096 bytes, so its length tells nothing.
    web_padding: bool = False
    # Custom data delivered to the app (FCM turns every value into a string)
    data: Mapping[str, Any] = field(default_factory=dict)
    # Localization keys resolved on the device (iOS loc-key / Android title_loc_key)
    title_loc_key: str = ""
    title_loc_args: tuple[str, ...] = ()
    body_loc_key: str = ""
    body_loc_args: tuple[str, ...] = ()
    # Live Activity (iOS): set ``live_activity_event`` to make the message one
    live_activity_event: LiveActivityEvent | None = None
    content_state: Mapping[str, Any] = field(default_factory=dict)  # the ContentState JSON
    stale_date: int | None = None  # UNIX seconds: shown as out of date after this
    dismissal_date: int | None = None  # UNIX seconds: an ended activity leaves then
    activity_attributes_type: str = ""  # push-to-start: the ActivityAttributes type name
    activity_attributes: Mapping[str, Any] = field(default_factory=dict)  # push-to-start

    @property
    def is_live_activity(self) -> bool:
        return self.live_activity_event is not None

    @property
    def is_silent(self) -> bool:
        """True when nothing will be shown: a background update with no visible content."""
        visible = self.title or self.subtitle or self.body or self.title_loc_key
        overrides = (
            self.ios_title or self.ios_body or self.android_title or self.android_body
        ) or (self.web_title or self.web_body)
        return not visible and not self.body_loc_key and not overrides


@dataclass(frozen=True)
class WebPushSubscription:
    """The three fields of a browser's ``PushSubscription.toJSON()`` that matter."""

    endpoint: str
    p256dh: str  # base64url, 65-byte uncompressed P-256 point
    auth: str  # base64url, 16 bytes


@dataclass(frozen=True)
class App:
    """An app the team sends to, with its identity on each platform."""

    name: str
    apns_topic: str = ""  # bundle id
    android_package: str = ""
    web_origin: str = ""
    #: The iOS app ships a Notification Service Extension: only then does iOS show
    #: images (the extension downloads ``image_url`` and attaches it).
    has_service_extension: bool = False
    id: int | None = None


@dataclass(frozen=True)
class Device:
    """A registered device or browser subscription.

    ``token`` is the APNs device token, the FCM registration token, or, for Web Push,
    the subscription endpoint (unique per browser) with the keys in ``subscription``.
    """

    app: str
    platform: Platform
    provider: ProviderKind
    token: str
    subscription: WebPushSubscription | None = None
    environment: ApnsEnvironment = ApnsEnvironment.PRODUCTION
    opt_in: OptIn = OptIn.UNKNOWN
    locale: str = ""
    timezone: str = ""
    tags: tuple[str, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)
    test: bool = False
    created_at: datetime | None = None
    last_seen: datetime | None = None
    status: DeviceStatus = DeviceStatus.ACTIVE
    status_reason: str = ""
    status_at: datetime | None = None
    token_kind: TokenKind = TokenKind.DEVICE  # which pushes this token accepts
    id: int | None = None


class SendStatus(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TOKEN_DEAD = "token_dead"
    AUTH_FAILURE = "auth_failure"


@dataclass(frozen=True)
class SendResult:
    """What a provider said about one message to one device. A rejection is data."""

    status: SendStatus
    provider: ProviderKind
    http_status: int | None = None
    provider_id: str = ""  # apns-id, FCM message name, Web Push Location
    reason: str = ""  # the provider's own code, e.g. "BadDeviceToken", "UNREGISTERED"
    explanation: str = ""  # plain words: what it means and what to do
    retryable: bool = False
    retry_after: float | None = None  # seconds, when the provider said so
    token_dead_since: datetime | None = None  # APNs 410 timestamp
    raw: Mapping[str, Any] = field(default_factory=dict)  # status, headers, body as received

    @property
    def accepted(self) -> bool:
        return self.status is SendStatus.ACCEPTED


class EngagementKind(StrEnum):
    DELIVERED = "delivered"  # shown on the device (not the same as accepted by the provider)
    OPENED = "opened"  # the notification itself was tapped/clicked
    ACTION = "action"  # an action button was pressed (``action_id`` says which)
    DISMISSED = "dismissed"  # swiped away / closed without opening


@dataclass(frozen=True)
class EngagementEvent:
    """Something a user did with a notification: imported, collected, or simulated."""

    event_id: str  # unique; re-importing the same event must not count it twice
    kind: EngagementKind
    campaign: str
    device_token: str
    variant: str
    at: datetime
    action_id: str = ""
