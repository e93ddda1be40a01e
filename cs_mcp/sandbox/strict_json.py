"""JSON as RFC 8259 writes it, for what clients send the sandbox (bodies and JSON parameters).

Python's `json.loads` also takes `NaN`, infinities, lone surrogates (which no UTF-8 answer or
SQLite text can hold) and nesting deeper than its recursion limit; the sandbox then failed with a
500 where Contentstack refuses the request.
"""

from __future__ import annotations

import json

import pydantic_core


def loads(text: str | bytes) -> object:
    """The JSON value of `text`.

    Raises ValueError: `text` is not UTF-8 JSON, or holds NaN, an infinity (`1e999` too), a lone
    surrogate or nesting deeper than 200 levels.
    """
    value = pydantic_core.from_json(text, allow_inf_nan=False)
    # A number beyond a double's range (1e999) still reads as an infinity.
    json.dumps(value, allow_nan=False)
    return value
