"""``pushdeck --self-test``: prove that this installation (or frozen bundle) works end to end.

Run on the PyInstaller bundle in CI so a broken bundle fails the build. In a temporary
folder it creates the demo workspace, opens the main window on it, renders every preview
state (light and dark), sends a small campaign to the demo's test devices through the
sandbox provider, and writes the campaign's report (HTML and CSV exports). It prints one
line per step (✓ passed, ✗ failed, – skipped with the reason) and returns 0 only when
every required step passed.

It never needs an OS keyring: while it runs, keyring access is pointed at keyring's
``fail`` backend, so any step that touched a secret would fail loudly.

Environment:

- ``QT_QPA_PLATFORM`` is set to ``offscreen`` when no display is available (Linux);
- ``PUSHDECK_SELF_TEST_KEEP=1`` keeps the temporary folder (workspace, report, window
  screenshot) and prints where it is;
- ``PUSHDECK_STARTUP_PROBE=1`` only starts the app as ``pushdeck`` does, prints
  ``startup-probe: main window shown at EPOCH_SECONDS`` once the main window is on screen,
  and exits 0 (``bench/bench_startup.py`` measures from process spawn to that moment).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

SELF_TEST_CAMPAIGN = "Self-test (test devices)"
#: Devices in the self-test's demo workspace: enough for every platform, fast to create.
DEFAULT_DEVICES = 200
_WAIT_SECONDS = 60.0


class SkipStep(Exception):
    """An optional part is not present in this build: the step is skipped, not failed."""


@dataclass
class StepResult:
    name: str
    status: str  # "pass" | "fail" | "skip"
    detail: str = ""
    seconds: float = 0.0


@dataclass
class _Run:
    out: TextIO
    results: list[StepResult] = field(default_factory=list)
    marks: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.marks = _marks(self.out)

    def step(self, name: str, fn: Callable[[], str]) -> bool:
        started = time.perf_counter()
        try:
            detail = fn()
            status = "pass"
        except SkipStep as exc:
            detail, status = f"skipped: {exc}", "skip"
        except BaseException as exc:  # every failure becomes a ✗ line
            if isinstance(exc, KeyboardInterrupt):
                raise
            detail = f"{type(exc).__name__}: {exc}"
            status = "fail"
            if os.environ.get("PUSHDECK_SELF_TEST_DEBUG"):
                traceback.print_exc(file=self.out)
        result = StepResult(name, status, detail, time.perf_counter() - started)
        self.results.append(result)
        mark = self.marks[status]
        line = f"{mark} {name}"
        if detail:
            line += f" — {' '.join(detail.split())}"
        print(f"{line} ({result.seconds:.1f} s)", file=self.out, flush=True)
        return status != "fail"

    @property
    def passed(self) -> bool:
        return all(r.status != "fail" for r in self.results)


def _marks(out: TextIO) -> dict[str, str]:
    """✓ ✗ – where the console can print them (a Windows code page may not)."""
    encoding = getattr(out, "encoding", None) or "utf-8"  # io.StringIO has none: any text
    try:
        "✓✗–—".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return {"pass": "[ok]", "fail": "[FAIL]", "skip": "[skip]"}
    return {"pass": "✓", "fail": "✗", "skip": "–"}


def ensure_display() -> str:
    """Use Qt's offscreen platform when there is no display; return the platform used."""
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("QT_QPA_PLATFORM")
        and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    ):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    return os.environ.get("QT_QPA_PLATFORM", "default")


@contextlib.contextmanager
def no_keyring() -> Iterator[None]:
    """Point keyring at its ``fail`` backend for the duration (restored afterwards)."""
    import keyring
    import keyring.core
    from keyring.backends.fail import Keyring as FailKeyring

    previous = getattr(keyring.core, "_keyring_backend", None)
    keyring.set_keyring(FailKeyring())  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        keyring.core._keyring_backend = previous


def _application() -> Any:
    from PySide6.QtWidgets import QApplication

    import pushdeck.app  # noqa: F401  (PySide6/3.11 refcount workaround)

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([sys.argv[0]])
    app.setApplicationName("Pushdeck")
    app.setOrganizationName("Pushdeck")
    app.setApplicationDisplayName("Pushdeck")
    return app


def _wait(app: Any, done: Callable[[], bool], what: str, timeout: float = _WAIT_SECONDS) -> None:
    """Run the event loop until ``done()``; fail on timeout or on an error dialog."""
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QDialog, QMessageBox

    deadline = time.monotonic() + timeout
    while not done():
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        for widget in app.topLevelWidgets():
            if isinstance(widget, QMessageBox | QDialog) and widget.isVisible():
                text = widget.text() if isinstance(widget, QMessageBox) else widget.windowTitle()
                widget.close()
                raise RuntimeError(f"error shown while waiting for {what}: {text}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.005)


def startup_probe(out: TextIO | None = None) -> int:
    """Start the app the way ``pushdeck`` does and report when the main window is shown."""
    out = out or sys.stdout
    ensure_display()
    from pushdeck.app.fonts import load_bundled_fonts
    from pushdeck.app.main import build_window

    app = _application()
    load_bundled_fonts()
    with tempfile.TemporaryDirectory(prefix="pushdeck-probe-") as tmp:
        window = build_window(None, config_dir=Path(tmp), demo_path=Path(tmp) / "demo.pushdeck")
        window.show()
        _wait(app, window.isVisible, "the main window")
        app.processEvents()
        print(f"startup-probe: main window shown at {time.time():.3f}", file=out, flush=True)
        window.close()
        window.shutdown()
    return 0


def run_self_test(
    out: TextIO | None = None, *, devices: int = DEFAULT_DEVICES, keep: Path | None = None
) -> int:
    """Run every step; return 0 when all required steps passed, else 1."""
    out = out or sys.stdout
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="pushdeck-selftest-"))
    keep_env = os.environ.get("PUSHDECK_SELF_TEST_KEEP") == "1"
    run = _Run(out)
    from pushdeck import __version__

    print(f"Pushdeck {__version__} self-test ({_where()})", file=out, flush=True)
    try:
        with no_keyring():
            _steps(run, tmp, devices)
    finally:
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for item in tmp.iterdir():
                target = keep / item.name
                if target.exists():
                    if target.is_dir():
                        shutil.rmtree(target)
                    else:
                        target.unlink()
                shutil.move(str(item), str(target))
            shutil.rmtree(tmp, ignore_errors=True)
        elif keep_env:
            print(f"  kept: {tmp}", file=out)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    counts = {s: sum(r.status == s for r in run.results) for s in ("pass", "fail", "skip")}
    verdict = "passed" if run.passed else "FAILED"
    print(
        f"self-test {verdict}: {counts['pass']} passed, {counts['fail']} failed, "
        f"{counts['skip']} skipped in {time.perf_counter() - started:.1f} s",
        file=out,
        flush=True,
    )
    return 0 if run.passed else 1


def _where() -> str:
    frozen = "frozen bundle" if getattr(sys, "frozen", False) else "Python package"
    return f"{frozen}, Python {sys.version.split()[0]}, {sys.platform}"


def _steps(run: _Run, tmp: Path, devices: int) -> None:
    state: dict[str, Any] = {}
    demo_path = tmp / "demo.pushdeck"

    def qt() -> str:
        platform = ensure_display()
        from PySide6 import __version__ as pyside_version

        app = _application()
        state["app"] = app
        return f"PySide6 {pyside_version}, platform {app.platformName() or platform}"

    def fonts() -> str:
        from pushdeck.app.fonts import FontRole, fonts_dir, load_bundled_fonts

        families = load_bundled_fonts()
        missing = [role.value for role in FontRole if role.value not in families]
        if missing:
            raise RuntimeError(f"missing {', '.join(missing)} in {fonts_dir()}")
        return f"{len(families)} families from {fonts_dir().name}/"

    def demo() -> str:
        from pushdeck.core.demo.workspace import create_demo

        create_demo(demo_path, devices=devices)
        return f"{devices} devices in {demo_path.name}"

    def window() -> str:
        from pushdeck.app.main import build_window

        app = state["app"]
        win = build_window(demo_path, config_dir=tmp / "config", demo_path=demo_path)
        state["window"] = win
        win.show()
        _wait(app, lambda: win.root.currentIndex() == 1, "the workspace to open")
        app.processEvents()
        shot = win.grab()
        if shot.isNull() or not shot.save(str(tmp / "window.png")):
            raise RuntimeError("the window could not be drawn")
        return f"{win.windowTitle()!r}, {win.workspace_label.text()}"

    def previews() -> str:
        from pushdeck.app.previews import ALL_STATES
        from pushdeck.app.previews.base import RenderContext
        from pushdeck.app.previews.render import render_image

        composer = state["window"].composer
        message, _problem = composer.current_message()
        blank = []
        for dark in (False, True):
            ctx = RenderContext(message, dark=dark, app_name=composer.model.draft.app or "Demo")
            for spec in ALL_STATES:
                image = render_image(spec, ctx)
                if image.isNull() or not _has_content(image):
                    blank.append(f"{spec.key}{' dark' if dark else ''}")
                if spec is ALL_STATES[0] and not dark:
                    state["preview_png"] = _png_bytes(image)
        if blank:
            raise RuntimeError(f"empty render: {', '.join(blank)}")
        groups = sorted({spec.group for spec in ALL_STATES})
        return f"{len(ALL_STATES)} states × light/dark ({', '.join(groups)})"

    def send() -> str:
        try:
            import pushdeck.core.campaigns.dispatch  # noqa: F401
        except ImportError as exc:
            raise SkipStep(f"campaign engine not present ({exc.name})") from None
        summary = _through_worker(state, _send_job, "the sandbox send")
        counts = summary.counts
        if summary.status != "sent" or not counts.get("accepted"):
            raise RuntimeError(f"campaign ended {summary.status} with {counts}")
        shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v)
        return f"{SELF_TEST_CAMPAIGN!r} {summary.status}: {shown}"

    def report() -> str:
        data = _through_worker(state, _report_data_job, "the report data")
        charts = _chart_pngs(data)
        paths = _write_report(tmp, data, charts, state.get("preview_png"))
        shown = ", ".join(f"{p.name} ({p.stat().st_size:,} bytes)" for p in paths)
        return f"{shown}; charts: {', '.join(charts) or 'none in this build'}"

    try:
        qt_ok = run.step("Qt starts", qt)
        if qt_ok:
            run.step("bundled preview fonts", fonts)
        demo_ok = run.step("demo workspace (no keyring)", demo)
        if qt_ok and demo_ok and run.step("main window opens the demo", window):
            run.step("every preview state renders", previews)
            if run.step("demo campaign sent through the sandbox", send):
                run.step("campaign report written", report)
    finally:
        win = state.get("window")
        if win is not None:
            win.close()
            win.shutdown()
            win.deleteLater()
            state["app"].processEvents()
            # processEvents() leaves deferred deletes alone: without this the window (and
            # its 30 s due-campaign timer, which submits to the loop just shut down) outlives
            # an in-process self-test.
            from PySide6.QtCore import QEvent

            state["app"].sendPostedEvents(None, QEvent.Type.DeferredDelete)


def _png_bytes(image: Any) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise RuntimeError("a preview could not be encoded as PNG")
    buffer.close()
    return bytes(data.data())


def _has_content(image: Any) -> bool:
    """True when the image is not one flat colour (sampled on a coarse grid)."""
    seen = set()
    step = max(1, min(image.width(), image.height()) // 12)
    for y in range(0, image.height(), step):
        for x in range(0, image.width(), step):
            seen.add(image.pixel(x, y))
            if len(seen) > 2:
                return True
    return False


def _through_worker(state: dict[str, Any], job: Callable[[Any], Any], what: str) -> Any:
    """Run ``job`` on the window's workspace worker thread, as the app does; wait for it."""
    win, app = state["window"], state["app"]
    box: dict[str, Any] = {}
    win.runner.run(job, lambda r: box.setdefault("ok", r), lambda e: box.setdefault("error", e))
    _wait(app, lambda: bool(box), what)
    if "error" in box:
        raise box["error"]
    return box["ok"]


def _send_job(ctx: Any) -> Any:
    import asyncio
    from dataclasses import replace

    from pushdeck.core.campaigns.dispatch import DispatchOptions, send_campaign_async
    from pushdeck.core.campaigns.library import (
        duplicate_campaign,
        list_campaigns,
        update_campaign,
    )
    from pushdeck.core.campaigns.spec import AudienceKind, AudienceSpec
    from pushdeck.core.common.model import ProviderKind
    from pushdeck.core.credentials.secrets import load_credential
    from pushdeck.core.providers.base import create_provider
    from pushdeck.core.providers.credentials import SandboxCredential

    ws = ctx.require_ws()
    sent = list_campaigns(ws)
    if not sent:
        raise RuntimeError("the demo workspace has no campaign to duplicate")
    copy = duplicate_campaign(ws, sent[0].name, SELF_TEST_CAMPAIGN)
    spec = replace(copy.spec, audience=AudienceSpec(AudienceKind.TEST))
    update_campaign(ws, SELF_TEST_CAMPAIGN, spec)
    credential = load_credential(ws, spec.app, ProviderKind.SANDBOX)
    if isinstance(credential, SandboxCredential):
        credential = replace(credential, latency_ms=0.0)

    async def go() -> Any:
        provider = create_provider(credential)
        try:
            return await send_campaign_async(
                ws,
                SELF_TEST_CAMPAIGN,
                providers={ProviderKind.SANDBOX: provider},
                options=DispatchOptions(backoff_base=0.01, backoff_cap=0.05, retry_after_cap=0.01),
            )
        finally:
            await provider.aclose()

    return asyncio.run(go())


def _report_data_job(ctx: Any) -> Any:
    """On the worker: the report model (``pushdeck.core.reports.dashboard``), or in a build without
    it the JSON-ready ``analytics.campaign_report``."""
    ws = ctx.require_ws()
    try:
        from pushdeck.core.reports import dashboard as reports
    except ImportError:  # an older build: the analytics JSON is the report
        from pushdeck.core.reports.analytics import campaign_report

        return campaign_report(ws, SELF_TEST_CAMPAIGN)
    return reports.dashboard_data(ws, SELF_TEST_CAMPAIGN)


def _chart_pngs(data: Any) -> dict[str, bytes]:
    """On the GUI thread: the report's funnel chart as PNG (pyqtgraph and numpy in use)."""
    if isinstance(data, dict):
        return {}
    try:
        from pushdeck.app.reports.charts import FunnelChart
    except ImportError as exc:
        if exc.name and exc.name.startswith("pushdeck"):
            return {}  # the app's report charts are not in this build
        raise
    from PySide6.QtCore import QSize

    chart = FunnelChart()
    try:
        chart.set_stages(data.stages)
        png = chart.png_bytes(QSize(640, 360))
    finally:
        chart.deleteLater()
    if not png.startswith(b"\x89PNG"):
        raise RuntimeError("the funnel chart did not render")
    return {"Funnel": png}


def _write_report(
    folder: Path, data: Any, charts: dict[str, bytes], preview_png: bytes | None
) -> list[Path]:
    if isinstance(data, dict):
        if not data["overall"].get("sent"):
            raise RuntimeError(f"the report counts nothing sent: {data['overall']}")
        path = folder / "self-test-report.json"
        path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
        return [path]
    from pushdeck.core.reports import dashboard as reports

    if not data.overall.sent:
        raise RuntimeError(f"the report counts nothing sent: {data.overall}")
    html_path = folder / "self-test-report.html"
    html_path.write_text(reports.render_html(data, charts, preview_png), encoding="utf-8")
    csv_path = folder / "self-test-report.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as out:
        reports.write_aggregates_csv(data, out)
    if SELF_TEST_CAMPAIGN not in html_path.read_text(encoding="utf-8"):
        raise RuntimeError("the HTML report does not name the campaign")
    return [html_path, csv_path]


def main(out: TextIO | None = None) -> int:
    """Entry point for ``pushdeck --self-test``."""
    if os.environ.get("PUSHDECK_STARTUP_PROBE") == "1":
        return startup_probe(out)
    code = run_self_test(out)
    if getattr(sys, "frozen", False):
        # The verdict is printed and every thread and window is shut down. In the bundle,
        # the interpreter's teardown of what Qt still owns crashed once in CI under Xvfb
        # (exit 139 after "self-test passed"); the self-test's answer must not depend on
        # it, so the bundle leaves at once.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
