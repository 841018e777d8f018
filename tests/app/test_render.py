"""Every preview state renders, light and dark, and says so when there is nothing to show."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtGui import QColor, QImage

from pushdeck.app.previews import ALL_STATES, STATES_BY_KEY
from pushdeck.app.previews.base import RenderContext
from pushdeck.app.previews.images import LOADING, ImageCache
from pushdeck.app.previews.render import render_image
from pushdeck.app.previews.widgets import PreviewCard, caption_lines
from pushdeck.core.common.model import Action, AndroidVisibility, InterruptionLevel, Message


def _distinct_colours(image: QImage, step: int = 7) -> int:
    seen = set()
    for y in range(0, image.height(), step):
        for x in range(0, image.width(), step):
            seen.add(image.pixel(x, y))
    return len(seen)


def _difference(a: QImage, b: QImage, step: int = 5) -> float:
    if a.size() != b.size():
        return 1.0
    differing = total = 0
    for y in range(0, a.height(), step):
        for x in range(0, a.width(), step):
            total += 1
            differing += a.pixel(x, y) != b.pixel(x, y)
    return differing / total


@pytest.mark.parametrize("state", ALL_STATES, ids=lambda s: s.key)
def test_state_renders_light_and_dark(fonts, rich_message, state, tmp_path) -> None:
    light = render_image(state, RenderContext(rich_message))
    dark = render_image(state, RenderContext(rich_message, dark=True))
    assert light.width() == state.width and light.height() > 40
    assert _distinct_colours(light) > 20  # a drawn card, not a blank canvas
    assert _difference(light, dark) > 0.3  # dark appearance really is different
    assert light.save(str(tmp_path / f"{state.key}-light.png"))
    assert dark.save(str(tmp_path / f"{state.key}-dark.png"))


@pytest.mark.parametrize("state", ALL_STATES, ids=lambda s: s.key)
def test_silent_message_draws_the_notice(fonts, state) -> None:
    silent = Message(content_available=True, data={"sync": "1"})
    ctx = RenderContext(silent)
    card = PreviewCard(state)
    card.set_context(ctx)
    assert card.caption == [("note", "Nothing to show: silent / background message")]
    image = render_image(state, ctx)
    visible = render_image(state, RenderContext(Message(title="Hello", body="World")))
    assert _distinct_colours(image) > 3
    assert _difference(image, visible) > 0.2


def test_long_body_caption_reports_the_measured_cut(fonts, rich_message) -> None:
    state = STATES_BY_KEY["ios.banner"]
    ctx = RenderContext(rich_message)
    lines = caption_lines(state, ctx, state.measure(ctx))
    body = next(text for kind, text in lines if text.startswith("Body"))
    assert body.startswith("Body: 2 lines shown, more hidden")
    assert "cut after" in body
    assert any(kind == "heuristic" and text.startswith("Heuristic (Braze)") for kind, text in lines)


def test_image_attachment_narrows_the_ios_body(fonts, rich_message) -> None:
    state = STATES_BY_KEY["ios.lock"]
    plain = state.measure(RenderContext(rich_message)).blocks["body"]
    with_image = state.measure(RenderContext(replace(rich_message, image_url="/tmp/x.png"))).blocks[
        "body"
    ]
    assert with_image.cut < plain.cut


def test_time_sensitive_gives_the_title_its_own_line(fonts) -> None:
    title = "Your table is ready at the restaurant in 5 min"
    active = Message(title=title, body="Tap to check in")
    urgent = replace(active, interruption_level=InterruptionLevel.TIME_SENSITIVE)
    lock = STATES_BY_KEY["ios.lock"]
    plain = lock.measure(RenderContext(active))
    labelled = lock.measure(RenderContext(urgent))
    assert plain.header == "" and labelled.header == "TIME SENSITIVE"
    assert labelled.blocks["title"].cut >= plain.blocks["title"].cut
    assert labelled.blocks["title"].lines[0].available > plain.blocks["title"].lines[0].available
    critical = replace(active, interruption_level=InterruptionLevel.CRITICAL)
    assert STATES_BY_KEY["ios.timesensitive"].measure(RenderContext(critical)).header == "CRITICAL"
    # the Time Sensitive state shows the look even for an ordinary message, and says so
    forced = STATES_BY_KEY["ios.timesensitive"].measure(RenderContext(active))
    assert forced.header == "TIME SENSITIVE"
    assert any("would look" in note for note in forced.notes)


def test_mutable_content_says_the_device_may_rewrite(fonts, rich_message) -> None:
    ctx = RenderContext(replace(rich_message, mutable_content=True))
    notes = STATES_BY_KEY["ios.lock"].measure(ctx).notes
    assert any("may rewrite" in note for note in notes)


def test_android_lock_screen_visibility_notes(fonts, rich_message) -> None:
    state = STATES_BY_KEY["android.lock"]
    secret = RenderContext(replace(rich_message, android_visibility=AndroidVisibility.SECRET))
    public = RenderContext(replace(rich_message, android_visibility=AndroidVisibility.PUBLIC))
    assert "secret" in state.measure(secret).notes[-1]
    assert _difference(render_image(state, secret), render_image(state, public)) > 0.05


def test_rtl_body_is_drawn_on_the_right(fonts) -> None:
    state = STATES_BY_KEY["android.collapsed"]
    rtl = Message(title="x", body="שלום")
    ltr = Message(title="x", body="Hi!!")
    a, b = render_image(state, RenderContext(rtl)), render_image(state, RenderContext(ltr))
    body_row = 16 + 16 + 20 + 10  # top + padding + title line + half a body line

    def ink_x(image: QImage) -> list[int]:
        card = QColor(image.pixel(200, body_row))
        return [
            x
            for x in range(72, 320)
            if QColor(image.pixel(x, body_row)).lightness() < card.lightness() - 60
        ]

    assert min(ink_x(a)) > max(ink_x(b))  # Hebrew ink starts right of where Latin ink ends


def test_file_image_loads_in_background(qtbot, fonts, tmp_path) -> None:
    path = tmp_path / "pic.png"
    picture = QImage(40, 20, QImage.Format.Format_RGB32)
    picture.fill(QColor("#ff0000"))
    picture.save(str(path))
    cache = ImageCache()
    assert cache.image(str(path)) is None  # never blocks: first call schedules the load
    with qtbot.wait_signal(cache.image_ready, timeout=5000):
        pass
    loaded = cache.image(str(path))
    assert loaded is not None and loaded.width() == 40
    assert cache.status("https://cdn.example.com/a.png") == LOADING


def test_missing_file_reports_an_error(qtbot, fonts, tmp_path) -> None:
    cache = ImageCache()
    with qtbot.wait_signal(cache.image_ready, timeout=5000):
        cache.image(str(tmp_path / "nope.png"))
    assert cache.status(str(tmp_path / "nope.png")).startswith("Image file not found")


EDGE_MESSAGES = [
    Message(title=" ", body="\n\n\n"),
    Message(title="\t\u200b\u200f", body="\u202e reversed override \u202c text"),
    Message(title_loc_key="GAME_INVITE", body_loc_key="GAME_BODY", body_loc_args=("Ana",)),
    Message(title="🎉" * 80, body="👍🏽" * 300, badge=99999),
    Message(
        title="Actions",
        body="Many actions with long titles",
        actions=tuple(Action(f"a{i}", "A very long action title " * 3) for i in range(8)),
        android_color="not-a-colour",
        android_visibility=AndroidVisibility.PUBLIC,
        web_require_interaction=True,
        interruption_level=InterruptionLevel.CRITICAL,
    ),
    Message(title="x", image_url="https://cdn.example.com/a.png", web_icon="/nonexistent/icon.png"),
]


@pytest.mark.parametrize("message", EDGE_MESSAGES, ids=range(len(EDGE_MESSAGES)))
def test_edge_messages_render_everywhere(fonts, message) -> None:
    for state in ALL_STATES:
        for dark in (False, True):
            image = render_image(state, RenderContext(message, dark=dark))
            assert not image.isNull()
            assert _distinct_colours(image) > 3, state.key


@pytest.mark.usefixtures("allow_local_endpoints")  # the image server is on 127.0.0.1
def test_url_image_is_fetched_off_the_gui_thread_and_errors_are_shown(qtbot, fonts) -> None:
    from tests.fakes.image_server import image_server

    cache = ImageCache()
    with image_server() as server:
        for ref in (f"{server}/pic.png", f"{server}/gone.png", f"{server}/page"):
            with qtbot.wait_signal(cache.image_ready, timeout=10000):
                assert cache.image(ref) is None  # never blocks: the fetch runs in the pool
    picture = cache.image(f"{server}/pic.png")
    assert picture is not None and (picture.width(), picture.height()) == (1, 1)
    assert cache.status(f"{server}/gone.png").endswith("answered HTTP 404.")
    assert "not an image" in cache.status(f"{server}/page")
