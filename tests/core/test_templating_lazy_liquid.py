"""A campaign of plain texts sends without importing python-liquid (issue 19: ~0.1 s of
the campaign command's start-up); a text that needs Liquid still gets exactly Liquid's
output and Liquid's checks."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.campaigns.templating import check_templates, require_valid_templates
from pushdeck.core.messages.liquid_env import TemplateError as LiquidEnvTemplateError
from pushdeck.core.messages.render_budget import TemplateError

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pushdeck.core.campaigns.library import create_campaign
    from pushdeck.core.campaigns.spec import spec_from_dict
    from pushdeck.core.providers.credentials import SandboxCredential
    from pushdeck.core.campaigns.dispatch import send_campaign
    from pushdeck.core.common.model import App, ProviderKind
    from pushdeck.core.providers.base import create_provider
    from pushdeck.core.store import Workspace
    from pushdeck.core.store.apps import add_app
    from tests.core.campaign_helpers import add_devices

    title = sys.argv[2]
    with Workspace.open(sys.argv[1]) as ws:
        add_app(ws, App("shop", apns_topic="com.example.shop"))
        add_devices(ws, [
            {"token": f"s{i}", "provider": "sandbox", "platform": "ios",
             "attributes": {"first_name": name}}
            for i, name in enumerate(["Ana", "", "Bo"])
        ])
        doc = {"name": "C", "app": "shop", "audience": {"all": True},
               "message": {"title": title, "body": "20% off"}}
        create_campaign(ws, spec_from_dict(doc))
        provider = create_provider(SandboxCredential(latency_ms=0, failure_rate=0,
                                                     dead_rate=0, open_rate=0))
        summary = send_campaign(ws, "C", providers={ProviderKind.SANDBOX: provider})
        from pushdeck.core.campaigns.templating import Personalizer
        from pushdeck.core.store.devices import list_devices
        rendered = [Personalizer(spec_from_dict(doc)).render(d).title for d in list_devices(ws)]
    print(json.dumps([dict(summary.counts), "liquid" in sys.modules, rendered]))
    """
)


def _send(tmp_path: Path, title: str) -> list[object]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "w.pushdeck"), title],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result: list[object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_plain_texts_send_without_liquid(tmp_path: Path) -> None:
    counts, liquid_loaded, rendered = _send(tmp_path, 'Hi {{ first_name | default: "you" }}')
    assert counts == {"accepted": 3}
    assert liquid_loaded is False
    assert rendered == ["Hi Ana", "Hi you", "Hi Bo"]


def test_a_text_that_needs_liquid_renders_through_it(tmp_path: Path) -> None:
    title = "{% if first_name != blank %}Hi {{ first_name | upcase }}{% else %}Hello{% endif %}"
    counts, liquid_loaded, rendered = _send(tmp_path, title)
    assert counts == {"accepted": 3}
    assert liquid_loaded is True
    assert rendered == ["Hi ANA", "Hello", "Hi BO"]


def test_the_checks_still_see_every_problem() -> None:
    assert LiquidEnvTemplateError is TemplateError  # one class, whichever module names it
    plain = spec_from_dict(
        {
            "name": "C",
            "app": "shop",
            "audience": {"all": True},
            "message": {"title": "Hi {{ first_name }} {{ city }}"},
        }
    )
    require_valid_templates(plain)
    warned = [p.message for p in check_templates(plain, ["first_name"])]
    assert len(warned) == 1 and "{{ city }}" in warned[0]
    long = "{{ first_name }}" + "x" * 20_000
    for bad, words in (("Hi {% if first_name %}", "Template error"), (long, "limit")):
        doc = {"name": "C", "app": "shop", "audience": {"all": True}, "message": {"title": bad}}
        spec = spec_from_dict(doc)
        with pytest.raises(TemplateError, match=words):
            require_valid_templates(spec)


def test_loading_liquid_does_not_count_against_a_recipients_time_budget() -> None:
    # Liquid is loaded when a value first needs it (here: a number); on a busy machine
    # that import can take longer than one recipient's whole render budget (0.25 s).
    code = textwrap.dedent(
        """
        import sys, time
        class Slow:
            def find_spec(self, name, path=None, target=None):
                if name == "liquid":
                    time.sleep(0.4)  # a slow disk or a loaded machine
                return None
        sys.meta_path.insert(0, Slow())
        from pushdeck.core.campaigns.spec import spec_from_dict
        from pushdeck.core.campaigns.templating import Personalizer
        from pushdeck.core.common.model import Device, Platform, ProviderKind
        doc = {"name": "C", "app": "shop", "audience": {"all": True},
               "message": {"title": 'Hi {{ first_name | default: "you" }}'}}
        personalizer = Personalizer(spec_from_dict(doc))
        device = Device("shop", Platform.IOS, ProviderKind.APNS, "t",
                        attributes={"first_name": 7})
        print(personalizer.render(device).title, "liquid" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["Hi", "7", "True"]
