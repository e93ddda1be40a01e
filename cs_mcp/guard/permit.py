"""Permits: the guard's signed word that one write may be sent.

The client refuses every write without a permit that this authority issued for that operation
and whose targets cover the request (layer 3 of the guard, the backstop). A tool that forgot to
ask the guard therefore cannot write.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Generator, Iterable, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

# The operations whose permits the client accepted in the current write call: a write the
# client let through is on its way to Contentstack (see `writes_sent`).
_SENT: ContextVar[list[str] | None] = ContextVar("cs_mcp_writes_sent", default=None)


@contextmanager
def writes_sent() -> Generator[list[str]]:
    """Collects, while open, the operation of every write whose permit the client verified
    (and so sent), in this task and the tasks it starts. The write pipeline uses it to know
    whether anything went out when a call fails."""
    sent: list[str] = []
    reset = _SENT.set(sent)
    try:
        yield sent
    finally:
        _SENT.reset(reset)


class PermitError(Exception):
    """Raised by `PermitAuthority.verify` for a missing, forged or too narrow permit."""


@dataclass(frozen=True)
class Permit:
    """Allows `operation` (for example `entry.publish`) on exactly `targets`.

    `targets` maps a target kind (`content_type`, `environment`, `locale`, `release`,
    `automation_project`, ...) to the names the guard checked.
    """

    principal: str
    tool: str
    operation: str
    targets: Mapping[str, frozenset[str]]
    signature: bytes = field(repr=False)


def _canonical(principal: str, tool: str, operation: str, targets: Mapping[str, frozenset[str]]) -> bytes:
    payload = {"p": principal, "t": tool, "o": operation, "x": {k: sorted(v) for k, v in sorted(targets.items())}}
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


class PermitAuthority:
    """Issues and verifies permits with a per-process key that never leaves the process."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def issue(
        self, principal: str, tool: str, operation: str, targets: Mapping[str, Iterable[str]] | None = None
    ) -> Permit:
        """A permit for `operation` on `targets`. Only the guard calls this, after its check."""
        frozen = {kind: frozenset(names) for kind, names in (targets or {}).items()}
        signature = hmac.new(self._key, _canonical(principal, tool, operation, frozen), hashlib.sha256).digest()
        return Permit(principal, tool, operation, frozen, signature)

    def verify(self, permit: Permit | None, operation: str, targets: Mapping[str, Iterable[str]] | None = None) -> None:
        """Checks that `permit` is genuine, names `operation` and covers every target of the
        request. The client calls it right before sending the write; a verified write is counted
        by an open `writes_sent`.

        Raises:
            PermitError: saying what is missing.
        """
        if permit is None:
            raise PermitError(f"{operation} is a write and carries no permit from the guard")
        expected = hmac.new(
            self._key, _canonical(permit.principal, permit.tool, permit.operation, permit.targets), hashlib.sha256
        ).digest()
        if not hmac.compare_digest(expected, permit.signature):
            raise PermitError(f"the permit for {operation} was not issued by this guard")
        if permit.operation != operation:
            raise PermitError(f"the permit is for {permit.operation}, not {operation}")
        for kind, names in (targets or {}).items():
            allowed = permit.targets.get(kind, frozenset())
            outside = sorted(set(names) - allowed)
            if outside:
                raise PermitError(f"the permit for {operation} does not cover {kind} {', '.join(outside)}")
        sent = _SENT.get()
        if sent is not None:
            sent.append(operation)
