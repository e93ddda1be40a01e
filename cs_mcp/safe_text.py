"""Text that is safe to record and to show: secrets replaced in place, hidden characters escaped.

Three places print text that a model, a stack or a caller chose: the audit log and its viewer,
the confirmation preview a human reads, and error messages. A newline, a carriage return, a
terminal escape (ESC, or the C1 control CSI), a line or paragraph separator or a bidirectional
override in such text could draw a fake line or hide a real one. `one_line` and `json_line`
make every such character visible as an escape, so one value prints as one line that shows
what it holds. `scrub_secrets` replaces only the secret itself, so the rest of a value stays
on record.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

REDACTED = "[redacted]"

# Printable by Python's rules, yet blank or invisible on screen: Hangul fillers and variation
# selectors. Everything else hidden is caught by its Unicode category (`_HIDDEN_CATEGORIES`).
_BLANK = re.compile("[\u115f\u1160\u3164\uffa0\ufe00-\ufe0f\U000e0100-\U000e01ef]")
# Controls (C0, DEL, C1), format characters (bidi, zero-width, tags), line and paragraph
# separators, and lone surrogates (which cannot even be encoded to print). Python counts every
# one of them as not printable, which gives the fast path below.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def is_hidden(char: str) -> bool:
    """Whether `char` is a control, format, separator or blank character that a reader cannot
    see for what it is."""
    return unicodedata.category(char) in _HIDDEN_CATEGORIES or _BLANK.match(char) is not None


def _nothing_hidden(text: str) -> bool:
    return text.isprintable() and _BLANK.search(text) is None


def _visible(char: str) -> str:
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def one_line(text: str) -> str:
    """`text` with every hidden character written as a visible escape (`\\n`, `\\x1b`,
    `\\u202e`), so that it prints as one line and shows what it holds."""
    if _nothing_hidden(text):
        return text  # the common case: nothing to escape
    return "".join(_visible(c) if is_hidden(c) else c for c in text)


def _json_escape(char: str) -> str:
    # JSON spells characters beyond the BMP as a surrogate pair of \u escapes.
    encoded = char.encode("utf-16-be", "surrogatepass")
    return "".join(f"\\u{int.from_bytes(encoded[i : i + 2], 'big'):04x}" for i in range(0, len(encoded), 2))


def json_line(value: Any) -> str:
    """`value` as one line of JSON in which every hidden character is a `\\u` escape: readable
    text stays as it is, and the line parses back to exactly `value`."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if _nothing_hidden(text):
        return text
    return "".join(_json_escape(c) if is_hidden(c) else c for c in text)


def secret_texts(value: Any) -> list[str]:
    """The texts a secret argument's `value` holds, to cut out of what a caller or the audit log
    reads: the value itself, or each text inside it (a webhook's header values)."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, Mapping):
        return [text for v in cast(Mapping[Any, Any], value).values() for text in secret_texts(v)]
    if isinstance(value, list | tuple):
        return [text for v in cast(Sequence[Any], value) for text in secret_texts(v)]
    return []


def scrub_secrets(text: str, secrets: Iterable[str]) -> str:
    """`text` with each occurrence of a secret replaced by `[redacted]`, and only that.

    `secrets` are tried longest first, so a secret that contains another is replaced whole.
    """
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text
