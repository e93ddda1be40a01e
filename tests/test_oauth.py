"""JWT access tokens checked against a local identity provider's JWKS over loopback, and the
policy's [oauth] rules that map their claims to roles."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cs_mcp.guard import parse_policy
from cs_mcp.oauth import JwksCache, JwtVerifier, TokenRejected, VerifiedToken, principal_name, role_for
from tests.oauth_issuer import AUDIENCE, TEAM_RULES, LocalIssuer, oauth_rules, running_issuer, tampered, unsigned

pytestmark = pytest.mark.anyio


async def test_a_token_from_the_issuer_for_this_server_is_accepted_with_either_published_key() -> None:
    async with running_issuer() as issuer:
        verifier = JwtVerifier(issuer.settings())
        by_rsa = await verifier.verify(issuer.token("rsa-1", groups=["cms-editors"]))
        by_ec = await verifier.verify(issuer.token("ec-1", sub="bob"))
    assert by_rsa.subject == "alice"
    assert by_rsa.claims["groups"] == ["cms-editors"]
    assert by_ec.subject == "bob"
    assert issuer.jwks_requests == 1, "the JWKS is fetched once and cached"


def forged_hs256(issuer: LocalIssuer) -> str:
    """Signed with HS256, using the published RSA key's public numbers as the shared secret:
    the algorithm confusion attack."""
    public = issuer.published["rsa-1"].public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
    claims = {"iss": issuer.issuer, "aud": AUDIENCE, "sub": "alice", "exp": 2_000_000_000}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


Mint = Callable[[LocalIssuer], str]
CASES: list[tuple[str, Mint, str]] = [
    ("wrong issuer", lambda i: i.token(iss="https://other-idp.example"), "issuer"),
    ("wrong audience", lambda i: i.token(aud="https://another-server.example/mcp"), "audience"),
    ("expired", lambda i: i.token(lifetime=-120), "expired"),
    ("bad signature", lambda i: tampered(i.token()), "signature"),
    ("alg none", lambda i: unsigned(i.token()), "algorithm"),
    ("HS256 with the public key", forged_hs256, "algorithm"),
    ("unknown kid", lambda i: i.token("rsa-stray"), "unknown_key"),
    ("no subject", lambda i: i.token(sub=None), "claims"),
    ("no expiry", lambda i: i.token(exp=None), "claims"),
    ("not a JWT", lambda i: "abc.def.ghi", "malformed"),
]


@pytest.mark.parametrize(("case", "make", "reason"), CASES, ids=[c[0] for c in CASES])
async def test_a_token_failing_one_check_is_refused_with_that_reason(case: str, make: Mint, reason: str) -> None:
    async with running_issuer() as issuer:
        with pytest.raises(TokenRejected) as refused:
            await JwtVerifier(issuer.settings()).verify(make(issuer))
    assert refused.value.reason == reason


async def test_an_unknown_kid_fetches_the_jwks_again_so_a_rotated_key_is_accepted_but_not_more_often_than_allowed() -> (
    None
):
    now = [0.0]
    async with running_issuer() as issuer:
        cache = JwksCache(issuer.jwks_url, refetch_interval=30, clock=lambda: now[0])
        verifier = JwtVerifier(issuer.settings(), cache)
        await verifier.verify(issuer.token("rsa-1"))
        issuer.rotate("rsa-2")
        now[0] = 31.0
        rotated = await verifier.verify(issuer.token("rsa-2"))
        fetched_after_rotation = issuer.jwks_requests
        for _ in range(3):  # made-up key ids within the interval do not reach the provider
            with pytest.raises(TokenRejected):
                await verifier.verify(issuer.token("rsa-stray"))
    assert rotated.subject == "alice"
    assert fetched_after_rotation == 2
    assert issuer.jwks_requests == 2


async def test_the_sdk_token_verifier_answers_access_info_or_none() -> None:
    async with running_issuer() as issuer:
        verifier = JwtVerifier(issuer.settings())
        info = await verifier.verify_token(issuer.token(scope="cs-mcp.read cs-mcp.write"))
        refused = await verifier.verify_token(issuer.token(aud="https://elsewhere.example/mcp"))
    assert info is not None
    assert info.subject == "alice"
    assert info.scopes == ["cs-mcp.read", "cs-mcp.write"]
    assert info.resource == AUDIENCE
    assert refused is None


# The viewer rule also asks for the read scope: a rule matches only when every key it sets does.
RULES = [*TEAM_RULES[:-1], ("viewer", {"groups": ["staff"], "scopes": ["cs-mcp.read"]})]
POLICY = f"""
[oauth]
groups_claim = "realm_access.roles"
name_claim = "email"
{oauth_rules(RULES)}"""


@pytest.mark.parametrize(
    ("claims", "role"),
    [
        ({"sub": "root-subject"}, "admin"),
        ({"realm_access": {"roles": ["cms-publishers", "staff"]}}, "publisher"),
        ({"scope": "openid cs-mcp.write"}, "editor"),
        ({"scp": ["cs-mcp.write"]}, "editor"),
        ({"realm_access": {"roles": ["staff"]}, "scope": "cs-mcp.read"}, "viewer"),
        ({"realm_access": {"roles": ["staff"]}}, None),  # a rule needs every key it sets
        ({"groups": ["cms-publishers"]}, None),  # the groups claim is the configured one
    ],
)
def test_the_first_rule_whose_every_key_matches_gives_the_role(claims: dict[str, Any], role: str | None) -> None:
    spec = parse_policy(POLICY).oauth
    token = VerifiedToken(subject=str(claims.get("sub", "someone")), claims={"sub": "someone", **claims})
    assert role_for(spec, token).role == role


def test_without_a_matching_rule_the_default_role_applies_when_the_policy_names_one() -> None:
    spec = parse_policy('[oauth]\ndefault_role = "viewer"\n').oauth
    token = VerifiedToken(subject="x", claims={"sub": "x"})
    assert role_for(spec, token).role == "viewer"
    assert role_for(spec, token).rule == "oauth.default_role"


def test_a_person_is_named_by_the_name_claim_with_the_oauth_prefix() -> None:
    spec = parse_policy(POLICY).oauth
    assert (
        principal_name(spec, VerifiedToken("s1", {"sub": "s1", "email": "ann@example.com"})) == "oauth:ann@example.com"
    )
    assert principal_name(spec, VerifiedToken("s1", {"sub": "s1"})) == "oauth:s1"
