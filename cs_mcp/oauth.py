"""OAuth 2.1 resource server: JWT access tokens from the team's identity provider.

People sign in through the identity provider (as the MCP authorization spec describes) and their
client sends the access token it got as `Authorization: Bearer <jwt>`. This module checks such
a token: its header's algorithm is one of the allowed asymmetric ones (never `none`, never
HS*), its signature verifies with the provider's key of that `kid` from the JWKS, `iss` is the
configured issuer, `aud` names this server's resource URI, and it has not expired. The JWKS is
cached; an unknown `kid` (the provider rotated its keys) fetches it again, at most once per
`refetch_interval` so that made-up key ids cannot make the server hammer the provider.

The policy's `[oauth]` rules then map the token's claims (subject, groups, scopes) to a role.
The token itself goes no further: Contentstack is called with the server's own credentials,
never with the person's token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import anyio
import httpx2
import jwt
from jwt.exceptions import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSignatureError,
    MissingRequiredClaimError,
    PyJWKError,
    PyJWTError,
)
from mcp.server.auth.provider import AccessToken

from cs_mcp.config import OAuthSettings
from cs_mcp.guard.policy import OAuthRule, OAuthSpec

# Seconds of clock difference tolerated between the provider and this server (exp, nbf, iat).
LEEWAY_SECONDS = 30
# How long a fetched JWKS is trusted before it is fetched again.
JWKS_MAX_AGE_SECONDS = 3600.0
# The least time between two fetches caused by unknown key ids.
JWKS_REFETCH_INTERVAL_SECONDS = 30.0
_FETCH_TIMEOUT_SECONDS = 5.0

RejectReason = Literal[
    "malformed", "algorithm", "unknown_key", "signature", "expired", "not_yet_valid", "issuer", "audience", "claims"
]


class TokenRejected(Exception):
    """An access token was refused; `reason` says which check failed. The message never holds
    the token."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message)
        self.reason: RejectReason = reason


class JwksUnavailable(Exception):
    """The identity provider's JWKS could not be fetched or read: no token can be checked."""


@dataclass(frozen=True)
class SigningKey:
    """One key of the JWKS, and the algorithm the provider published it for (its `alg`, if any)."""

    key: jwt.PyJWK
    algorithm: str | None


class JwksCache:
    """The identity provider's signing keys, by `kid`, fetched over HTTP and cached.

    Args:
        url: the JWKS URL.
        http: the client to fetch with (tests pass one); else one is opened per fetch.
        clock: monotonic seconds (tests inject one).
    """

    def __init__(
        self,
        url: str,
        *,
        http: httpx2.AsyncClient | None = None,
        max_age: float = JWKS_MAX_AGE_SECONDS,
        refetch_interval: float = JWKS_REFETCH_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._http = http
        self._max_age = max_age
        self._refetch_interval = refetch_interval
        self._clock = clock
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at: float | None = None
        self._lock = anyio.Lock()
        self.fetches = 0

    async def key(self, kid: str | None) -> SigningKey:
        """The key for `kid` (None: the set's only key).

        Raises:
            TokenRejected: reason "unknown_key", even after fetching the JWKS again.
            JwksUnavailable: the JWKS cannot be fetched or read.
        """
        async with self._lock:
            now = self._clock()
            if self._fetched_at is None or now - self._fetched_at > self._max_age:
                await self._fetch()
            found = self._lookup(kid)
            if found is None and self._fetched_at is not None and now - self._fetched_at >= self._refetch_interval:
                await self._fetch()  # the provider may have rotated its keys since
                found = self._lookup(kid)
        if found is None:
            raise TokenRejected("unknown_key", "the token is signed with a key the identity provider does not publish")
        return found

    def _lookup(self, kid: str | None) -> SigningKey | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def fetch(self) -> int:
        """Fetches the JWKS now; answers how many signing keys it holds.

        Raises:
            JwksUnavailable: it cannot be fetched or read.
        """
        async with self._lock:
            await self._fetch()
            return len(self._keys)

    async def _fetch(self) -> None:
        try:
            if self._http is not None:
                response = await self._http.get(self.url, timeout=_FETCH_TIMEOUT_SECONDS)
            else:
                async with httpx2.AsyncClient(timeout=_FETCH_TIMEOUT_SECONDS) as http:
                    response = await http.get(self.url)
            response.raise_for_status()
            document: Any = response.json()
        except (httpx2.HTTPError, ValueError) as exc:
            raise JwksUnavailable(f"the identity provider's JWKS could not be fetched ({type(exc).__name__})") from None
        raw_keys: Any = cast(dict[str, Any], document).get("keys") if isinstance(document, dict) else None
        if not isinstance(raw_keys, list):
            raise JwksUnavailable("the identity provider's JWKS has no 'keys' list")
        keys: dict[str, SigningKey] = {}
        for raw in cast(list[Any], raw_keys):
            if not isinstance(raw, dict):
                continue
            entry = cast(dict[str, Any], raw)
            if entry.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK(entry)
            except PyJWKError:
                continue  # a key type this library cannot use is not one tokens are checked with
            published = entry.get("alg")
            keys[str(entry.get("kid", ""))] = SigningKey(key, published if isinstance(published, str) else None)
        self._keys = keys
        self._fetched_at = self._clock()
        self.fetches += 1


@dataclass(frozen=True)
class VerifiedToken:
    """What a valid access token says about its holder."""

    subject: str
    claims: Mapping[str, Any]


class JwtVerifier:
    """Checks JWT access tokens against the identity provider of `settings`. Also the SDK's
    `TokenVerifier` (`verify_token`)."""

    def __init__(self, settings: OAuthSettings, jwks: JwksCache | None = None) -> None:
        self.settings = settings
        self.jwks = jwks or JwksCache(settings.jwks_url)

    async def verify(self, token: str) -> VerifiedToken:
        """The token's subject and claims, once every check passed.

        Raises:
            TokenRejected: with the first check that failed.
            JwksUnavailable: the keys cannot be fetched.
        """
        try:
            header = jwt.get_unverified_header(token)
        except PyJWTError:
            raise TokenRejected("malformed", "the bearer token is not a JWT") from None
        algorithm = header.get("alg")
        if algorithm not in self.settings.algorithms:
            raise TokenRejected(
                "algorithm",
                f"tokens signed with {algorithm!r} are not accepted ({', '.join(self.settings.algorithms)})",
            )
        kid = header.get("kid")
        signing = await self.jwks.key(kid if isinstance(kid, str) else None)
        if signing.algorithm is not None and signing.algorithm != algorithm:
            raise TokenRejected("algorithm", f"the key {kid!r} is published for {signing.algorithm}, not {algorithm}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                signing.key.key,
                algorithms=[str(algorithm)],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except ExpiredSignatureError:
            raise TokenRejected("expired", "the access token has expired; sign in again") from None
        except ImmatureSignatureError:
            raise TokenRejected("not_yet_valid", "the access token is not valid yet") from None
        except InvalidIssuerError:
            raise TokenRejected("issuer", "the access token was issued by another identity provider") from None
        except InvalidAudienceError:
            raise TokenRejected(
                "audience", "the access token was issued for another resource, not this server"
            ) from None
        except InvalidSignatureError:
            raise TokenRejected("signature", "the access token's signature does not verify") from None
        except MissingRequiredClaimError as exc:
            raise TokenRejected("claims", f"the access token has no {exc.claim!r} claim") from None
        except PyJWTError:
            raise TokenRejected("malformed", "the access token cannot be read") from None
        return VerifiedToken(subject=str(claims["sub"]), claims=claims)

    async def verify_token(self, token: str) -> AccessToken | None:
        """The SDK's `TokenVerifier`: the token's access info, or None when it is refused."""
        try:
            verified = await self.verify(token)
        except (TokenRejected, JwksUnavailable):
            return None
        claims = verified.claims
        return AccessToken(
            token=token,
            client_id=str(claims.get("client_id") or claims.get("azp") or verified.subject),
            scopes=sorted(token_scopes(claims)),
            expires_at=int(claims["exp"]),
            resource=self.settings.audience,
            subject=verified.subject,
            claims={"iss": claims.get("iss")},
        )


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The claim at a dotted path (`realm_access.roles`), or None."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = cast(Mapping[str, Any], value).get(part)
    return value


def _names(value: Any) -> set[str]:
    """A claim's values as a set: a list of strings, or one space-separated string."""
    if isinstance(value, str):
        return set(value.split())
    if isinstance(value, list):
        return {str(v) for v in cast(list[Any], value)}
    return set()


def token_scopes(claims: Mapping[str, Any]) -> set[str]:
    """The token's scopes: `scope` (RFC 9068, space-separated) and `scp` (a list, some providers)."""
    return _names(claims.get("scope")) | _names(claims.get("scp"))


def _matches(rule: OAuthRule, subject: str, groups: set[str], scopes: set[str]) -> bool:
    return (
        (rule.subjects is None or subject in rule.subjects)
        and (rule.groups is None or bool(groups.intersection(rule.groups)))
        and (rule.scopes is None or bool(scopes.intersection(rule.scopes)))
    )


@dataclass(frozen=True)
class RoleChoice:
    """The role the policy gives a token's holder (None: none), and the rule that decided."""

    role: str | None
    rule: str


def role_for(spec: OAuthSpec, token: VerifiedToken) -> RoleChoice:
    """The first `[[oauth.rules]]` entry that matches the token decides; else `default_role`."""
    groups = _names(claim_at(token.claims, spec.groups_claim))
    scopes = token_scopes(token.claims)
    for index, rule in enumerate(spec.rules):
        if _matches(rule, token.subject, groups, scopes):
            return RoleChoice(rule.role, f"oauth.rules[{index}]")
    return RoleChoice(spec.default_role, "oauth.default_role")


def principal_name(spec: OAuthSpec, token: VerifiedToken) -> str:
    """What audit lines and confirmation tokens call the holder: `oauth:` and the name claim
    (the subject when the token lacks it). The prefix keeps these apart from the policy's
    [[principals]] and the reserved names."""
    named = claim_at(token.claims, spec.name_claim)
    return f"oauth:{named if isinstance(named, str) and named else token.subject}"
