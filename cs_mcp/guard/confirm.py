"""Confirmation tokens: a human's yes, carried back by the model, for exactly one write.

When the client cannot ask the human itself (no elicitation) and the policy's fallback is
"token", a write that needs confirmation answers a preview and a token instead of writing. The
next call passes the token back. The token is an HMAC, with a key that lives only in this
process, over the principal, the tool, the canonical arguments (without `confirmation_token`
and `dry_run`) and the versions of the targets as they were previewed. It is single use and
expires after five minutes. Each way a token can be wrong is refused with its own reason.

Replicas behind one load balancer share the key (`CS_MCP_SECRET_KEY`) and a `SpentLedger` in
Redis (`cs_mcp.shared_state.RedisLedger`): a token issued by one replica is then accepted by any
other, once. When the ledger cannot be reached the token is refused ("unavailable"): a write is
never confirmed twice because a replica could not tell whether it already was.

What a call touches is more than its arguments say: deleting an entry takes it off every
environment it is published to, which a publish made since the preview changes without changing
the entry's version. The write pipeline therefore binds the full target set it checked (`bound_targets`):
a token issued for one set is "stale" for any other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from cs_mcp.guard.targets import Targets

TOKEN_LIFETIME_SECONDS = 300.0
# Arguments that steer the call rather than say what it does: not bound into the token.
UNBOUND_ARGUMENTS = frozenset({"confirmation_token", "dry_run"})

RefusalReason = Literal[
    "malformed", "forged", "other_principal", "other_tool", "altered", "stale", "expired", "replayed", "unavailable"
]


class SpentLedger(Protocol):
    """Where spent tokens are remembered across processes (asynchronous: it is across a network)."""

    async def spend(self, nonce: str, ttl_seconds: float) -> bool:
        """Marks `nonce` spent for `ttl_seconds`; False when it already was.

        Raises:
            OSError or the store's own error: the ledger cannot be reached.
        """
        ...

    async def aclose(self) -> None:
        """Closes the ledger's connections (it may be used again: they are opened anew)."""
        ...


def bound_targets(targets: Targets, versions: Mapping[str, int] | None = None) -> dict[str, int]:
    """`versions` with every target of `targets` added (environments, locales, content types,
    branches, releases, projects, and each item with its content type and locale), for a
    confirmation token to be bound to: a token then confirms only the exact target set it
    previewed."""
    bound = dict(versions or {})
    for kind, names in targets.named().items():
        for name in names:
            bound[f"target {kind}: {name}"] = 1
    for item in targets.items:
        bound[f"target item: {item.label} [{item.content_type or '-'}, {item.locale or '-'}]"] = 1
    return bound


class ConfirmationError(Exception):
    """A confirmation token was refused; `reason` says which check failed."""

    def __init__(self, reason: RefusalReason, message: str) -> None:
        super().__init__(message)
        self.reason: RefusalReason = reason


def canonical_arguments(arguments: Mapping[str, Any]) -> str:
    """The arguments as one canonical JSON text: sorted keys, no steering arguments."""
    bound = {k: v for k, v in arguments.items() if k not in UNBOUND_ARGUMENTS}
    return json.dumps(bound, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    """The bytes `_b64` spelled as `text`.

    Raises:
        ValueError: `text` is not exactly how `_b64` spells those bytes. The decoder alone drops
            characters outside the alphabet and takes padding, so one token would have many
            spellings, each a new token to anything that tells tokens apart by their text.
    """
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not the token's one spelling")
    return data


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: float  # seconds since the epoch, on the authority's clock


class ConfirmationAuthority:
    """Issues and verifies confirmation tokens with a per-process key.

    `clock` answers seconds since the epoch; tests inject one to expire tokens without waiting.
    `ledger` (with a `key` every replica shares) replaces the in-process memory of spent tokens.
    """

    def __init__(
        self,
        key: bytes | None = None,
        *,
        clock: Callable[[], float] = time.time,
        lifetime: float = TOKEN_LIFETIME_SECONDS,
        ledger: SpentLedger | None = None,
    ) -> None:
        self._key = key or secrets.token_bytes(32)
        self._clock = clock
        self.lifetime = lifetime
        self._used: dict[str, float] = {}  # nonce -> expiry, forgotten once expired
        self._lock = threading.Lock()
        self._ledger = ledger

    async def aclose(self) -> None:
        """Closes the shared ledger's connections, if there is one."""
        if self._ledger is not None:
            await self._ledger.aclose()

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def issue(
        self,
        principal: str,
        tool: str,
        arguments: Mapping[str, Any],
        target_versions: Mapping[str, int] | None = None,
        *,
        hidden: Mapping[str, Any] | None = None,
    ) -> IssuedToken:
        """A token that confirms this call, once, for `lifetime` seconds. `hidden` are the
        arguments kept out of `arguments` (a variable's value): bound too, see `_arguments_digest`."""
        expires = self._clock() + self.lifetime
        payload = {
            "n": secrets.token_urlsafe(12),
            "e": round(expires, 3),
            "p": principal,
            "t": tool,
            "a": self._arguments_digest(arguments, hidden),
            "v": _digest(json.dumps(dict(target_versions or {}), sort_keys=True)),
        }
        raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return IssuedToken(f"{_b64(raw)}.{_b64(self._mac(raw))}", expires)

    def _arguments_digest(self, arguments: Mapping[str, Any], hidden: Mapping[str, Any] | None) -> str:
        """What a token binds of a call's arguments: their canonical text and, for the secret
        ones kept out of it, a MAC under this authority's key. The token then binds a secret's
        value (another value is "altered") while its readable payload holds nothing a guess at
        the secret could be checked against."""
        text = canonical_arguments(arguments)
        if hidden:
            text += "\n" + _b64(self._mac(canonical_arguments(hidden).encode()))
        return _digest(text)

    def _checked(
        self,
        token: str,
        principal: str,
        tool: str,
        arguments: Mapping[str, Any],
        target_versions: Mapping[str, int] | None,
        hidden: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The token's payload once it is this server's and matches this call (not yet spent).

        Raises:
            ConfirmationError: as `verify`, but for "expired", "replayed" and "unavailable".
        """
        try:
            raw_b64, mac_b64 = token.strip().split(".")
            raw, mac = _unb64(raw_b64), _unb64(mac_b64)
        except (ValueError, binascii.Error):
            raise ConfirmationError("malformed", "the confirmation token is not one cs-mcp issued") from None
        if not hmac.compare_digest(self._mac(raw), mac):
            raise ConfirmationError("forged", "the confirmation token was not issued by this server (or was edited)")
        payload: dict[str, Any] = json.loads(raw)
        if not hmac.compare_digest(str(payload["p"]), principal):
            raise ConfirmationError("other_principal", "the confirmation token was issued to another principal")
        if payload["t"] != tool:
            raise ConfirmationError("other_tool", f"the confirmation token is for {payload['t']}, not {tool}")
        if payload["a"] != self._arguments_digest(arguments, hidden):
            raise ConfirmationError(
                "altered", "the arguments differ from the ones previewed; ask again without confirmation_token"
            )
        if payload["v"] != _digest(json.dumps(dict(target_versions or {}), sort_keys=True)):
            raise ConfirmationError(
                "stale", "the target changed since the preview; ask again without confirmation_token"
            )
        return payload

    def verify(
        self,
        token: str,
        principal: str,
        tool: str,
        arguments: Mapping[str, Any],
        target_versions: Mapping[str, int] | None = None,
        *,
        hidden: Mapping[str, Any] | None = None,
    ) -> None:
        """Accepts the token for this call (and the `hidden` arguments it was issued with) and
        spends it, in this process's memory. With a shared ledger use `redeem`, which awaits the ledger.

        Raises:
            ConfirmationError: reason "malformed" (not a token), "forged" (not issued here),
                "other_principal", "other_tool", "altered" (other arguments), "stale" (a target
                changed since the preview), "expired" or "replayed" (already used).
            TypeError: this authority has a shared ledger (only `redeem` can reach it).
        """
        if self._ledger is not None:
            raise TypeError("a confirmation authority with a shared ledger spends tokens with redeem()")
        payload = self._checked(token, principal, tool, arguments, target_versions, hidden)
        self._spend(str(payload["n"]), float(payload["e"]))

    def _spend(self, nonce: str, expires: float) -> None:
        """Spends a checked token (its nonce, until it expires) in this process's memory.

        Raises:
            ConfirmationError: reason "replayed" (already spent) or "expired".
        """
        now = self._clock()
        with self._lock:
            self._used = {n: e for n, e in self._used.items() if e > now}
            if nonce in self._used:
                raise ConfirmationError("replayed", "the confirmation token was already used; each confirms one call")
            if expires <= now:
                raise ConfirmationError(
                    "expired", "the confirmation token expired; ask again without confirmation_token"
                )
            self._used[nonce] = expires

    async def redeem(
        self,
        token: str,
        principal: str,
        tool: str,
        arguments: Mapping[str, Any],
        target_versions: Mapping[str, int] | None = None,
        *,
        hidden: Mapping[str, Any] | None = None,
    ) -> None:
        """As `verify`; with a shared ledger the token is spent there (awaited, so the event
        loop keeps serving while Redis answers), once across every replica.

        Raises:
            ConfirmationError: as `verify`, and "unavailable" (the shared ledger cannot be reached).
        """
        if self._ledger is None:
            self.verify(token, principal, tool, arguments, target_versions, hidden=hidden)
            return
        payload = self._checked(token, principal, tool, arguments, target_versions, hidden)
        await self._spend_shared(str(payload["n"]), float(payload["e"]), self._clock())

    async def _spend_shared(self, nonce: str, expires: float, now: float) -> None:
        assert self._ledger is not None
        if expires <= now:
            raise ConfirmationError("expired", "the confirmation token expired; ask again without confirmation_token")
        try:
            fresh = await self._ledger.spend(nonce, self.lifetime)
        except Exception as exc:  # the ledger's client raises its own error types
            raise ConfirmationError(
                "unavailable",
                f"the shared confirmation ledger cannot be reached ({type(exc).__name__}); try again shortly",
            ) from None
        if not fresh:
            raise ConfirmationError("replayed", "the confirmation token was already used; each confirms one call")
