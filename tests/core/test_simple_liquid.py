"""Plain ``{{ name | default: "x" }}`` texts render by string joins (issue 19): the output
must be exactly python-liquid's for every value, and anything else stays Liquid."""

from __future__ import annotations

import itertools
from typing import Any

from liquid import Environment

from pushdeck.core.messages.simple_liquid import (
    MAX_FAST_VALUE,
    SimpleTemplate,
    simple_or_liquid,
)

ENV = Environment()
SIMPLE = [
    "Hi {{ first_name }}",
    'Hi {{ first_name | default: "there" }}!',
    "{{first_name|default:'friend'}}, {{ city }} awaits",
    '{{ a }}{{ b | default: "" }}{{ a }} tail } { % #',
    'Olá {{ nome | default: "você" }} — 20 % off ✓',
]
NOT_SIMPLE = [
    "plain text",
    "Hi {{- first_name }}",
    "Hi {{ first_name | upcase }}",
    "Hi {{ user.first_name }}",
    "{% if vip %}VIP{% endif %} {{ first_name }}",
    'Hi {{ first_name | default: "a{b" }}',
    "Hi {{ first_name }} {# note #}",
    "{{ first_name | default: first }}",
    # Liquid keywords are literals, not variables: {{ true }} renders "true".
    "{{ true }}",
    "Hi {{ nil | default: 'you' }}",
    "{{ empty }}{{ blank }}{{ false }}{{ null }}",
]
VALUES: list[Any] = [
    None, "", "Ana", " ", "é ✓ 🎉", "x" * (MAX_FAST_VALUE + 1), 0, 1, 2.5, True, False,
    [], ["a", "b"], {"k": "v"}, "{{ nested }}",
]  # fmt: skip


def test_plain_outputs_render_exactly_like_liquid() -> None:
    for source in SIMPLE:
        liquid = ENV.from_string(source)
        fast = simple_or_liquid(source, liquid)
        assert isinstance(fast, SimpleTemplate), source
        assert fast.global_variables() == list(liquid.global_variables()), source
        names = sorted(fast.global_variables())
        for values in itertools.product(VALUES, repeat=len(names)):
            context = {n: v for n, v in zip(names, values, strict=True) if v is not None}
            assert fast.render(**context) == liquid.render(**context), (source, context)


def test_everything_else_stays_liquid() -> None:
    for source in NOT_SIMPLE:
        liquid = ENV.from_string(source)
        assert simple_or_liquid(source, liquid) is liquid, source


def test_keywords_render_as_liquid_renders_them() -> None:
    from pushdeck.core.campaigns.templating import _compile

    for source, expected in (("{{ true }}", "true"), ("{{ false }}!", "false!")):
        assert _compile(source).render() == ENV.from_string(source).render() == expected


def test_a_brace_before_the_delimiter_is_left_to_liquid_which_refuses_it() -> None:
    from pushdeck.core.campaigns.templating import check_source
    from pushdeck.core.messages.simple_liquid import simple_template

    source = "a{{{ first_name }}"  # Liquid reads "{ first_name" as the output: an error
    assert simple_template(source, lambda: None) is None
    problems = check_source("message.title", source, ["first_name"])
    assert problems and problems[0].blocking, problems
