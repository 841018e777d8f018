"""Apps: a name and the app's identity on each platform."""

from __future__ import annotations

from urllib.parse import urlsplit

from pushdeck.core.common.errors import ConfigError, ValidationError
from pushdeck.core.common.model import App
from pushdeck.core.store.workspace import IntegrityError, Row, Workspace, utcnow


def _row_to_app(row: Row) -> App:
    return App(
        name=row["name"],
        apns_topic=row["apns_topic"],
        android_package=row["android_package"],
        web_origin=row["web_origin"],
        has_service_extension=bool(row["has_service_extension"]),
        id=row["id"],
    )


def validate_app(app: App) -> None:
    """Raise ValidationError naming the field when an identity is malformed."""
    if not app.name.strip():
        raise ValidationError("An app needs a name.", field="name")
    for label, value in (("topic", app.apns_topic), ("android package", app.android_package)):
        if value and (" " in value or "." not in value):
            raise ValidationError(
                f"The {label} {value!r} is not a reverse-DNS identifier like com.example.app.",
                field=label.replace(" ", "_"),
            )
    if app.web_origin:
        parts = urlsplit(app.web_origin)
        if parts.scheme != "https" or not parts.netloc or parts.path not in ("", "/"):
            raise ValidationError(
                f"The web origin {app.web_origin!r} must be an https origin like "
                "https://example.com (no path).",
                field="web_origin",
            )


def add_app(ws: Workspace, app: App) -> App:
    """Create an app; raise ConfigError when the name is taken."""
    validate_app(app)
    try:
        with ws.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO apps (name, apns_topic, android_package, web_origin,"
                " has_service_extension, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    app.name,
                    app.apns_topic,
                    app.android_package,
                    app.web_origin.rstrip("/"),
                    int(app.has_service_extension),
                    utcnow(),
                ),
            )
    except IntegrityError:
        raise ConfigError(
            f"An app named {app.name!r} already exists.", hint="Choose another name."
        ) from None
    # (PostgreSQL has no lastrowid; the name is unique.)
    return get_app(ws, app.name, _id=getattr(cursor, "lastrowid", None))


def update_app(ws: Workspace, app: App) -> App:
    validate_app(app)
    current = get_app(ws, app.name)
    with ws.transaction() as conn:
        conn.execute(
            "UPDATE apps SET apns_topic = ?, android_package = ?, web_origin = ?,"
            " has_service_extension = ? WHERE id = ?",
            (
                app.apns_topic,
                app.android_package,
                app.web_origin.rstrip("/"),
                int(app.has_service_extension),
                current.id,
            ),
        )
    return get_app(ws, app.name)


def get_app(ws: Workspace, name: str, *, _id: int | None = None) -> App:
    """The app called ``name``; ConfigError listing the known apps when there is none."""
    if _id is not None:
        rows = ws.query("SELECT * FROM apps WHERE id = ?", (_id,))
    else:
        rows = ws.query("SELECT * FROM apps WHERE name = ?", (name,))
    if not rows:
        known = ", ".join(a.name for a in list_apps(ws)) or "none yet"
        raise ConfigError(
            f"There is no app named {name!r} in this workspace (apps: {known}).",
            hint="Add it with 'pushdeck apps add NAME'.",
        )
    return _row_to_app(rows[0])


def list_apps(ws: Workspace) -> list[App]:
    return [_row_to_app(r) for r in ws.query("SELECT * FROM apps ORDER BY name")]


def app_names(ws: Workspace) -> list[str]:
    return [r[0] for r in ws.query("SELECT name FROM apps ORDER BY name")]
