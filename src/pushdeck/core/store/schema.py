"""The workspace schema as an ordered list of migrations.

``PRAGMA user_version`` records how many migrations a file has had. Migrations are
append-only: never edit one that has shipped, add the next one instead.
"""

from __future__ import annotations

#: 'PSHD' — marks a SQLite file as a Pushdeck workspace (``PRAGMA application_id``).
APPLICATION_ID = 0x50534844

_V1 = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE apps (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    apns_topic TEXT NOT NULL DEFAULT '',
    android_package TEXT NOT NULL DEFAULT '',
    web_origin TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);

-- Secrets never live here: only the keyring reference and non-secret facts.
CREATE TABLE credentials (
    id INTEGER PRIMARY KEY,
    app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    provider TEXT NOT NULL CHECK (provider IN ('apns', 'fcm', 'webpush', 'sandbox')),
    kind TEXT NOT NULL,
    keyring_service TEXT NOT NULL,
    keyring_username TEXT NOT NULL,
    facts TEXT NOT NULL DEFAULT '{}',
    endpoint TEXT NOT NULL DEFAULT '',
    ca_file TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    UNIQUE (app_id, provider)
);

-- No CHECK constraints here: every write goes through the validating store, and
-- CHECKs measured at ~15 µs per row, more than half the cost of a bulk import.
CREATE TABLE devices (
    id INTEGER PRIMARY KEY,
    app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    platform TEXT NOT NULL,
    provider TEXT NOT NULL,
    token TEXT NOT NULL,
    p256dh TEXT NOT NULL DEFAULT '',
    auth TEXT NOT NULL DEFAULT '',
    environment TEXT NOT NULL DEFAULT 'production',
    opt_in TEXT NOT NULL DEFAULT 'unknown',
    locale TEXT NOT NULL DEFAULT '',
    timezone TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    attributes TEXT NOT NULL DEFAULT '{}',
    test INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    last_seen TEXT,
    status TEXT NOT NULL DEFAULT 'active',
    status_reason TEXT NOT NULL DEFAULT '',
    status_at TEXT,
    UNIQUE (app_id, token)
);
CREATE INDEX devices_platform ON devices (platform, app_id);
CREATE INDEX devices_provider ON devices (provider);
CREATE INDEX devices_locale ON devices (locale);
CREATE INDEX devices_timezone ON devices (timezone);
CREATE INDEX devices_opt_in ON devices (opt_in);
CREATE INDEX devices_status ON devices (status);
CREATE INDEX devices_last_seen ON devices (last_seen);
CREATE INDEX devices_test ON devices (test) WHERE test = 1;

-- Tags are denormalised into their own table (kept in step by triggers) so that
-- "has tag X" is an index lookup rather than a scan of JSON text.
CREATE TABLE device_tags (
    tag TEXT NOT NULL,
    device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    PRIMARY KEY (tag, device_id)
) WITHOUT ROWID;
CREATE INDEX device_tags_device ON device_tags (device_id);

CREATE TRIGGER devices_tags_insert AFTER INSERT ON devices
WHEN NEW.tags <> '[]'
BEGIN
    INSERT OR IGNORE INTO device_tags (tag, device_id)
    SELECT value, NEW.id FROM json_each(NEW.tags);
END;

CREATE TRIGGER devices_tags_update AFTER UPDATE OF tags ON devices
WHEN OLD.tags IS NOT NEW.tags
BEGIN
    DELETE FROM device_tags WHERE device_id = NEW.id;
    INSERT OR IGNORE INTO device_tags (tag, device_id)
    SELECT value, NEW.id FROM json_each(NEW.tags);
END;

CREATE TABLE segments (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    rule TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Composer drafts autosaved by the app (a campaign is created from one).
CREATE TABLE drafts (
    name TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE campaigns (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    app_id INTEGER NOT NULL REFERENCES apps(id),
    status TEXT NOT NULL DEFAULT 'draft',
    spec TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    scheduled_at TEXT,
    started_at TEXT,
    finished_at TEXT
);
CREATE INDEX campaigns_status ON campaigns (status, scheduled_at);

-- One row per (campaign, device): the durable send journal.
CREATE TABLE journal (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    variant TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    provider_id TEXT NOT NULL DEFAULT '',
    http_status INTEGER,
    reason TEXT NOT NULL DEFAULT '',
    queued_at TEXT,
    sent_at TEXT,
    finished_at TEXT,
    PRIMARY KEY (campaign_id, device_id)
) WITHOUT ROWID;
CREATE INDEX journal_state ON journal (campaign_id, state);

CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    campaign_id INTEGER REFERENCES campaigns(id) ON DELETE CASCADE,
    device_id INTEGER REFERENCES devices(id) ON DELETE SET NULL,
    variant TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL CHECK (kind IN ('delivered', 'opened', 'action', 'dismissed')),
    action_id TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX events_campaign ON events (campaign_id, kind, at);
CREATE INDEX events_device ON events (device_id);
"""

# Campaign engine (issue 4): the journal keeps the device's platform/locale as they were
# at send time (reports group by them without joining devices), how many times a send
# with unknown outcome was repeated after a crash, and the campaign's last error.
_V2 = """
ALTER TABLE journal ADD COLUMN platform TEXT NOT NULL DEFAULT '';
ALTER TABLE journal ADD COLUMN locale TEXT NOT NULL DEFAULT '';
ALTER TABLE journal ADD COLUMN timezone TEXT NOT NULL DEFAULT '';
ALTER TABLE journal ADD COLUMN possibly_duplicated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN error TEXT NOT NULL DEFAULT '';
CREATE INDEX events_campaign_device ON events (campaign_id, kind, device_id);
"""

# Campaign analytics (issue 4): each journal row also carries its device's engagement
# (first delivery, first open or action, dismissal, action count), kept in step with
# the events table by a trigger, so a whole campaign funnel — overall and per
# platform / variant / locale — is one scan of one covering index, not a join of
# millions of events.
_V3 = """
ALTER TABLE journal ADD COLUMN delivered_at TEXT;
ALTER TABLE journal ADD COLUMN opened_at TEXT;
ALTER TABLE journal ADD COLUMN dismissed_at TEXT;
ALTER TABLE journal ADD COLUMN actions INTEGER NOT NULL DEFAULT 0;
UPDATE journal SET
    delivered_at = (SELECT min(at) FROM events e WHERE e.campaign_id = journal.campaign_id
                    AND e.device_id = journal.device_id AND e.kind = 'delivered'),
    opened_at = (SELECT min(at) FROM events e WHERE e.campaign_id = journal.campaign_id
                 AND e.device_id = journal.device_id AND e.kind IN ('opened', 'action')),
    dismissed_at = (SELECT min(at) FROM events e WHERE e.campaign_id = journal.campaign_id
                    AND e.device_id = journal.device_id AND e.kind = 'dismissed'),
    actions = (SELECT count(*) FROM events e WHERE e.campaign_id = journal.campaign_id
               AND e.device_id = journal.device_id AND e.kind = 'action')
WHERE EXISTS (SELECT 1 FROM events e WHERE e.campaign_id = journal.campaign_id
              AND e.device_id = journal.device_id);
CREATE INDEX journal_funnel ON journal (campaign_id, platform, variant, locale, state,
    delivered_at, opened_at, dismissed_at, actions);
CREATE INDEX journal_opened ON journal (campaign_id, opened_at) WHERE opened_at IS NOT NULL;
CREATE TRIGGER events_engagement AFTER INSERT ON events
WHEN NEW.campaign_id IS NOT NULL AND NEW.device_id IS NOT NULL
BEGIN
    UPDATE journal SET
        delivered_at = CASE WHEN NEW.kind = 'delivered'
            THEN min(coalesce(delivered_at, NEW.at), NEW.at) ELSE delivered_at END,
        opened_at = CASE WHEN NEW.kind IN ('opened', 'action')
            THEN min(coalesce(opened_at, NEW.at), NEW.at) ELSE opened_at END,
        dismissed_at = CASE WHEN NEW.kind = 'dismissed'
            THEN min(coalesce(dismissed_at, NEW.at), NEW.at) ELSE dismissed_at END,
        actions = actions + (NEW.kind = 'action')
    WHERE campaign_id = NEW.campaign_id AND device_id = NEW.device_id;
END;
"""

# Reports (issue 7): the dashboard's reason and action-button counts read only small
# partial indexes (rows in a not-sent state; action events) instead of looking up every
# matching row: 90 + 70 ms → a few ms at 1,000,000 recipients. Partial, so accepted
# sends and non-action events (almost all writes) do not maintain them.
_V4 = """
CREATE INDEX journal_reasons ON journal (campaign_id, state, reason)
    WHERE state IN ('rejected', 'dead', 'excluded', 'skipped');
CREATE INDEX events_actions ON events (campaign_id, kind, action_id) WHERE kind = 'action';
"""

#: Migration n (1-based) brings a file from user_version n-1 to n.
_V5 = """
-- A materialized funnel: one row per (campaign, platform, variant, locale, state) with
-- the counts the reports need, kept exact by triggers on every journal change (sends,
-- retries, engagement rolled in by events_engagement, deletes). Reading a campaign's
-- funnel is then a few hundred rows instead of a scan of every recipient (1,000,000
-- journal rows: ~310 ms -> ~1 ms). Cost: two small statements per journal write.
CREATE TABLE journal_summary (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    platform TEXT NOT NULL,
    variant TEXT NOT NULL,
    locale TEXT NOT NULL,
    state TEXT NOT NULL,
    n INTEGER NOT NULL DEFAULT 0,
    delivered INTEGER NOT NULL DEFAULT 0,
    opened INTEGER NOT NULL DEFAULT 0,
    actions INTEGER NOT NULL DEFAULT 0,
    dismissed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, platform, variant, locale, state)
) WITHOUT ROWID;

INSERT INTO journal_summary
SELECT campaign_id, coalesce(platform, ''), variant, coalesce(locale, ''), state, count(*),
       count(delivered_at), count(opened_at), coalesce(sum(actions), 0), count(dismissed_at)
FROM journal GROUP BY 1, 2, 3, 4, 5;

CREATE TRIGGER journal_summary_insert AFTER INSERT ON journal
BEGIN
    INSERT OR IGNORE INTO journal_summary (campaign_id, platform, variant, locale, state)
    VALUES (NEW.campaign_id, coalesce(NEW.platform, ''), NEW.variant,
            coalesce(NEW.locale, ''), NEW.state);
    UPDATE journal_summary SET n = n + 1,
        delivered = delivered + (NEW.delivered_at IS NOT NULL),
        opened = opened + (NEW.opened_at IS NOT NULL),
        actions = actions + coalesce(NEW.actions, 0),
        dismissed = dismissed + (NEW.dismissed_at IS NOT NULL)
    WHERE campaign_id = NEW.campaign_id AND platform = coalesce(NEW.platform, '')
      AND variant = NEW.variant AND locale = coalesce(NEW.locale, '') AND state = NEW.state;
END;

CREATE TRIGGER journal_summary_delete AFTER DELETE ON journal
BEGIN
    UPDATE journal_summary SET n = n - 1,
        delivered = delivered - (OLD.delivered_at IS NOT NULL),
        opened = opened - (OLD.opened_at IS NOT NULL),
        actions = actions - coalesce(OLD.actions, 0),
        dismissed = dismissed - (OLD.dismissed_at IS NOT NULL)
    WHERE campaign_id = OLD.campaign_id AND platform = coalesce(OLD.platform, '')
      AND variant = OLD.variant AND locale = coalesce(OLD.locale, '') AND state = OLD.state;
END;

CREATE TRIGGER journal_summary_update AFTER UPDATE OF
    campaign_id, platform, variant, locale, state, delivered_at, opened_at, actions,
    dismissed_at ON journal
BEGIN
    UPDATE journal_summary SET n = n - 1,
        delivered = delivered - (OLD.delivered_at IS NOT NULL),
        opened = opened - (OLD.opened_at IS NOT NULL),
        actions = actions - coalesce(OLD.actions, 0),
        dismissed = dismissed - (OLD.dismissed_at IS NOT NULL)
    WHERE campaign_id = OLD.campaign_id AND platform = coalesce(OLD.platform, '')
      AND variant = OLD.variant AND locale = coalesce(OLD.locale, '') AND state = OLD.state;
    INSERT OR IGNORE INTO journal_summary (campaign_id, platform, variant, locale, state)
    VALUES (NEW.campaign_id, coalesce(NEW.platform, ''), NEW.variant,
            coalesce(NEW.locale, ''), NEW.state);
    UPDATE journal_summary SET n = n + 1,
        delivered = delivered + (NEW.delivered_at IS NOT NULL),
        opened = opened + (NEW.opened_at IS NOT NULL),
        actions = actions + coalesce(NEW.actions, 0),
        dismissed = dismissed + (NEW.dismissed_at IS NOT NULL)
    WHERE campaign_id = NEW.campaign_id AND platform = coalesce(NEW.platform, '')
      AND variant = NEW.variant AND locale = coalesce(NEW.locale, '') AND state = NEW.state;
END;
"""

# Platform fidelity (issue 14): whether the iOS app has a Notification Service Extension
# (without one iOS shows no image; lint warns). A non-secret fact of the app, so it
# lives on the apps row.
_V6 = """
ALTER TABLE apps ADD COLUMN has_service_extension INTEGER NOT NULL DEFAULT 0;
"""

# Live Activities (issue 14): which APNs token a device row holds (the app's device
# token, a Live Activity's push token, or the app's push-to-start token), so a campaign
# sends each kind only what it accepts; the journal keeps the kind as sent. The partial
# index serves segments on the (few) Live Activity tokens without weighing on imports.
_V7 = """
ALTER TABLE devices ADD COLUMN token_kind TEXT NOT NULL DEFAULT 'device';
CREATE INDEX devices_token_kind ON devices (token_kind) WHERE token_kind <> 'device';
ALTER TABLE journal ADD COLUMN token_kind TEXT NOT NULL DEFAULT 'device';
"""

# Audience hygiene and conversions (issue 20), after platform fidelity's v6 and v7.
# - app_rules: an app's defaults (frequency cap, quiet hours, default time zone,
#   attribution window) as the campaign file's JSON shapes; no secrets.
# - journal.release_at: when a device held for its quiet hours may be sent (state 'held').
# - conversions: 'converted' events (their own table: a value, a currency and a name,
#   and no notification of their own); campaign_id is set only for direct attribution
#   (the campaign was named in the event), influenced attribution is computed by reports.
_V8 = """
CREATE TABLE app_rules (
    app_id INTEGER PRIMARY KEY REFERENCES apps(id) ON DELETE CASCADE,
    rules TEXT NOT NULL DEFAULT '{}',
    updated_at TEXT NOT NULL
);
ALTER TABLE journal ADD COLUMN release_at TEXT;
CREATE TABLE conversions (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    device_id INTEGER REFERENCES devices(id) ON DELETE SET NULL,
    campaign_id INTEGER REFERENCES campaigns(id) ON DELETE SET NULL,
    conversion TEXT NOT NULL DEFAULT '',
    value_micros INTEGER,
    currency TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX conversions_device ON conversions (device_id, at);
CREATE INDEX conversions_app ON conversions (app_id, at);
CREATE INDEX conversions_campaign ON conversions (campaign_id) WHERE campaign_id IS NOT NULL;
"""

# Workers (issue 18): on a PostgreSQL workspace several processes send one campaign,
# each claiming journal rows (in flight, ``claimed_by`` its workers row). A worker's
# lease is its heartbeat plus ``lease_seconds`` by the database's clock; once it is
# past, its in-flight rows are re-queued as possibly duplicated. SQLite gets the same
# columns (one schema) but keeps one sender per campaign and never fills them. On
# PostgreSQL, version 9 also adds the segment prefix index of issue 17
# (schema_pg.SEGMENT_PREFIX_INDEX), which SQLite's LIKE could not use.
_V9_WORKERS = """
ALTER TABLE journal ADD COLUMN claimed_by INTEGER;
CREATE INDEX journal_claimed ON journal (claimed_by) WHERE claimed_by IS NOT NULL;
CREATE TABLE workers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    pid_space TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT 'worker',
    started_at TEXT NOT NULL,
    heartbeat REAL NOT NULL,
    lease_seconds REAL NOT NULL,
    stopped_at TEXT,
    scheduler INTEGER NOT NULL DEFAULT 0,
    sent INTEGER NOT NULL DEFAULT 0
);
"""

# Team roles, approval and the audit log (issue 18) are a PostgreSQL feature (one login
# per member; store/team_schema_pg.py). SQLite has one local user with every right: the
# tables exist, with the same columns, and stay empty.
_V10_TEAM = """
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    object_kind TEXT NOT NULL,
    object_id INTEGER,
    object_name TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE TABLE campaign_reviews (
    campaign_id INTEGER PRIMARY KEY REFERENCES campaigns(id) ON DELETE CASCADE,
    needs_approval INTEGER NOT NULL DEFAULT 0,
    changed_by TEXT NOT NULL DEFAULT '',
    changed_at TEXT,
    approved_by TEXT NOT NULL DEFAULT '',
    approved_at TEXT,
    approved_md5 TEXT NOT NULL DEFAULT ''
);
"""

# Version 11 changes PostgreSQL alone, and SQLite only counts it: the devices' two
# references are checked per statement there (store/pg_references.py; SQLite keeps its
# foreign keys), and journal_summary is kept per statement on insert and delete too
# (schema_pg._QUEUE_PG; SQLite's per-row upsert is one B-tree update, cheap at any count).
_V11_PG_STATEMENTS = ""

MIGRATIONS: tuple[str, ...] = (
    _V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8, _V9_WORKERS, _V10_TEAM, _V11_PG_STATEMENTS
)
SCHEMA_VERSION = len(MIGRATIONS)
