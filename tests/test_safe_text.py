"""Text safe to record and show: hidden characters escaped, secrets replaced in place."""

from __future__ import annotations

import json

import pytest

from cs_mcp.safe_text import REDACTED, json_line, one_line, scrub_secrets


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\nb", "a\\nb"),
        ("a\r\tb", "a\\r\\tb"),
        ("\x1b[2Kx", "\\x1b[2Kx"),
        ("\x9b31m", "\\x9b31m"),  # the C1 control sequence introducer
        ("\x85", "\\x85"),  # next line
        ("a\u2028b\u2029", "a\\u2028b\\u2029"),
        ("\u202eevil", "\\u202eevil"),
        ("\u3164", "\\u3164"),  # Hangul filler
        ("\ufe0f", "\\ufe0f"),
        ("\U000e0041\U000e0100", "\\U000e0041\\U000e0100"),
        ("\ud800", "\\ud800"),  # a lone surrogate, which cannot even be printed
    ],
)
def test_one_line_writes_every_hidden_character_as_a_visible_escape(text: str, shown: str) -> None:
    assert one_line(text) == shown


def test_one_line_leaves_readable_text_alone() -> None:
    text = "Crème brûlée δ 日本語 😀 C:\\path"
    assert one_line(text) == text


def test_json_line_is_one_line_that_parses_back_to_the_same_value() -> None:
    value = {"name": "x\n\r\x1b\x9b\u202e\u2028\U000e0100 é 😀", "n": [1, None]}
    line = json_line(value)
    assert "\n" not in line
    assert line.isprintable()
    assert "é 😀" in line
    assert json.loads(line) == value


def test_scrub_secrets_replaces_only_the_secret_and_the_longest_first() -> None:
    assert scrub_secrets("abcTOKENdef", ["TOKEN"]) == f"abc{REDACTED}def"
    assert scrub_secrets("xTOKEN-LONGy", ["TOKEN", "TOKEN-LONG"]) == f"x{REDACTED}y"
    assert scrub_secrets("plain", ["TOKEN", ""]) == "plain"
