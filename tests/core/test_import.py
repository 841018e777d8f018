"""Device import: validation, upsert, hostile files, streaming, interruption."""

from __future__ import annotations

import base64
import codecs
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushdeck.core.common.errors import ValidationError
from pushdeck.core.devices.importer import import_devices
from pushdeck.core.store import Workspace
from pushdeck.core.store import devices as device_store

APNS = "a1" * 32
FCM = "f" * 60 + ":APA91b" + "x_Y-z" * 20


def _subscription() -> dict[str, object]:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    b64 = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()  # noqa: E731
    return {
        "endpoint": "https://push.example.net/sub/abc",
        "keys": {"p256dh": b64(point), "auth": b64(b"0123456789abcdef")},
    }


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_import_validates_normalises_and_reimport_changes_nothing(
    ws: Workspace, tmp_path: Path
) -> None:
    sub = json.dumps(_subscription()).replace('"', '""')
    src = _write(
        tmp_path / "d.csv",
        (
            "token,platform,locale,timezone,tags,opt_in,test,attr.first_name,attr.age,subscription\n"
            f"{APNS.upper()},ios,pt_br,America/Sao_Paulo,vip;beta,authorized,yes,Ana,31,\n"
            f"{FCM},android,en,Europe/Paris,,denied,,Ben,,\n"
            f',web,fr-FR,Europe/Paris,newsletter,,,,,"{sub}"\n'
        ),
    )
    first = import_devices(ws, src, "shop")
    assert (first.inserted, first.updated, first.rejected_count) == (3, 0, 0)
    ios = device_store.find_device(ws, "shop", APNS)
    assert ios is not None
    assert ios.locale == "pt-BR" and ios.tags == ("beta", "vip") and ios.test
    assert ios.attributes == {"first_name": "Ana", "age": 31}
    web = device_store.list_devices(ws, where="d.platform = 'web'")[0]
    assert web.subscription is not None and web.token.startswith("https://push.example.net")
    assert ws.scalar("SELECT count(*) FROM device_tags") == 3

    written = _rows_written(ws)
    again = import_devices(ws, src, "shop")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    assert _rows_written(ws) == written  # not a single row rewritten


def _rows_written(ws: Workspace) -> object:
    """Something that moves when any row is written: SQLite's count of changed rows, or
    each device row's version on PostgreSQL (a rewritten row gets a new xmin)."""
    if ws.dialect.is_sqlite:
        return ws.conn.total_changes
    return ws.query("SELECT id, CAST(xmin AS text) FROM devices ORDER BY id")


def test_changed_row_is_updated_and_tags_follow(ws: Workspace, tmp_path: Path) -> None:
    import_devices(ws, _write(tmp_path / "a.csv", f"token,platform,tags\n{APNS},ios,vip\n"), "shop")
    report = import_devices(
        ws, _write(tmp_path / "b.csv", f"token,platform,tags\n{APNS},ios,beta\n"), "shop"
    )
    assert (report.inserted, report.updated) == (0, 1)
    assert [r[0] for r in ws.query("SELECT tag FROM device_tags")] == ["beta"]


def test_hostile_csv_gives_precise_report_and_imports_the_rest(
    ws: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "hostile.csv"
    good2 = "b2" * 32
    with path.open("wb") as fh:
        fh.write(b"token,platform,locale,timezone\n")
        fh.write(f"{APNS},ios,en,Europe/Paris\n".encode())  # line 2 ok
        fh.write(b"xyz,ios,en,Europe/Paris\n")  # 3 bad apns token
        fh.write(b"short,android,en,Europe/Paris\n")  # 4 bad fcm token
        fh.write(f"{good2},ios,en,Mars/Olympus\n".encode())  # 5 bad zone
        fh.write(f"{good2},ios,klingon-xx-1,UTC\n".encode())  # 6 bad locale
        fh.write(f"{good2},ios,en\xe9,UTC\n".encode("latin-1"))  # 7 not UTF-8
        fh.write(b"a" * (10 * 1024 * 1024) + b",ios,en,UTC\n")  # 8 a 10 MB line
        fh.write(f"{good2},ios,en\n".encode())  # 9 missing a field
        fh.write(f"{good2},tablet,en,UTC\n".encode())  # 10 bad platform
        fh.write(f"{good2},ios,de,Europe/Berlin\n".encode())  # 11 ok
    report_file = tmp_path / "rejected.csv"
    report = import_devices(ws, path, "shop", report_file=report_file)
    rejected = {r.line: (r.field, r.reason) for r in report.rejected}
    assert report.inserted == 2
    assert rejected[3][0] == "token" and "hex" in rejected[3][1]
    assert rejected[4][0] == "token" and "FCM" in rejected[4][1]
    assert rejected[5][0] == "timezone"
    assert rejected[6][0] == "locale"
    assert "UTF-8" in rejected[7][1]
    assert "bytes long" in rejected[8][1]
    assert "fields" in rejected[9][1]
    assert rejected[10][0] == "platform"
    assert report.rejected_count == 8
    lines = report_file.read_text().splitlines()
    assert lines[0] == "line,field,reason" and len(lines) == 9
    assert device_store.count_devices(ws) == 2


def test_broken_quoting_is_reported_and_later_rows_survive(ws: Workspace, tmp_path: Path) -> None:
    src = _write(
        tmp_path / "q.csv",
        f'token,platform\n"{APNS},ios\n' + "".join(f"{i:02x}" * 32 + ",ios\n" for i in range(3)),
    )
    report = import_devices(ws, src, "shop")
    assert report.rejected_count >= 1
    assert report.rejected[0].line == 2


def test_file_without_token_column_is_refused_with_columns_named(
    ws: Workspace, tmp_path: Path
) -> None:
    src = _write(tmp_path / "w.csv", "device,os\nabc,ios\n")
    with pytest.raises(ValidationError, match="Columns found: device, os"):
        import_devices(ws, src, "shop")
    assert device_store.count_devices(ws) == 0


def test_mapping_override(ws: Workspace, tmp_path: Path) -> None:
    src = _write(tmp_path / "m.csv", f"DeviceID,OS\n{APNS},ios\n")
    report = import_devices(ws, src, "shop", mapping={"token": "DeviceID", "platform": "OS"})
    assert report.inserted == 1


def test_json_array_and_ndjson(ws: Workspace, tmp_path: Path) -> None:
    rows = [
        {"token": APNS, "platform": "ios", "tags": ["a", "b"], "attributes": {"n": 1}},
        {"platform": "web", "subscription": _subscription()},
        {"token": "nope", "platform": "ios"},
        [1, 2],
    ]
    array = import_devices(ws, _write(tmp_path / "d.json", json.dumps(rows, indent=1)), "shop")
    assert (array.inserted, array.rejected_count) == (2, 2)
    nd = _write(tmp_path / "d.ndjson", "\n".join(json.dumps(r) for r in rows) + "\n{broken\n")
    again = import_devices(ws, nd, "shop")
    assert (again.unchanged, again.rejected_count) == (2, 3)
    assert {r.line for r in again.rejected} == {3, 4, 5}


def test_interrupted_import_keeps_whole_batches_and_can_be_rerun(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pushdeck.core.devices import import_loop

    monkeypatch.setattr(import_loop, "BATCH", 10)
    src = _write(
        tmp_path / "many.csv", "token,platform\n" + "".join(f"{i:064x},ios\n" for i in range(35))
    )
    calls = {"n": 0}

    def cancel_after_two_batches() -> bool:
        calls["n"] += 1
        return calls["n"] >= 2

    first = import_devices(ws, src, "shop", should_cancel=cancel_after_two_batches)
    assert first.cancelled and device_store.count_devices(ws) == 20
    second = import_devices(ws, src, "shop")
    assert (second.inserted, second.unchanged) == (15, 20)
    assert device_store.count_devices(ws) == 35


def test_crash_inside_a_batch_leaves_no_partial_batch(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pushdeck.core.devices import import_loop

    monkeypatch.setattr(import_loop, "BATCH", 10)
    real = device_store.upsert_devices
    calls = {"n": 0}

    def failing_upsert(w: Workspace, records: list[dict[str, object]]) -> tuple[int, int]:
        calls["n"] += 1
        if calls["n"] == 2:
            with w.transaction() as conn:
                conn.executemany(device_store._upsert_sql(w), map(device_store._ROW, records[:5]))
                raise RuntimeError("power cut")
        return real(w, records)

    monkeypatch.setattr(device_store, "upsert_devices", failing_upsert)
    src = _write(
        tmp_path / "c.csv", "token,platform\n" + "".join(f"{i:064x},ios\n" for i in range(25))
    )
    with pytest.raises(RuntimeError):
        import_devices(ws, src, "shop")
    assert device_store.count_devices(ws) == 10


def test_export_round_trips_through_import(ws: Workspace, tmp_path: Path) -> None:
    from pushdeck.core.devices.export import export_devices

    src = _write(
        tmp_path / "d.ndjson",
        "\n".join(
            json.dumps(r)
            for r in [
                {
                    "token": APNS,
                    "platform": "ios",
                    "tags": ["vip"],
                    "attributes": {"plan": "pro"},
                    "locale": "de-DE",
                },
                {"platform": "web", "subscription": _subscription()},
            ]
        ),
    )
    import_devices(ws, src, "shop")
    for fmt in ("csv", "ndjson"):
        out = tmp_path / f"out.{fmt}"
        with out.open("w", newline="") as fh:
            assert export_devices(ws, fh, fmt) == 2
        other = Workspace.open(tmp_path / f"copy-{fmt}.pushdeck")
        from pushdeck.core.common.model import App
        from pushdeck.core.store.apps import add_app

        add_app(other, App("shop"))
        report = import_devices(other, out, "shop")
        assert (report.inserted, report.rejected_count) == (2, 0)
        copy = device_store.find_device(other, "shop", APNS)
        assert copy is not None and copy.tags == ("vip",) and copy.attributes == {"plan": "pro"}
        other.close()


def _device_indexes(ws: Workspace) -> set[str]:
    return {
        r[0]
        for r in ws.query(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'devices'"
            " AND sql IS NOT NULL"
        )
    }


def test_bulk_load_rebuilds_indexes_and_a_crash_mid_load_is_repaired_on_open(
    sqlite_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = sqlite_ws  # indexes dropped and rebuilt in the file: SQLite's bulk load
    from pushdeck.core.devices import importer
    from pushdeck.core.devices import staged_import as import_staged

    expected = _device_indexes(ws)
    assert len(expected) >= 8
    monkeypatch.setattr(import_staged, "STAGED_BYTES", 0)
    src = _write(
        tmp_path / "bulk.csv", "token,platform\n" + "".join(f"{i:064x},ios\n" for i in range(30))
    )
    assert import_devices(ws, src, "shop").inserted == 30
    assert _device_indexes(ws) == expected

    def crash(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(importer, "_flush", crash)
    with pytest.raises(KeyboardInterrupt):
        with device_store.bulk_load(ws):
            importer._flush(ws, [], importer.ImportReport("x"))
            pytest.fail("unreachable")
    # bulk_load's finally rebuilt them; now simulate a hard kill that skipped it
    with ws.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('pending_indexes', ?)",
            (json.dumps(["CREATE INDEX devices_locale ON devices (locale)"]),),
        )
        conn.execute("DROP INDEX devices_locale")
    path = ws.path
    ws.close()
    reopened = Workspace.open(path)
    assert _device_indexes(reopened) == expected
    assert reopened.scalar("SELECT count(*) FROM meta WHERE key = 'pending_indexes'") == 0
    reopened.close()


def test_block_reading_gives_the_same_lines_as_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pushdeck.core.devices import readers as import_readers
    from pushdeck.core.devices.readers import _Lines

    monkeypatch.setattr(import_readers, "MAX_LINE", 300)
    good = "".join(f"{i:064x},ios,ünïcödé 🎉\n" for i in range(40))
    data = (
        codecs.BOM_UTF8
        + good.encode()
        + b"caf\xe9,ios\n"  # not UTF-8
        + good.encode()
        + b"x" * 1000  # over-long, spanning several blocks
        + b"\n"
        + good.encode()
        + b'"quoted\r\nfield",\x0bvertical tab\x1cfile sep\xe2\x80\xa8line sep\n'
        + b"no newline at the end"
    )
    src = tmp_path / "lines.csv"
    src.write_bytes(data)

    class LineByLine(_Lines):
        def _load_block(self) -> bool:
            return False

    def read(kind: type[_Lines], block: int) -> tuple[list[str], dict[int, int], set[int]]:
        monkeypatch.setattr(kind, "BLOCK", block)
        with src.open("rb") as fh:
            lines = kind(fh)
            return list(lines), lines.too_long, lines.bad_bytes

    expected = read(LineByLine, 1)
    assert len(expected[0]) == 125 and expected[1] and expected[2]
    for block in (7, 64, 500, 1 << 20):
        assert read(_Lines, block) == expected, block


HOSTILE_ENDPOINTS = {
    "https://127.0.0.1:8443/push/a": "127.0.0.1 is a loopback address",
    "https://localhost/push/b": "localhost names this machine",
    "https://[::1]/push/c": "::1 is a loopback address",
    "https://10.20.30.40/push/d": "10.20.30.40 is a private address",
    "https://192.168.1.10/push/e": "192.168.1.10 is a private address",
    "https://169.254.169.254/latest/meta-data": "169.254.169.254 is a link-local address",
    "https://[fc00::1]/push/f": "fc00::1 is a unique-local address",
    "https://[fe80::1%25eth0]/push/g": "is a link-local address",
    "https://0.0.0.0/push/h": "0.0.0.0 is an unspecified address",
    "https://2130706433/push/i": "2130706433 is a loopback address",
    "https://0x7f.0.0.1/push/j": "0x7f.0.0.1 is a loopback address",
    "https://[::ffff:10.0.0.1]/push/k": "is a private address (as 10.0.0.1)",
    "https://router/push/l": "single-label name",
    "https://printer.local/push/m": "names this machine or the local network",
    "https://user:pass@fcm.googleapis.com/fcm/send/n": "user name or password",
}


def test_subscriptions_pointing_into_the_local_network_are_rejected_with_the_reason(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PUSHDECK_ALLOW_LOCAL_ENDPOINTS", raising=False)
    keys = _subscription()["keys"]
    assert isinstance(keys, dict)
    good = [
        "https://fcm.googleapis.com/fcm/send/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/abc",
        "https://web.push.apple.com/QGx1",
        "https://wns2-par02p.notify.windows.com/w/?token=abc",
    ]
    rows = [*good, *HOSTILE_ENDPOINTS]
    text = "platform,endpoint,p256dh,auth\n" + "".join(
        f"web,{endpoint},{keys['p256dh']},{keys['auth']}\n" for endpoint in rows
    )
    report_file = tmp_path / "rejected.csv"
    report = import_devices(ws, _write(tmp_path / "web.csv", text), "shop", report_file=report_file)
    assert report.inserted == len(good)
    rejected = {r.line: (r.field, r.reason) for r in report.rejected}
    for line, (endpoint, why) in enumerate(HOSTILE_ENDPOINTS.items(), start=2 + len(good)):
        field, reason = rejected[line]
        assert field == "endpoint" and why in reason, (endpoint, reason)
        assert "PUSHDECK_ALLOW_LOCAL_ENDPOINTS=1" in reason
    assert report.rejected_count == len(HOSTILE_ENDPOINTS)
    assert sorted(d.token for d in device_store.list_devices(ws)) == sorted(good)
    # The same file in a lab that opted in: only the user info is still refused.
    monkeypatch.setenv("PUSHDECK_ALLOW_LOCAL_ENDPOINTS", "1")
    lab = import_devices(ws, _write(tmp_path / "web.csv", text), "shop")
    assert [r.field for r in lab.rejected] == ["endpoint"]
    assert "user name or password" in lab.rejected[0].reason
