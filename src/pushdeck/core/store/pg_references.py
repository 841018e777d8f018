"""Schema 11 on PostgreSQL: the devices' two references, checked once per statement.

A foreign key checks every row on its own: on a million-device import that was 5–6 s
of a 35 s merge (``devices.app_id`` → ``apps`` and ``device_tags.device_id`` →
``devices``, one lookup and one row lock each), and a role that is not a superuser
cannot set those checks aside. Statement triggers with transition tables keep the same
guarantees with one set-based query per statement:

- a device must name an existing app. The apps a statement's new rows name are locked
  ``FOR KEY SHARE``, as a foreign key locks them, so an app deleted meanwhile either
  waits for this transaction or is seen gone (a new statement, a new snapshot) and the
  insert fails with the same error a foreign key raises (SQLSTATE 23503). Changing a
  device's app is checked row by row (it never happens; a statement trigger cannot
  watch one column);
- deleting an app deletes its devices, and deleting devices deletes their tags
  (``ON DELETE CASCADE`` before). Under READ COMMITTED each cascade is a new statement,
  so it sees rows committed by a transaction it waited for, as a foreign key's does.

``device_tags`` is derived data: its rows are written only by the devices' own triggers
and the import merge, for the device rows the same statement writes (and so locks),
from ``devices.tags``; nothing needs to check them again. The functions run as the
tables' owner (as foreign-key checks do), so a member needs no right on ``apps`` to add
a device. SQLite keeps its foreign keys: there they cost little.
"""

from __future__ import annotations

REFERENCES_VERSION = 11

#: The triggers standing in for the two foreign keys (PostgreSQL only).
TRIGGERS = frozenset(
    {"devices_app_exists", "devices_app_changed", "apps_delete_devices", "devices_delete_tags"}
)

#: The message a foreign key gives, so that errors read as they did.
_VIOLATION = (
    'insert or update on table "devices" violates foreign key constraint "devices_app_id_fkey"'
)

REFERENCES_PG: tuple[str, ...] = (
    "ALTER TABLE devices DROP CONSTRAINT devices_app_id_fkey",
    "ALTER TABLE device_tags DROP CONSTRAINT device_tags_device_id_fkey",
    f"""CREATE FUNCTION pushdeck_devices_app_exists() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    missing bigint;
BEGIN
    PERFORM 1 FROM apps WHERE id IN (SELECT DISTINCT app_id FROM new_devices)
        FOR KEY SHARE;
    SELECT n.app_id INTO missing
    FROM (SELECT DISTINCT app_id FROM new_devices) n
    WHERE NOT EXISTS (SELECT 1 FROM apps a WHERE a.id = n.app_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '{_VIOLATION}'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (app_id)=(%s) is not present in table "apps".', missing);
    END IF;
    RETURN NULL;
END $$""",
    f"""CREATE FUNCTION pushdeck_device_app_changed() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM 1 FROM apps WHERE id = NEW.app_id FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION '{_VIOLATION}'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (app_id)=(%s) is not present in table "apps".', NEW.app_id);
    END IF;
    RETURN NULL;
END $$""",
    """CREATE FUNCTION pushdeck_apps_delete_devices() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM devices WHERE app_id IN (SELECT id FROM old_apps);
    RETURN NULL;
END $$""",
    """CREATE FUNCTION pushdeck_devices_delete_tags() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM device_tags t USING old_devices o WHERE t.device_id = o.id;
    RETURN NULL;
END $$""",
    "CREATE TRIGGER devices_app_exists AFTER INSERT ON devices"
    " REFERENCING NEW TABLE AS new_devices"
    " FOR EACH STATEMENT EXECUTE FUNCTION pushdeck_devices_app_exists()",
    "CREATE TRIGGER devices_app_changed AFTER UPDATE OF app_id ON devices"
    " FOR EACH ROW WHEN (OLD.app_id IS DISTINCT FROM NEW.app_id)"
    " EXECUTE FUNCTION pushdeck_device_app_changed()",
    "CREATE TRIGGER apps_delete_devices AFTER DELETE ON apps"
    " REFERENCING OLD TABLE AS old_apps"
    " FOR EACH STATEMENT EXECUTE FUNCTION pushdeck_apps_delete_devices()",
    "CREATE TRIGGER devices_delete_tags AFTER DELETE ON devices"
    " REFERENCING OLD TABLE AS old_devices"
    " FOR EACH STATEMENT EXECUTE FUNCTION pushdeck_devices_delete_tags()",
)
