"""Small store modules on both backends (the ``ws`` fixture): drafts, credential checks,
app rules, leases, the collector token, unique names, conversions' reads."""

from __future__ import annotations

import json

import pytest

from pushdeck.core.common.errors import ConfigError
from pushdeck.core.common.model import App, ProviderKind
from pushdeck.core.credentials import secrets
from pushdeck.core.store import Workspace, check_results, drafts, hygiene, leases
from pushdeck.core.store.apps import add_app, get_app
from pushdeck.core.store.events import get_collector_token, set_collector_token
from pushdeck.core.store.segments import Segment, rename_segment, save_segment
from tests.conftest import MemoryKeyring


def test_drafts_round_trip_newest_first(ws: Workspace) -> None:
    drafts.save_draft(ws, "b", {"title": "Olá", "n": 1})
    drafts.save_draft(ws, "a", {"title": "x"})
    drafts.save_draft(ws, "b", {"title": "Olá", "n": 2})  # replaces
    assert drafts.load_draft(ws, "b") == {"title": "Olá", "n": 2}
    assert {name for name, _ in drafts.list_drafts(ws)} == {"a", "b"}
    drafts.delete_draft(ws, "a")
    assert drafts.load_draft(ws, "a") is None


def test_a_credential_check_is_kept_with_its_facts(
    ws: Workspace, memory_keyring: MemoryKeyring
) -> None:
    secrets.store_credential(
        ws, "shop", ProviderKind.SANDBOX, "sandbox", None, {"team": "T1", "n": 3}
    )
    check_results.record_check(ws, "shop", "sandbox", False, "refused", "HTTP 403")
    facts = json.loads(ws.scalar("SELECT facts FROM credentials"))
    assert facts["team"] == "T1" and facts["n"] == 3
    last = check_results.last_check(facts)
    assert last is not None and (last.ok, last.summary, last.details) == (
        False,
        "refused",
        "HTTP 403",
    )


def test_app_rules_and_ids(ws: Workspace) -> None:
    app_id = hygiene.app_id_of(ws, "shop")
    assert app_id == get_app(ws, "shop").id
    assert hygiene.get_app_rules_doc(ws, app_id) is None
    hygiene.set_app_rules_doc(ws, app_id, {"frequency_cap": {"max": 2}})
    hygiene.set_app_rules_doc(ws, app_id, {"frequency_cap": {"max": 3}})
    assert hygiene.get_app_rules_doc(ws, app_id) == {"frequency_cap": {"max": 3}}
    assert hygiene.app_id_of(ws, "nope") is None


def test_leases_swap_only_with_their_token(ws: Workspace) -> None:
    value = json.dumps({"token": "t1", "at": 1})
    assert leases.take(ws, "k", value, lambda current: None) is None
    assert leases.take(ws, "k", "{}", lambda current: current) == value  # held: unchanged
    leases.renew(ws, "k", "other", json.dumps({"token": "other"}))
    assert leases.current(ws, "k") == value
    leases.renew(ws, "k", "t1", json.dumps({"token": "t1", "at": 2}))
    assert json.loads(leases.current(ws, "k") or "{}")["at"] == 2
    leases.release(ws, "k", "other")
    assert leases.current(ws, "k") is not None
    leases.release(ws, "k", "t1")
    assert leases.current(ws, "k") is None


def test_collector_token_is_replaced(ws: Workspace) -> None:
    assert get_collector_token(ws) is None
    set_collector_token(ws, "one")
    set_collector_token(ws, "two")
    assert get_collector_token(ws) == "two"


def test_taken_names_are_config_errors_and_change_nothing(ws: Workspace) -> None:
    with pytest.raises(ConfigError, match="already exists"):
        add_app(ws, App("shop"))
    save_segment(ws, Segment("a", {"field": "platform", "op": "=", "value": "ios"}))
    save_segment(ws, Segment("b", {"field": "platform", "op": "=", "value": "web"}))
    with pytest.raises(ConfigError, match="already exists"):
        save_segment(ws, Segment("a", {"field": "platform", "op": "=", "value": "web"}))
    with pytest.raises(ConfigError, match="already exists"):
        rename_segment(ws, "a", "b")
    # the workspace is usable after the refused writes (PostgreSQL: no aborted transaction)
    assert [r[0] for r in ws.query("SELECT name FROM segments ORDER BY name")] == ["a", "b"]
