"""A tool's declaration as the guard reads it, for guard tests that need no registered tool."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Declared:
    name: str
    scopes: frozenset[str]
