"""The shared table of example arguments covers every tool, and each example validates."""

from __future__ import annotations

import inspect

from pydantic import TypeAdapter

from cs_mcp.toolkit.registry import registered_tools
from tests._examples import EXAMPLES


def test_every_registered_tool_has_an_example_and_every_example_a_tool() -> None:
    assert {spec.name for spec in registered_tools()} == set(EXAMPLES)


def test_every_example_passes_its_tools_argument_validation() -> None:
    for spec in registered_tools():
        signature = inspect.signature(spec.fn, eval_str=True)
        for name, value in EXAMPLES[spec.name].items():
            annotation = signature.parameters[name].annotation
            TypeAdapter(annotation).validate_python(value)
