"""Packaging: the self-test in-process (fast), and the packaging files' consistency.

The frozen bundle itself is built and self-tested by ``packaging/build_linux.sh``
(minutes, so it runs as its own CI step, not here).
"""

from __future__ import annotations

import configparser
import io
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.fakes import tls
from tests.fakes.apns_server import FakeApns

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
APP_ID = "io.pushdeck.Pushdeck"


def test_self_test_passes_in_process(qapp, tmp_path) -> None:
    from pushdeck.selftest import run_self_test

    out = io.StringIO()
    code = run_self_test(out, devices=40, keep=tmp_path)
    text = out.getvalue()
    assert code == 0, text
    for step in (
        "Qt starts",
        "bundled preview fonts",
        "demo workspace (no keyring)",
        "main window opens the demo",
        "every preview state renders",
        "demo campaign sent through the sandbox",
        "campaign report written",
    ):
        assert re.search(rf"^✓ {re.escape(step)}", text, re.M), text
    assert "self-test passed: 7 passed, 0 failed" in text
    assert "charts: Funnel" in text  # pyqtgraph and numpy really drew the report chart
    from pushdeck.selftest import SELF_TEST_CAMPAIGN

    assert SELF_TEST_CAMPAIGN in (tmp_path / "self-test-report.html").read_text(encoding="utf-8")
    assert (tmp_path / "self-test-report.csv").read_text().startswith("dimension")
    assert (tmp_path / "window.png").stat().st_size > 0


def test_the_self_test_window_does_not_outlive_the_run(qapp, tmp_path) -> None:
    # Its campaigns page re-checks due campaigns every 30 s on a loop the run shut down:
    # a window left alive raised "Event loop is closed" into whatever ran next.
    from pushdeck.app.main_window import MainWindow
    from pushdeck.selftest import run_self_test

    before = {id(w) for w in qapp.topLevelWidgets() if isinstance(w, MainWindow)}
    assert run_self_test(io.StringIO(), devices=10, keep=tmp_path) == 0
    # (Windows earlier tests in this process left behind are not the self-test's.)
    left = [w for w in qapp.topLevelWidgets() if isinstance(w, MainWindow)]
    assert not [w for w in left if id(w) not in before]


def test_a_failing_step_fails_the_run_and_later_steps_are_not_attempted() -> None:
    from pushdeck.selftest import _Run

    run = _Run(io.StringIO())
    assert run.step("fine", lambda: "ok")
    assert not run.step("broken", lambda: 1 / 0)
    assert not run.passed
    assert "✗ broken — ZeroDivisionError" in run.out.getvalue()


def test_a_skipped_step_does_not_fail_the_run() -> None:
    from pushdeck.selftest import SkipStep, _Run

    def missing() -> str:
        raise SkipStep("not present")

    run = _Run(io.StringIO())
    assert run.step("optional part", missing)
    assert run.passed
    assert "– optional part — skipped: not present" in run.out.getvalue()


def test_marks_fall_back_to_ascii_on_consoles_without_them() -> None:
    from pushdeck.selftest import _marks

    ascii_out = io.TextIOWrapper(io.BytesIO(), encoding="cp1252")
    assert _marks(ascii_out)["pass"] == "[ok]"


def test_no_keyring_blocks_secrets_and_restores_the_backend() -> None:
    import keyring
    import keyring.core
    from keyring.errors import NoKeyringError

    from pushdeck.selftest import no_keyring

    before = getattr(keyring.core, "_keyring_backend", None)
    with no_keyring():
        with pytest.raises(NoKeyringError):
            keyring.get_password("pushdeck-selftest", "nobody")
    assert getattr(keyring.core, "_keyring_backend", None) is before


def test_cli_self_test_flag_runs_the_self_test(monkeypatch) -> None:
    import pushdeck.selftest
    from pushdeck.cli import main

    calls: list[int] = []
    monkeypatch.setattr(pushdeck.selftest, "main", lambda: calls.append(1) or 0)
    assert main(["--self-test"]) == 0
    assert calls == [1]


# --- packaging files ---------------------------------------------------------------------------


def _project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_desktop_entry_has_the_required_keys() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(PACKAGING / "linux" / f"{APP_ID}.desktop", encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application"
    assert section["Exec"].startswith("pushdeck")
    assert section["Icon"] == APP_ID
    assert section["Categories"].endswith(";")


def test_metainfo_names_the_desktop_entry_and_the_current_release() -> None:
    tree = ET.parse(PACKAGING / "linux" / f"{APP_ID}.metainfo.xml")
    root = tree.getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    assert root.find("launchable").text == f"{APP_ID}.desktop"
    versions = [r.get("version") for r in root.iter("release")]
    assert versions and versions[0] == _project_version()


def test_icon_set_is_complete() -> None:
    icons = ROOT / "src" / "pushdeck" / "resources" / "icons" / "app"
    assert (icons / "pushdeck.svg").is_file()
    for size in (16, 32, 48, 64, 128, 256, 512, 1024):
        png = icons / f"pushdeck-{size}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
        assert int.from_bytes(png.read_bytes()[16:20], "big") == size
    assert (icons / "pushdeck.ico").read_bytes()[:4] == b"\x00\x00\x01\x00"
    assert (icons / "pushdeck.icns").read_bytes()[:4] == b"icns"


def test_spec_hidden_imports_name_real_modules() -> None:
    import importlib.util

    spec_text = (PACKAGING / "pushdeck.spec").read_text()
    for module in re.findall(r'"(pushdeck\.core\.providers\.\w+)"', spec_text):
        assert importlib.util.find_spec(module) is not None, module


# --- trust store: the shipped program verifies servers against the system store -------------
#
# The same tests run against the source install (``python -m pushdeck``, every suite run)
# and, when PUSHDECK_BUNDLE_EXE names it, against the frozen bundle: build_linux.sh runs
# them on the unpacked tarball. The fake APNs has a certificate from a throwaway CA that
# only the "system store" of each case knows; the credential has no --ca-file.

TRUST_TOPIC = "com.example.trust"
TRUST_TOKEN = "ef" * 32
#: The file update-ca-certificates writes on Debian/Ubuntu (OpenSSL's default cert.pem).
DISTRO_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def _pushdeck_command() -> list[str]:
    bundle = os.environ.get("PUSHDECK_BUNDLE_EXE", "")
    return [bundle] if bundle else [sys.executable, "-m", "pushdeck"]


def _system_bundle() -> bytes:
    """The machine's real CA bundle (a store without the throwaway CA), or nothing."""
    cafile = ssl.get_default_verify_paths().cafile
    return Path(cafile).read_bytes() if cafile else b""


@dataclass
class TrustCase:
    """A workspace whose app sends through APNs to a fake signed by a throwaway CA."""

    fake: FakeApns
    pki: tls.TestPKI
    tmp: Path
    env: dict[str, str]

    def run(
        self, *args: str, env: dict[str, str] | None = None, wrap: Sequence[str] = ()
    ) -> subprocess.CompletedProcess[str]:
        command = [*wrap, *_pushdeck_command(), "--workspace", str(self.tmp / "w.pushdeck"), *args]
        return subprocess.run(
            command, env=env or self.env, capture_output=True, text=True, timeout=180
        )

    def store(self, name: str, with_ca: bool) -> Path:
        """A CA bundle: the machine's real one, plus the throwaway CA when ``with_ca``."""
        path = self.tmp / f"{name}.pem"
        extra = self.pki.ca_file.read_bytes() if with_ca else b""
        path.write_bytes(_system_bundle() + b"\n" + extra)
        return path

    def openssl_env(self, cafile: Path | str, capath: Path | str) -> dict[str, str]:
        return {**self.env, "SSL_CERT_FILE": str(cafile), "SSL_CERT_DIR": str(capath)}


@pytest.fixture
def trust_case(tmp_path: Path) -> Iterator[TrustCase]:
    from tests.core import credential_files
    from tests.core.test_secrets import _keyring_or_skip

    _keyring_or_skip()  # the CLI keeps the APNs key in the Secret Service
    pki = tls.make_pki(tmp_path / "pki")
    p8 = tmp_path / "AuthKey.p8"
    key = serialization.load_pem_private_key(credential_files.p8_key(p8), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    fake = FakeApns(
        pki, topic=TRUST_TOPIC, team_id="TEAM123456", key_id="KEY1234567",
        public_key=key.public_key(),
    )  # fmt: skip
    (tmp_path / "home").mkdir()
    empty = tmp_path / "empty-certs-dir"
    empty.mkdir()
    env = {  # a clean environment: only what finds the Secret Service
        name: os.environ[name]
        for name in ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR")
        if name in os.environ
    }
    env |= {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8"}
    case = TrustCase(fake, pki, tmp_path, env)
    with fake.server.running_in_thread():
        for args in (
            ("apps", "add", "shop", "--topic", TRUST_TOPIC),
            ("credentials", "set-apns", "shop", "--key-file", str(p8), "--key-id", "KEY1234567",
             "--team-id", "TEAM123456", "--endpoint", fake.url),  # no --ca-file
        ):  # fmt: skip
            done = case.run(*args)
            assert done.returncode == 0, done.stdout + done.stderr
        yield case


def _assert_sends(case: TrustCase, env: dict[str, str], wrap: Sequence[str] = ()) -> None:
    check = case.run("credentials", "check", "shop", "--json", env=env, wrap=wrap)
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads(check.stdout)[0]["ok"] is True
    push = case.run(
        "push", "shop", "--token", TRUST_TOKEN, "--title", "Trusted", "--json", env=env, wrap=wrap
    )
    assert push.returncode == 0, push.stdout + push.stderr
    assert json.loads(push.stdout)["status"] == "accepted"
    assert case.fake.payloads[-1]["aps"]["alert"]["title"] == "Trusted"


def test_trust_store_a_ca_only_in_the_system_store_is_trusted(trust_case: TrustCase) -> None:
    # SSL_CERT_FILE/SSL_CERT_DIR are where OpenSSL looks for the system store on Linux,
    # and truststore asks OpenSSL for exactly those paths: this is the store "installed".
    env = trust_case.openssl_env(
        trust_case.store("with-ca", True), trust_case.tmp / "empty-certs-dir"
    )
    _assert_sends(trust_case, env)


def test_trust_store_without_the_ca_verification_fails_plainly(trust_case: TrustCase) -> None:
    env = trust_case.openssl_env(
        trust_case.store("without-ca", False), trust_case.tmp / "empty-certs-dir"
    )
    where = f"127.0.0.1:{trust_case.fake.server.port}"
    check = trust_case.run("credentials", "check", "shop", env=env)
    push = trust_case.run("push", "shop", "--token", TRUST_TOKEN, "--title", "x", env=env)
    for done in (check, push):
        text = done.stdout + done.stderr
        assert done.returncode != 0, text  # check: 75, "not checked"; push: 1, not sent
        assert f"Could not connect to {where}: its TLS certificate is not trusted" in text, text
        assert "--ca-file" in text and "Traceback" not in text
    assert not trust_case.fake.payloads  # nothing reached the server


def test_trust_store_the_credential_ca_file_still_adds_a_ca(trust_case: TrustCase) -> None:
    env = trust_case.openssl_env(
        trust_case.store("without-ca", False), trust_case.tmp / "empty-certs-dir"
    )
    done = trust_case.run(
        "credentials", "set-apns", "shop", "--key-file", str(trust_case.tmp / "AuthKey.p8"),
        "--key-id", "KEY1234567", "--team-id", "TEAM123456", "--endpoint", trust_case.fake.url,
        "--ca-file", str(trust_case.pki.ca_file), env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    _assert_sends(trust_case, env)


def _private_mount_namespace() -> bool:
    if os.geteuid() != 0 or not DISTRO_BUNDLE.is_file() or not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(
    not _private_mount_namespace(),
    reason=f"needs root, unshare and {DISTRO_BUNDLE} (CI runs as root)",
)
@pytest.mark.parametrize("openssl_dir", ["present", "missing"])
def test_trust_store_the_distribution_ca_bundle_is_trusted(
    trust_case: TrustCase, openssl_dir: str
) -> None:
    """The throwaway CA is "installed" by bind-mounting a bundle that contains it over
    the distribution's file, in a private mount namespace: the real /etc/ssl is untouched.

    ``missing``: OpenSSL's compiled-in directory does not exist here (a bundle built on
    Debian run on Fedora, or a python.org/pyenv build looking in /usr/local/ssl); simulated
    by pointing OpenSSL's paths at nothing. truststore then finds the distribution's
    bundle itself; a plain ``ssl.create_default_context()`` trusts nothing at all.
    """
    bundle = trust_case.store("distro-with-ca", True)
    wrap = [
        "unshare", "--mount", "--propagation", "private", "sh", "-c",
        'mount --bind "$0" "$1" && shift && exec "$@"', str(bundle), str(DISTRO_BUNDLE),
    ]  # fmt: skip
    env = trust_case.env
    if openssl_dir == "missing":
        env = trust_case.openssl_env(trust_case.tmp / "nowhere.pem", trust_case.tmp / "nowhere")
    _assert_sends(trust_case, env, wrap)
    assert trust_case.pki.ca_file.read_bytes() not in DISTRO_BUNDLE.read_bytes()  # untouched
