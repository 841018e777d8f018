"""The team's schema on PostgreSQL: roles, approval and the audit log (issue 18).

One migration (``STATEMENTS``), kept in its own module so that its version number is
one line in ``schema_pg.PG_MIGRATIONS`` (``TEAM_VERSION`` below).

- Roles: four group roles ``<prefix>_viewer|editor|sender|admin`` (each a member of the
  one below, so rights add up), created by ``pushdeck_team_setup()`` on the first
  ``members add``. The prefix is random (meta ``team.role_prefix``): roles are
  server-wide and two workspaces on one server must not share them. The rights are
  GRANTs, given by ``pushdeck_team_grants()`` (run again after every migration so a
  new table gets them too). Members are LOGIN roles granted one group.
- Member changes, approval and the audit writes are SECURITY DEFINER functions owned
  by the workspace's owner; each checks the caller's (``session_user``'s) role itself.
- Approval: ``campaign_reviews`` says per campaign whether its last change (by an
  editor) needs a sender's approval and the md5 of app and spec that was approved; a
  change after approval makes the md5 differ, which withdraws it. The trigger
  ``campaigns_send_gate`` refuses the status change to sending (or queued) without it,
  so psql cannot go around the client.
- The audit log is written only by triggers and these functions, records
  ``session_user`` (the login, also inside SECURITY DEFINER functions where
  ``current_user`` is the owner), and refuses UPDATE, DELETE and TRUNCATE for everyone,
  the owner included.

Statements go through ``PgConnection.execute`` (``?`` would become a placeholder): no
``?`` in the bodies, and ``%`` is fine (doubled, then undoubled by psycopg).
"""

from __future__ import annotations

#: The schema version this migration is (the lead renumbers here at merge).
TEAM_VERSION = 10

#: The four group roles, lowest first; each is a member of the one before it.
LEVELS = ("viewer", "editor", "sender", "admin")

#: Tables an editor writes (devices, segments, drafts, campaigns and what their
#: writes touch); senders write every other table too, except these:
EDITOR_TABLES = (
    "devices", "device_tags", "segments", "drafts", "campaigns", "events", "conversions",
    "meta",
)  # fmt: skip
ADMIN_TABLES = ("apps", "credentials", "app_rules")
#: Written only by the owner's functions: nobody is granted more than SELECT.
OWNER_ONLY_TABLES = ("audit_log", "campaign_reviews", "audit_pending")
#: Tables only PostgreSQL has (SQLite keeps no pending audit rows).
TEAM_ONLY_TABLES = frozenset({"audit_pending"})

#: Triggers PostgreSQL has and SQLite has not (SQLite has one user with every right).
TEAM_TRIGGERS = frozenset(
    {
        "audit_log_append_only",
        "audit_log_no_truncate",
        "campaigns_send_gate",
        "campaigns_review",
        "campaigns_audit",
        "segments_audit",
        "drafts_audit",
        "apps_audit",
        "credentials_audit",
        "app_rules_audit",
        "devices_audit_import",
        "devices_audit_delete",
        "events_audit_import",
        "meta_team_keys",
        "audit_pending_flush",
    }
)

_T = 'TEXT COLLATE "C"'

#: Functions a member calls directly (EXECUTE granted to the viewer role, every member).
MEMBER_FUNCTIONS = (
    "pushdeck_member_add(text, text, text)",
    "pushdeck_member_set_role(text, text)",
    "pushdeck_member_remove(text)",
    "pushdeck_campaign_approve(bigint)",
)


def _list(names: tuple[str, ...]) -> str:
    return ", ".join(f"'{n}'" for n in names)


_TABLES = f"""
CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at {_T} NOT NULL,
    who {_T} NOT NULL,
    action {_T} NOT NULL,
    object_kind {_T} NOT NULL,
    object_id BIGINT,
    object_name {_T} NOT NULL DEFAULT '',
    details {_T} NOT NULL DEFAULT '{{}}'
);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE campaign_reviews (
    campaign_id BIGINT PRIMARY KEY REFERENCES campaigns(id) ON DELETE CASCADE,
    needs_approval BIGINT NOT NULL DEFAULT 0,
    changed_by {_T} NOT NULL DEFAULT '',
    changed_at {_T},
    approved_by {_T} NOT NULL DEFAULT '',
    approved_at {_T},
    approved_md5 {_T} NOT NULL DEFAULT ''
);
"""

_HELPERS = """
CREATE FUNCTION pushdeck_now() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

CREATE FUNCTION pushdeck_team_prefix() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT value FROM meta WHERE key = 'team.role_prefix'
$$;

CREATE FUNCTION pushdeck_team_owner() RETURNS name LANGUAGE sql STABLE AS $$
    SELECT tableowner FROM pg_tables
    WHERE schemaname = current_schema() AND tablename = 'meta'
$$;

-- 'owner', 'admin', 'sender', 'editor', 'viewer', or '' (not a member / no team yet).
CREATE FUNCTION pushdeck_team_role_of(who name) RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    prefix text := pushdeck_team_prefix();
    level text;
BEGIN
    IF pg_has_role(who, pushdeck_team_owner(), 'MEMBER') THEN
        RETURN 'owner';
    END IF;
    IF prefix IS NULL THEN
        RETURN '';
    END IF;
    FOREACH level IN ARRAY ARRAY['admin', 'sender', 'editor', 'viewer'] LOOP
        IF pg_has_role(who, prefix || '_' || level, 'MEMBER') THEN
            RETURN level;
        END IF;
    END LOOP;
    RETURN '';
END $$;

CREATE FUNCTION pushdeck_team_role() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT pushdeck_team_role_of(session_user)
$$;

CREATE FUNCTION pushdeck_audit(p_action text, p_kind text, p_id bigint, p_name text,
                               p_details jsonb) RETURNS void
LANGUAGE sql SECURITY DEFINER AS $$
    INSERT INTO audit_log (at, who, action, object_kind, object_id, object_name, details)
    VALUES (pushdeck_now(), session_user, p_action, p_kind, p_id, coalesce(p_name, ''),
            coalesce(p_details, '{}'::jsonb)::text)
$$;

CREATE FUNCTION pushdeck_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'The audit log is append-only: its rows cannot be changed or deleted.'
        USING ERRCODE = '42501';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION pushdeck_audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION pushdeck_audit_append_only();

-- The team's keys in meta are the owner's functions' alone (an editor writes meta for
-- leases and import bookkeeping, and must not point the team at other roles), and the
-- workspace id (what keyring entries hang on) an admin's.
CREATE FUNCTION pushdeck_meta_team_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (TG_OP <> 'INSERT' AND OLD.key LIKE 'team.%')
       OR (TG_OP <> 'DELETE' AND NEW.key LIKE 'team.%') THEN
        IF NOT pg_has_role(current_user, pushdeck_team_owner(), 'MEMBER') THEN
            RAISE EXCEPTION 'Only the workspace owner changes the team settings.'
                USING ERRCODE = '42501';
        END IF;
    END IF;
    -- credentials hang on the workspace id in the keyring: an admin's to change
    IF ((TG_OP <> 'INSERT' AND OLD.key = 'workspace_id')
        OR (TG_OP <> 'DELETE' AND NEW.key = 'workspace_id'))
       AND pushdeck_team_prefix() IS NOT NULL
       AND pushdeck_team_role_of(session_user) NOT IN ('admin', 'owner') THEN
        RAISE EXCEPTION 'Your role % may not change the workspace id; ask an admin.',
            pushdeck_team_role_of(session_user) USING ERRCODE = '42501';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER meta_team_keys BEFORE INSERT OR UPDATE OR DELETE ON meta
    FOR EACH ROW EXECUTE FUNCTION pushdeck_meta_team_keys();
"""

_GRANTS = f"""
-- Every table's rights from scratch: viewer reads all; editors write EDITOR_TABLES;
-- admins ADMIN_TABLES; senders every other table (the journal, and tables added by
-- later migrations); OWNER_ONLY_TABLES are written by the owner's functions only.
CREATE FUNCTION pushdeck_team_grants() RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    prefix text := pushdeck_team_prefix();
    t text;
    writer text;
BEGIN
    IF prefix IS NULL THEN
        RETURN;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), prefix || '_viewer');
    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() LOOP
        EXECUTE format('REVOKE ALL ON TABLE %I FROM %I, %I, %I, %I', t,
            prefix || '_viewer', prefix || '_editor', prefix || '_sender', prefix || '_admin');
        EXECUTE format('GRANT SELECT ON TABLE %I TO %I', t, prefix || '_viewer');
        IF t IN ({_list(OWNER_ONLY_TABLES)}) THEN
            CONTINUE;
        ELSIF t IN ({_list(EDITOR_TABLES)}) THEN
            writer := prefix || '_editor';
        ELSIF t IN ({_list(ADMIN_TABLES)}) THEN
            writer := prefix || '_admin';
        ELSE
            writer := prefix || '_sender';
        END IF;
        EXECUTE format('GRANT INSERT, UPDATE, DELETE ON TABLE %I TO %I', t, writer);
    END LOOP;
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I',
        current_schema(), prefix || '_viewer');
    FOREACH t IN ARRAY ARRAY[{_list(MEMBER_FUNCTIONS)}] LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', t, prefix || '_viewer');
    END LOOP;
END $$;

CREATE FUNCTION pushdeck_team_setup() RETURNS text LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    prefix text := pushdeck_team_prefix();
    lower_level text := '';
    level text;
BEGIN
    IF prefix IS NOT NULL THEN
        RETURN prefix;
    END IF;
    IF NOT pg_has_role(session_user, current_user, 'MEMBER') THEN
        RAISE EXCEPTION 'Only the workspace owner (%) can set up team roles.', current_user
            USING ERRCODE = '42501';
    END IF;
    IF NOT (SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION 'The workspace owner % may not create database roles (CREATEROLE).',
            current_user
            USING ERRCODE = '42501',
                  HINT = format('A database superuser runs once: ALTER ROLE %I CREATEROLE;',
                                current_user);
    END IF;
    prefix := 'pd_' || substr(md5(random()::text || clock_timestamp()::text), 1, 10);
    FOREACH level IN ARRAY ARRAY['viewer', 'editor', 'sender', 'admin'] LOOP
        EXECUTE format('CREATE ROLE %I NOLOGIN', prefix || '_' || level);
        IF lower_level <> '' THEN
            EXECUTE format('GRANT %I TO %I', prefix || '_' || lower_level, prefix || '_' || level);
        END IF;
        lower_level := level;
    END LOOP;
    INSERT INTO meta (key, value) VALUES ('team.role_prefix', prefix);
    PERFORM pushdeck_team_grants();
    PERFORM pushdeck_audit('setup', 'team', NULL, prefix, '{{}}'::jsonb);
    RETURN prefix;
END $$;
"""

_MEMBERS = r"""
CREATE FUNCTION pushdeck_team_require(needed text, what text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    level text := pushdeck_team_role_of(session_user);
    ranks text[] := ARRAY['viewer', 'editor', 'sender', 'admin', 'owner'];
BEGIN
    IF coalesce(array_position(ranks, level), 0) < array_position(ranks, needed) THEN
        RAISE EXCEPTION 'Your role % may not %; ask an admin.',
            CASE WHEN level = '' THEN '(none)' ELSE level END, what
            USING ERRCODE = '42501';
    END IF;
    RETURN level;
END $$;

CREATE FUNCTION pushdeck_team_check_member(p_name text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    prefix text := pushdeck_team_prefix();
BEGIN
    IF p_name !~ '^[a-z_][a-z0-9_]{0,62}$' OR p_name LIKE 'pg\_%' OR p_name LIKE 'pd\_%' THEN
        RAISE EXCEPTION 'The member name % is not allowed.', quote_literal(p_name)
            USING ERRCODE = '22023',
                  HINT = 'Use lower-case letters, digits and _ (not starting with pg_ or pd_).';
    END IF;
    IF p_name = pushdeck_team_owner()
       OR EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_name AND rolsuper) THEN
        RAISE EXCEPTION '% is the workspace owner or a superuser and has every right already.',
            p_name USING ERRCODE = '22023';
    END IF;
END $$;

CREATE FUNCTION pushdeck_member_add(p_name text, p_level text, p_verifier text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    prefix text;
BEGIN
    PERFORM pushdeck_team_require('admin', 'manage members');
    prefix := pushdeck_team_setup();
    PERFORM pushdeck_team_check_member(p_name);
    IF p_level NOT IN ('viewer', 'editor', 'sender', 'admin') THEN
        RAISE EXCEPTION 'Unknown role %.', quote_literal(p_level) USING ERRCODE = '22023';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_name) THEN
        IF pushdeck_team_role_of(p_name::name) <> '' THEN
            RAISE EXCEPTION '% is already a member (%).',
                p_name, pushdeck_team_role_of(p_name::name)
                USING ERRCODE = '42710', HINT = 'Use members set-role to change the role.';
        END IF;
        -- a login of this server (another workspace's member): granted, password kept
    ELSE
        IF p_verifier NOT LIKE 'SCRAM-SHA-256$%' THEN
            RAISE EXCEPTION 'A new member needs a SCRAM-SHA-256 password verifier.'
                USING ERRCODE = '22023';
        END IF;
        EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', p_name, p_verifier);
    END IF;
    EXECUTE format('GRANT %I TO %I', prefix || '_' || p_level, p_name);
    PERFORM pushdeck_audit('create', 'member', NULL, p_name, jsonb_build_object('role', p_level));
END $$;

CREATE FUNCTION pushdeck_member_revoke_all(p_name text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    prefix text := pushdeck_team_prefix();
    level text;
BEGIN
    FOREACH level IN ARRAY ARRAY['viewer', 'editor', 'sender', 'admin'] LOOP
        IF EXISTS (SELECT 1 FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid
                   JOIN pg_roles m ON m.oid = a.member
                   WHERE g.rolname = prefix || '_' || level AND m.rolname = p_name) THEN
            EXECUTE format('REVOKE %I FROM %I', prefix || '_' || level, p_name);
        END IF;
    END LOOP;
END $$;

CREATE FUNCTION pushdeck_member_set_role(p_name text, p_level text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    before text;
BEGIN
    PERFORM pushdeck_team_require('admin', 'manage members');
    PERFORM pushdeck_team_check_member(p_name);
    IF p_level NOT IN ('viewer', 'editor', 'sender', 'admin') THEN
        RAISE EXCEPTION 'Unknown role %.', quote_literal(p_level) USING ERRCODE = '22023';
    END IF;
    before := CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_name)
                   THEN pushdeck_team_role_of(p_name::name) ELSE '' END;
    IF before = '' THEN
        RAISE EXCEPTION '% is not a member of this workspace.', p_name USING ERRCODE = '42704';
    END IF;
    PERFORM pushdeck_member_revoke_all(p_name);
    EXECUTE format('GRANT %I TO %I', pushdeck_team_prefix() || '_' || p_level, p_name);
    PERFORM pushdeck_audit('change', 'member', NULL, p_name,
                           jsonb_build_object('role', p_level, 'was', before));
END $$;

-- Removed from this workspace; the login itself is dropped when no other role
-- (another workspace's) holds it.
CREATE FUNCTION pushdeck_member_remove(p_name text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    before text;
    dropped boolean := false;
BEGIN
    PERFORM pushdeck_team_require('admin', 'manage members');
    PERFORM pushdeck_team_check_member(p_name);
    before := CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_name)
                   THEN pushdeck_team_role_of(p_name::name) ELSE '' END;
    IF before = '' THEN
        RAISE EXCEPTION '% is not a member of this workspace.', p_name USING ERRCODE = '42704';
    END IF;
    PERFORM pushdeck_member_revoke_all(p_name);
    IF NOT EXISTS (SELECT 1 FROM pg_auth_members a JOIN pg_roles m ON m.oid = a.member
                   WHERE m.rolname = p_name) THEN
        BEGIN
            EXECUTE format('DROP ROLE %I', p_name);
            dropped := true;
        EXCEPTION WHEN dependent_objects_still_exist OR object_in_use THEN
            dropped := false;  -- it owns something elsewhere: only its membership goes
        END;
    END IF;
    PERFORM pushdeck_audit('delete', 'member', NULL, p_name,
                           jsonb_build_object('was', before, 'login_dropped', dropped));
    RETURN dropped;
END $$;
"""

_APPROVAL = """
CREATE FUNCTION pushdeck_campaign_md5(p_app_id bigint, p_spec text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT md5(p_app_id::text || ':' || p_spec)
$$;

-- Whether the campaign may be sent as it is: no approval needed (its last change was
-- not an editor's), or approved with exactly this app and spec.
CREATE FUNCTION pushdeck_approval_ok(p_campaign bigint, p_md5 text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT needs_approval = 0 OR approved_md5 = p_md5
         FROM campaign_reviews WHERE campaign_id = p_campaign),
        true)
$$;

CREATE FUNCTION pushdeck_campaigns_review() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    level text := pushdeck_team_role_of(session_user);
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.spec IS NOT DISTINCT FROM OLD.spec
       AND NEW.app_id IS NOT DISTINCT FROM OLD.app_id THEN
        RETURN NULL;
    END IF;
    INSERT INTO campaign_reviews AS r (campaign_id, needs_approval, changed_by, changed_at)
    VALUES (NEW.id, CASE WHEN level IN ('editor', 'viewer') THEN 1 ELSE 0 END,
            session_user, pushdeck_now())
    ON CONFLICT (campaign_id) DO UPDATE SET
        needs_approval = EXCLUDED.needs_approval, changed_by = EXCLUDED.changed_by,
        changed_at = EXCLUDED.changed_at;
    RETURN NULL;
END $$;
CREATE TRIGGER campaigns_review AFTER INSERT OR UPDATE OF spec, app_id ON campaigns
    FOR EACH ROW EXECUTE FUNCTION pushdeck_campaigns_review();

CREATE FUNCTION pushdeck_campaigns_send_gate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    level text;
BEGIN
    IF pushdeck_team_prefix() IS NULL THEN
        RETURN NEW;  -- no team: the owner alone, with every right
    END IF;
    level := pushdeck_team_role_of(session_user);
    IF level NOT IN ('sender', 'admin', 'owner') THEN
        RAISE EXCEPTION 'Your role % may not send campaigns; ask a sender or an admin.',
            CASE WHEN level = '' THEN '(none)' ELSE level END
            USING ERRCODE = '42501';
    END IF;
    IF TG_OP = 'UPDATE'
       AND NOT pushdeck_approval_ok(NEW.id, pushdeck_campaign_md5(NEW.app_id, NEW.spec)) THEN
        RAISE EXCEPTION 'Campaign % needs the approval of a sender before it is sent.',
            quote_literal(NEW.name)
            USING ERRCODE = '42501',
                  HINT = format('A sender runs: pushdeck campaigns approve %s', NEW.name);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER campaigns_send_gate BEFORE INSERT OR UPDATE OF status ON campaigns
    FOR EACH ROW WHEN (NEW.status IN ('sending', 'queued'))
    EXECUTE FUNCTION pushdeck_campaigns_send_gate();

CREATE FUNCTION pushdeck_campaign_approve(p_campaign bigint) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    c campaigns;
    digest text;
BEGIN
    PERFORM pushdeck_team_require('sender', 'approve campaigns');
    SELECT * INTO c FROM campaigns WHERE id = p_campaign FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'No campaign with id %.', p_campaign USING ERRCODE = 'P0002';
    END IF;
    digest := pushdeck_campaign_md5(c.app_id, c.spec);
    INSERT INTO campaign_reviews AS r (campaign_id, needs_approval, changed_by, approved_by,
                                       approved_at, approved_md5)
    VALUES (c.id, 0, '', session_user, pushdeck_now(), digest)
    ON CONFLICT (campaign_id) DO UPDATE SET approved_by = EXCLUDED.approved_by,
        approved_at = EXCLUDED.approved_at, approved_md5 = EXCLUDED.approved_md5;
    PERFORM pushdeck_audit('approve', 'campaign', c.id, c.name, jsonb_build_object('md5', digest));
    RETURN session_user;
END $$;
"""

_AUDIT_TRIGGERS = f"""
-- Row changes of the small tables: create / change / delete, and a campaign's status
-- changes as send / cancel / status. Rows are read as JSON: the tables differ.
CREATE FUNCTION pushdeck_audit_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    kind text := TG_ARGV[0];
    row_now jsonb := CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END;
    row_before jsonb := CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE to_jsonb(OLD) END;
    act text := lower(TG_OP);
    details jsonb := '{{}}'::jsonb;
    label text;
BEGIN
    IF act = 'insert' THEN
        act := 'create';
    ELSIF act = 'update' THEN
        act := 'change';
    END IF;
    IF kind = 'campaign' AND TG_OP = 'UPDATE' THEN
        IF row_now->>'status' IS DISTINCT FROM row_before->>'status' THEN
            act := CASE row_now->>'status' WHEN 'sending' THEN 'send' WHEN 'queued' THEN 'send'
                   WHEN 'cancelled' THEN 'cancel' ELSE 'status' END;
            details := jsonb_build_object('from', row_before->>'status', 'to', row_now->>'status');
        ELSIF (row_now - 'updated_at' - 'started_at' - 'finished_at' - 'error')
              = (row_before - 'updated_at' - 'started_at' - 'finished_at' - 'error') THEN
            RETURN NULL;  -- bookkeeping only
        END IF;
    END IF;
    IF kind IN ('credential', 'app_rules') THEN
        label := (SELECT name FROM apps WHERE id = (row_now->>'app_id')::bigint);
        IF kind = 'credential' THEN
            label := coalesce(label, '') || ' ' || (row_now->>'provider');
            details := jsonb_build_object('provider', row_now->>'provider',
                                          'kind', row_now->>'kind');
        END IF;
    ELSE
        label := row_now->>'name';
    END IF;
    PERFORM pushdeck_audit(act, kind, (row_now->>'id')::bigint, label, details);
    RETURN NULL;
END $$;
CREATE TRIGGER campaigns_audit AFTER INSERT OR UPDATE OR DELETE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION pushdeck_audit_row('campaign');
CREATE TRIGGER segments_audit AFTER INSERT OR UPDATE OR DELETE ON segments
    FOR EACH ROW EXECUTE FUNCTION pushdeck_audit_row('segment');
CREATE TRIGGER drafts_audit AFTER INSERT OR UPDATE OR DELETE ON drafts
    FOR EACH ROW EXECUTE FUNCTION pushdeck_audit_row('draft');
CREATE TRIGGER apps_audit AFTER INSERT OR UPDATE OR DELETE ON apps
    FOR EACH ROW EXECUTE FUNCTION pushdeck_audit_row('app');
CREATE TRIGGER credentials_audit AFTER INSERT OR UPDATE OR DELETE ON credentials
    FOR EACH ROW EXECUTE FUNCTION pushdeck_audit_row('credential');
CREATE TRIGGER app_rules_audit AFTER INSERT OR UPDATE OR DELETE ON app_rules
    FOR EACH ROW EXECUTE FUNCTION pushdeck_audit_row('app_rules');

-- Devices and events come by the thousand, often one statement per row (executemany):
-- one audit row per transaction, with the count. Each statement adds its rows to a
-- transaction-local counter; the first also parks a row in audit_pending, whose
-- deferred trigger writes the audit row once, at commit.
CREATE TABLE audit_pending (
    xact {_T} NOT NULL,
    what {_T} NOT NULL,
    PRIMARY KEY (xact, what)
);

CREATE FUNCTION pushdeck_audit_flush() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    setting text := 'pushdeck.audit_' || replace(NEW.what, ':', '_');
    n bigint := coalesce(nullif(current_setting(setting, true), ''), '0')::bigint;
BEGIN
    PERFORM pushdeck_audit(split_part(NEW.what, ':', 1), split_part(NEW.what, ':', 2), NULL, '',
                           jsonb_build_object('rows', n));
    PERFORM set_config(setting, '0', true);
    DELETE FROM audit_pending WHERE xact = NEW.xact AND what = NEW.what;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER audit_pending_flush AFTER INSERT ON audit_pending
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION pushdeck_audit_flush();

-- One function call per statement (they run once per row of an executemany): count,
-- add to the transaction's counter, park the flush on the first.
CREATE FUNCTION pushdeck_audit_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    setting text := 'pushdeck.audit_import_' || TG_ARGV[0];
    so_far bigint := coalesce(nullif(current_setting(setting, true), ''), '0')::bigint;
    n bigint := (SELECT count(*) FROM new_rows);
BEGIN
    IF n > 0 THEN
        PERFORM set_config(setting, (so_far + n)::text, true);
        IF so_far = 0 THEN
            INSERT INTO audit_pending (xact, what)
            VALUES (pg_current_xact_id()::text, 'import:' || TG_ARGV[0]);
        END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE FUNCTION pushdeck_audit_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    setting text := 'pushdeck.audit_delete_' || TG_ARGV[0];
    so_far bigint := coalesce(nullif(current_setting(setting, true), ''), '0')::bigint;
    n bigint := (SELECT count(*) FROM old_rows);
BEGIN
    IF n > 0 THEN
        PERFORM set_config(setting, (so_far + n)::text, true);
        IF so_far = 0 THEN
            INSERT INTO audit_pending (xact, what)
            VALUES (pg_current_xact_id()::text, 'delete:' || TG_ARGV[0]);
        END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER devices_audit_import AFTER INSERT ON devices
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pushdeck_audit_inserted('devices');
CREATE TRIGGER devices_audit_delete AFTER DELETE ON devices
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pushdeck_audit_deleted('devices');
CREATE TRIGGER events_audit_import AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pushdeck_audit_inserted('events');
"""

# The owner's functions run with a fixed search_path (the workspace's schema), never the
# caller's: otherwise a member could shadow a table with one of their own.
_HARDEN = """
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             WHERE p.pronamespace = current_schema()::regnamespace
               AND p.proname LIKE 'pushdeck\\_%' AND p.prosecdef LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END $$;
"""

#: The events trigger updates the journal, which only senders write: an editor's event
#: import must still reach it (the function does nothing else).
_EXISTING = """
ALTER FUNCTION pushdeck_events_engagement() SECURITY DEFINER;
"""

#: What the migration runs, in order (one statement each).
SCRIPT = _TABLES + _HELPERS + _GRANTS + _MEMBERS + _APPROVAL + _AUDIT_TRIGGERS + _EXISTING + _HARDEN
