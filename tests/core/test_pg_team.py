"""Members, roles, approval and the audit log on a shared PostgreSQL workspace (issue 18).

Each member is a real login on a real server; the rights are tried from outside: the
core's calls as that member, raw psycopg, and the real psql in a subprocess, since a
member can connect with psql and the database must refuse what the role may not do.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import psycopg
import pytest

from pushdeck.core.campaigns.approval import approval_state, approve_campaign, require_approved
from pushdeck.core.campaigns.dispatch import send_campaign_async
from pushdeck.core.campaigns.library import create_campaign, get_campaign, update_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.errors import ConfigError, PermissionDeniedError
from pushdeck.core.common.model import App, ProviderKind
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from pushdeck.core.store.members import team_prefix
from pushdeck.core.store.segment_rules import parse_rule
from pushdeck.core.store.segments import Segment, save_segment
from pushdeck.core.team.audit import list_audit
from pushdeck.core.team.members import add_member, list_members, remove_member, set_member_role
from tests.core.campaign_helpers import FakeProvider, add_devices
from tests.core.pg_team import Team, cli, drop_team, make_team, psql, team
from tests.pg_fixtures import PgServer

__all__ = ["team"]  # the fixture


def _doc(name: str, title: str = "Hello") -> dict[str, object]:
    return {"name": name, "app": "shop", "audience": {"all": True}, "message": {"title": title}}


def _members(team: Team, owner: Workspace, **roles: str) -> dict[str, str]:
    """Add members (base name -> role); their unique login names by base name."""
    names = {}
    for base, role in roles.items():
        name = team.name(base)
        add_member(owner, name, role, team.password(name))
        names[base] = name
    return names


def _send(ws: Workspace, name: str) -> str:
    provider = FakeProvider()
    summary = asyncio.run(
        send_campaign_async(ws, name, providers={ProviderKind.APNS: provider})  # type: ignore[dict-item]
    )
    return summary.status


def test_an_editors_campaign_is_sent_only_after_a_sender_approves_it(team: Team) -> None:
    with Workspace.open(team.uri()) as owner:
        add_app(owner, App("shop", apns_topic="com.example.shop"))
        names = _members(team, owner, ed="editor", se="sender")
    with Workspace.open(team.uri(names["ed"])) as ed, Workspace.open(team.uri(names["se"])) as se:
        add_devices(ed, [{"token": f"{i:064x}"} for i in range(5)])  # an editor imports
        campaign = create_campaign(ed, spec_from_dict(_doc("Spring")))

        with pytest.raises(PermissionDeniedError) as caught:
            _send(ed, "Spring")
        assert str(caught.value).startswith("Your role editor may not send campaigns")
        with pytest.raises(PermissionDeniedError) as caught:
            _send(se, "Spring")
        assert "needs the approval of a sender" in str(caught.value)
        assert f"Changed by {names['ed']}" in str(caught.value)
        # The database refuses the same, for anyone going around the client:
        with psycopg.connect(team.uri(names["se"]), autocommit=True) as raw:
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as denied:
                raw.execute("UPDATE campaigns SET status = 'sending' WHERE id = %s", (campaign.id,))
        assert "needs the approval of a sender" in str(denied.value)

        refusal = "Your role editor may not approve campaigns; ask a sender or an admin"
        with pytest.raises(PermissionDeniedError, match=refusal):
            approve_campaign(ed, "Spring")
        state = approve_campaign(se, "Spring")
        assert state.approved_by == names["se"] and state.current and state.ok
        assert _send(se, "Spring") == "sent"
        assert get_campaign(ed, "Spring").status == "sent"


def test_a_change_after_approval_withdraws_it(team: Team) -> None:
    with Workspace.open(team.uri()) as owner:
        add_app(owner, App("shop", apns_topic="com.example.shop"))
        names = _members(team, owner, ed="editor", se="sender")
    with Workspace.open(team.uri(names["ed"])) as ed, Workspace.open(team.uri(names["se"])) as se:
        create_campaign(ed, spec_from_dict(_doc("Summer")))
        approve_campaign(se, "Summer")
        require_approved(se, get_campaign(se, "Summer"))  # approved: no error
        update_campaign(ed, "Summer", spec_from_dict(_doc("Summer", title="Changed")))
        state = approval_state(se, get_campaign(se, "Summer"))
        assert not state.ok and state.approved_by == names["se"]
        assert "needs approval again" in state.describe()
        with pytest.raises(PermissionDeniedError, match="needs the approval"):
            require_approved(se, get_campaign(se, "Summer"))
        # A sender's own change needs no approval (a sender may send it anyway).
        update_campaign(se, "Summer", spec_from_dict(_doc("Summer", title="By a sender")))
        require_approved(se, get_campaign(se, "Summer"))


def test_a_viewers_writes_are_refused_by_the_database_itself(team: Team) -> None:
    with Workspace.open(team.uri()) as owner:
        add_app(owner, App("shop", apns_topic="com.example.shop"))
        create_campaign(owner, spec_from_dict(_doc("Owned")))
        names = _members(team, owner, vi="viewer", ed="editor")
    vi, ed = names["vi"], names["ed"]

    # psql, as a member with a terminal would:
    read = psql(team, vi, "SELECT count(*) FROM campaigns")
    assert read.returncode == 0 and read.stdout.strip() == "1", read.stderr
    for statement in (
        "INSERT INTO segments (name, rule, created_at, updated_at) VALUES ('x', '{}', 'a', 'a')",
        "UPDATE campaigns SET spec = '{}'",
        "DELETE FROM devices",
        "UPDATE campaigns SET status = 'sending'",
        "INSERT INTO audit_log (at, who, action, object_kind) VALUES ('a', 'me', 'x', 'y')",
    ):
        done = psql(team, vi, statement)
        assert done.returncode != 0, statement
        assert "permission denied" in done.stderr, done.stderr
    done = psql(team, vi, "SELECT pushdeck_campaign_approve(1)")
    assert done.returncode != 0 and "may not approve campaigns" in done.stderr, done.stderr
    # an editor writes campaigns but cannot start a send, even by hand:
    done = psql(team, ed, "UPDATE campaigns SET status = 'sending'")
    assert done.returncode != 0 and "may not send campaigns" in done.stderr, done.stderr
    done = psql(
        team,
        ed,
        "INSERT INTO campaigns (name, app_id, status, spec, created_at,"
        " updated_at) SELECT 'Sneaky', id, 'sending', '{}', 'a', 'a' FROM apps",
    )
    assert done.returncode != 0 and "may not send campaigns" in done.stderr, done.stderr
    # nor write the audit log through the owner's function
    done = psql(team, ed, "SELECT pushdeck_audit('approve', 'campaign', 1, 'Owned', '{}')")
    assert done.returncode != 0 and "permission denied for function" in done.stderr
    done = psql(team, ed, "DELETE FROM credentials")
    assert done.returncode != 0 and "permission denied for table credentials" in done.stderr

    # psycopg, raw:
    with psycopg.connect(team.uri(vi), autocommit=True) as raw:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            raw.execute("UPDATE campaigns SET name = 'mine'")
    # through the core, a sentence and not a traceback:
    with Workspace.open(team.uri(vi)) as viewer:
        with pytest.raises(PermissionDeniedError) as caught:
            save_segment(viewer, Segment("ios", parse_rule("platform = ios")))
        assert str(caught.value) == "Your role viewer may not add to segments; ask an admin."
        assert get_campaign(viewer, "Owned").name == "Owned"  # reading is fine
    with Workspace.open(team.uri()) as owner:
        assert owner.scalar("SELECT count(*) FROM segments") == 0
        assert get_campaign(owner, "Owned").spec.message.title == "Hello"


def test_the_audit_log_names_each_step_and_cannot_be_rewritten(team: Team) -> None:
    with Workspace.open(team.uri()) as owner:
        add_app(owner, App("shop", apns_topic="com.example.shop"))
        names = _members(team, owner, ed="editor", se="sender")
    with Workspace.open(team.uri(names["ed"])) as ed, Workspace.open(team.uri(names["se"])) as se:
        add_devices(ed, [{"token": f"{i:064x}"} for i in range(3)])
        create_campaign(ed, spec_from_dict(_doc("Autumn")))
        approve_campaign(se, "Autumn")
        assert _send(se, "Autumn") == "sent"
    with Workspace.open(team.uri()) as owner:
        set_member_role(owner, names["ed"], "viewer")
        entries = list_audit(owner)
    steps = [(e.who, e.action, e.object_kind, e.object_name) for e in entries]
    ed_, se_, own = names["ed"], names["se"], team.owner
    expected = [
        (own, "setup", "team"),
        (own, "create", "app", "shop"),
        (own, "create", "member", ed_),
        (own, "create", "member", se_),
        (ed_, "import", "devices", ""),
        (ed_, "create", "campaign", "Autumn"),
        (se_, "approve", "campaign", "Autumn"),
        (se_, "send", "campaign", "Autumn"),
        (se_, "status", "campaign", "Autumn"),
        (own, "change", "member", ed_),
    ]
    got = [s for s in steps if s[1] != "setup"]
    assert next(s for s in steps if s[1] == "setup")[:3] == expected[0]
    assert got == [e for e in expected if e[1] != "setup"]
    import_entry = next(e for e in entries if e.action == "import")
    assert import_entry.details == {"rows": 3}  # one row per import, not one per device
    assert next(e for e in entries if e.action == "status").details == {
        "from": "sending", "to": "sent",
    }  # fmt: skip
    assert entries[-1].details == {"role": "viewer", "was": "editor"}

    # Append-only for everyone, the owner included (psql and psycopg):
    for statement in ("UPDATE audit_log SET who = 'nobody'", "DELETE FROM audit_log",
                      "TRUNCATE audit_log"):  # fmt: skip
        done = psql(team, team.owner, statement)
        assert done.returncode != 0 and "append-only" in done.stderr, (statement, done.stderr)
    with psycopg.connect(team.uri(), autocommit=True) as raw:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            raw.execute("DELETE FROM audit_log WHERE action = 'approve'")
        assert raw.execute("SELECT count(*) FROM audit_log").fetchone() == (len(entries),)


def test_members_are_managed_by_admins_only_and_listed(team: Team) -> None:
    with Workspace.open(team.uri()) as owner:
        names = _members(team, owner, ad="admin", ed="editor")
    with Workspace.open(team.uri(names["ad"])) as admin:
        newcomer = team.name("new")
        add_member(admin, newcomer, "viewer", team.password(newcomer))  # an admin adds
        assert {(m.name, m.role) for m in list_members(admin)} == {
            (team.owner, "owner"), (names["ad"], "admin"), (names["ed"], "editor"),
            (newcomer, "viewer"),
        }  # fmt: skip
    with Workspace.open(team.uri(newcomer)) as new:
        assert new.scalar("SELECT count(*) FROM campaigns") == 0  # the new login works
    with Workspace.open(team.uri(names["ed"])) as ed:
        with pytest.raises(PermissionDeniedError, match="Your role editor may not manage members"):
            add_member(ed, team.name("sneaky"), "admin", "pw")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="may not manage members"):
            ed.conn.raw.execute("SELECT pushdeck_member_set_role(%s, 'admin')", (names["ed"],))
    with Workspace.open(team.uri()) as owner:
        with pytest.raises(ConfigError, match="already a member"):
            add_member(owner, names["ed"], "sender", "pw")
        assert remove_member(owner, newcomer) is True
        assert owner.scalar("SELECT 1 FROM pg_roles WHERE rolname = ?", (newcomer,)) is None
        with pytest.raises(ConfigError, match="not a member"):
            set_member_role(owner, newcomer, "editor")


def test_the_owner_without_createrole_is_told_what_to_do(pg_server: PgServer) -> None:
    team = make_team(pg_server, createrole=False)
    try:
        with Workspace.open(team.uri()) as owner:
            with pytest.raises(PermissionDeniedError) as caught:
                add_member(owner, team.name("ed"), "editor", "secret")
            assert "may not create database roles (CREATEROLE)" in str(caught.value)
            assert f"ALTER ROLE {team.owner} CREATEROLE" in str(caught.value)
            assert owner.scalar("SELECT value FROM meta WHERE key = 'team.role_prefix'") is None
    finally:
        drop_team(team)


def test_two_workspaces_on_one_server_have_their_own_roles(pg_server: PgServer) -> None:
    first, second = make_team(pg_server), make_team(pg_server)
    try:
        prefixes = []
        for one in (first, second):
            with Workspace.open(one.uri()) as owner:
                _members(one, owner, ed="editor")
                prefixes.append(team_prefix(owner))
        assert prefixes[0] != prefixes[1]
        # first's editor can read nothing of the second workspace
        stranger = first.name("ed")
        second.passwords[stranger] = first.passwords[stranger]
        done = psql(second, stranger, "SELECT count(*) FROM campaigns")
        assert done.returncode != 0 and "permission denied" in done.stderr
    finally:
        drop_team(first)
        drop_team(second)


def test_the_cli_manages_members_and_lists_the_audit_log(team: Team) -> None:
    Workspace.open(team.uri()).close()  # the owner made the workspace
    ed = team.name("ed")
    env = {"NEW_PW": "correct horse battery"}
    added = cli(team.uri(), "members", "add", ed, "--role", "editor", "--password-env", "NEW_PW",
                env=env)  # fmt: skip
    assert added.returncode == 0, added.stderr
    team.passwords[ed] = env["NEW_PW"]
    listed = cli(team.uri(ed), "members", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {"name": ed, "role": "editor", "can_login": True} in json.loads(listed.stdout)
    refused = cli(team.uri(ed), "members", "add", team.name("x"), "--role", "admin",
                  "--password-env", "NEW_PW", env=env)  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "pushdeck: Your role editor may not manage members; ask an admin."
    )
    assert "Traceback" not in refused.stderr
    assert cli(team.uri(), "members", "set-role", ed, "sender").returncode == 0
    log = cli(team.uri(ed), "audit", "list", "--json", "--since", "1d")
    assert log.returncode == 0, log.stderr
    actions = [(e["who"], e["action"], e["object_name"]) for e in json.loads(log.stdout)]
    assert (team.owner, "create", ed) in actions and (team.owner, "change", ed) in actions
    text = cli(team.uri(ed), "audit", "list")
    assert text.returncode == 0 and "member" in text.stdout and ed in text.stdout
    removed = cli(team.uri(), "members", "remove", ed)
    assert removed.returncode == 0 and "login dropped" in removed.stdout, removed.stderr


def test_the_password_never_reaches_the_servers_log_only_its_verifier(
    team: Team, pg_server: PgServer
) -> None:
    if pg_server.directory is None:
        pytest.skip("the server's log is not ours to read")
    with pg_server.connect_admin() as admin:  # log every statement of this database
        admin.execute(f"ALTER DATABASE \"{team.dbname}\" SET log_statement = 'all'")
    password = "tell-no-one-4b1d"
    with Workspace.open(team.uri()) as owner:
        add_member(owner, team.name("ed"), "editor", password)
    log = (pg_server.directory / "server.log").read_text(errors="replace")
    assert "pushdeck_member_add" in log  # the statement was logged ...
    assert password not in log  # ... without the password
    with psycopg.connect(pg_server.admin_dsn) as admin:
        stored = admin.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (team.name("ed"),)
        ).fetchone()
    assert stored is not None and str(stored[0]).startswith("SCRAM-SHA-256$4096:")


def test_on_a_workspace_file_nothing_changes(tmp_path: Path) -> None:
    with Workspace.open(tmp_path / "w.pushdeck") as ws:
        add_app(ws, App("shop", apns_topic="com.example.shop"))
        create_campaign(ws, spec_from_dict(_doc("Local")))
        require_approved(ws, get_campaign(ws, "Local"))  # one user with every right
        assert list_audit(ws) == []
    listed = cli(str(tmp_path / "w.pushdeck"), "members", "list")
    assert listed.returncode == 1 and "members and roles need a shared workspace" in listed.stderr
    log = cli(str(tmp_path / "w.pushdeck"), "audit", "list")
    assert log.returncode == 0 and "team feature" in log.stdout


def test_an_editor_imports_devices_and_events_with_the_cli(team: Team, tmp_path: Path) -> None:
    with Workspace.open(team.uri()) as owner:
        add_app(owner, App("shop", apns_topic="com.example.shop"))
        names = _members(team, owner, ed="editor", vi="viewer")
    devices = tmp_path / "devices.csv"
    devices.write_text("token,platform\n" + "".join(f"{i:064x},ios\n" for i in range(40)))
    done = cli(team.uri(names["ed"]), "devices", "import", str(devices), "--app", "shop")
    assert done.returncode == 0, done.stderr
    refused = cli(team.uri(names["vi"]), "devices", "import", str(devices), "--app", "shop")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "Your role viewer may not" in refused.stderr, refused.stderr
    with Workspace.open(team.uri()) as owner:
        assert owner.scalar("SELECT count(*) FROM devices") == 40
        imports = [e for e in list_audit(owner) if e.action == "import"]
    assert [(e.who, e.details) for e in imports] == [(names["ed"], {"rows": 40})]
    done = psql(team, names["ed"], "UPDATE meta SET value = 'x' WHERE key = 'team.role_prefix'")
    assert done.returncode != 0 and "Only the workspace owner" in done.stderr
    # nor the workspace id the keyring entries hang on (an admin's)
    done = psql(team, names["ed"], "INSERT INTO meta VALUES ('workspace_id', 'mine')")
    assert done.returncode != 0 and "may not change the workspace id" in done.stderr


def test_the_scheduler_leaves_an_unapproved_campaign_and_sends_the_others(team: Team) -> None:
    from datetime import UTC, datetime, timedelta

    from pushdeck.core.campaigns.scheduling import RunDueReport, run_due

    due = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    with Workspace.open(team.uri()) as owner:
        add_app(owner, App("shop", apns_topic="com.example.shop"))
        names = _members(team, owner, ed="editor", se="sender")
    schedule = {"at": due.strftime("%Y-%m-%dT%H:%M:%SZ")}
    with Workspace.open(team.uri(names["ed"])) as ed, Workspace.open(team.uri(names["se"])) as se:
        add_devices(ed, [{"token": f"{i:064x}"} for i in range(4)])
        create_campaign(ed, spec_from_dict({**_doc("By editor"), "schedule": schedule}))
        create_campaign(se, spec_from_dict({**_doc("By sender"), "schedule": schedule}))
        fake = FakeProvider()
        providers = {ProviderKind.APNS: fake}

        def run() -> RunDueReport:
            later = due + timedelta(minutes=1)
            return asyncio.run(run_due(se, lambda app: providers, now=later))  # type: ignore[arg-type, return-value]

        report = run()
        assert report.sent == ["By sender"] and report.refused == ["By editor"]
        assert "needs the approval of a sender" in report.refusals[0]
        assert get_campaign(se, "By editor").status == "scheduled"
        approve_campaign(se, "By editor")
        report = run()
        assert report.sent == ["By editor"] and report.refused == []
        assert get_campaign(se, "By editor").status == "sent"
        assert len(fake.received) == 8


def test_the_cli_refuses_an_editors_send_and_a_sender_approves(team: Team) -> None:
    with Workspace.open(team.uri()) as owner:
        add_app(owner, App("shop", apns_topic="com.example.shop"))
        names = _members(team, owner, ed="editor", se="sender")
    with Workspace.open(team.uri(names["ed"])) as ed:
        create_campaign(ed, spec_from_dict(_doc("Winter")))
    sent = cli(team.uri(names["ed"]), "campaigns", "send", "Winter")
    assert sent.returncode == 1 and "Traceback" not in sent.stderr
    assert sent.stderr.strip() == (
        "pushdeck: Your role editor may not send campaigns; ask a sender or an admin."
    )
    sent = cli(team.uri(names["se"]), "campaigns", "send", "Winter")
    assert sent.returncode == 1
    assert "Campaign 'Winter' needs the approval of a sender" in sent.stderr
    assert "pushdeck campaigns approve Winter" in sent.stderr
    refused = cli(team.uri(names["ed"]), "campaigns", "approve", "Winter")
    assert refused.returncode == 1 and "may not approve campaigns" in refused.stderr
    approved = cli(team.uri(names["se"]), "campaigns", "approve", "Winter", "--json")
    assert approved.returncode == 0, approved.stderr
    assert json.loads(approved.stdout)["approved_by"] == names["se"]


def test_workspace_copy_skips_the_audit_log_and_keeps_each_sides_team(
    team: Team, tmp_path: Path
) -> None:
    from pushdeck.core.store.copy import copy_workspace, verify

    with Workspace.open(team.uri()) as owner:
        add_app(owner, App("shop", apns_topic="com.example.shop"))
        names = _members(team, owner, ed="editor")
    with Workspace.open(team.uri(names["ed"])) as ed:
        create_campaign(ed, spec_from_dict(_doc("Copied")))  # needs approval here
    with Workspace.open(team.uri()) as shared, Workspace.open(tmp_path / "w.pushdeck") as file:
        log_before = len(list_audit(shared))
        prefix = team_prefix(shared)
        copy_workspace(shared, file)  # the team's database into a file
        assert list_audit(file) == [] and team_prefix(file) is None
        assert all(check.same for check in verify(shared, file))
        require_approved(file, get_campaign(file, "Copied"))  # a file: nothing to approve
        copy_workspace(file, shared, force=True)  # and back, over the team's workspace
        assert team_prefix(shared) == prefix  # the roles are the target's own
        after = list_audit(shared)
        assert len(after) > log_before  # nothing of the log was lost or replaced ...
        # ... the --force emptying is logged (the copied rows go in with triggers aside)
        assert [(e.who, e.action, e.object_kind, e.object_name) for e in after[log_before:]] == [
            (team.owner, "delete", "campaign", "Copied"),
            (team.owner, "delete", "app", "shop"),
        ]
        assert {m.name for m in list_members(shared)} >= {names["ed"]}
    # the copied campaign is the editor's to change and a member still reads it
    done = psql(team, names["ed"], "SELECT name FROM campaigns")
    assert done.returncode == 0 and done.stdout.strip() == "Copied", done.stderr
