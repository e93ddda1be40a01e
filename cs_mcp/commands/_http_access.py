"""Who may use `cs-mcp serve --transport http`, and what the start tells them.

With `[[principals]]` in the policy (or an `anonymous_role`), the policy decides. Without, the
server makes a bearer token for this run (or takes a fixed one from `--token-file` or
`CS_MCP_TOKEN`), gives it to one principal named `local` with the local role, binds to loopback
only and prints the token once on stderr with a client configuration to paste.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cs_mcp.commands._common import CommandError
from cs_mcp.commands.config import Client, snippet
from cs_mcp.config import OAuthSettings
from cs_mcp.guard import Policy
from cs_mcp.guard.policy import PrincipalSpec
from cs_mcp.http_auth import generate_token, token_sha256

TOKEN_VARIABLE = "CS_MCP_TOKEN"  # noqa: S105 - the variable's name, not a token
LOCAL_HTTP_PRINCIPAL = "local"
MIN_TOKEN_LENGTH = 16
READY = "cs-mcp: ready; Ctrl-C stops."


@dataclass(frozen=True)
class LocalToken:
    """The bearer token of the `local` principal and where it came from."""

    token: str
    source: Literal["generated", "file", "environment"]
    origin: str = ""


def is_loopback(host: str) -> bool:
    """Whether `host` binds to this machine only (127.0.0.0/8, ::1 or localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _checked(token: str, where: str) -> str:
    token = token.strip()
    if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
        raise CommandError(
            f"{where} must hold one bearer token of at least {MIN_TOKEN_LENGTH} characters without spaces; "
            "`cs-mcp hash-token --generate` makes one"
        )
    return token


def local_token(token_file: Path | None, env: Mapping[str, str]) -> LocalToken:
    """The token from --token-file, else CS_MCP_TOKEN, else a new random one.

    Raises:
        CommandError: the file cannot be read, or the token is empty or too short.
    """
    if token_file is not None:
        try:
            text = token_file.read_text()
        except OSError as exc:
            raise CommandError(f"cannot read --token-file {token_file}: {exc.strerror}") from None
        return LocalToken(_checked(text, f"--token-file {token_file}"), "file", str(token_file))
    if env.get(TOKEN_VARIABLE, "").strip():
        return LocalToken(_checked(env[TOKEN_VARIABLE], TOKEN_VARIABLE), "environment", TOKEN_VARIABLE)
    return LocalToken(generate_token(), "generated")


def needs_local_token(policy: Policy, oauth: bool = False) -> bool:
    """True when nothing says who may connect over HTTP: no principals, no anonymous role, no
    identity provider (`oauth`)."""
    return not policy.principals and policy.anonymous_role is None and not oauth


def check_host(policy: Policy, host: str, oauth: bool = False) -> None:
    """Refuses a non-loopback bind when only a local token would guard the server.

    Raises:
        CommandError: `host` is not loopback, the policy names no principal and no identity
            provider is configured.
    """
    if needs_local_token(policy, oauth) and not is_loopback(host):
        raise CommandError(
            f"--host {host} would open the server to other machines, but the policy names no "
            "[[principals]]; serve on 127.0.0.1 (the default), or add a [[principals]] entry per client "
            "to the policy (`cs-mcp hash-token --generate` makes a token and its hash)"
        )


def with_local_principal(policy: Policy, token: LocalToken, role: str) -> Policy:
    """The policy with one principal, `local`, holding `token` with `role`."""
    spec = PrincipalSpec(name=LOCAL_HTTP_PRINCIPAL, token_sha256=token_sha256(token.token), role=role)
    return policy.model_copy(update={"principals": [spec]})


def startup_text(
    url: str, policy: Policy, token: LocalToken | None, role: str, oauth: OAuthSettings | None = None
) -> str:
    """What `serve --transport http` prints on stderr once it listens: enough to connect."""
    lines = [f"cs-mcp: serving MCP over Streamable HTTP at {url} (health check: {url.removesuffix('/mcp')}/healthz)"]
    if oauth is not None:
        lines.append(
            f"cs-mcp: people sign in through {oauth.issuer} (access tokens for {oauth.audience}; "
            f"{len(policy.oauth.rules)} [oauth] rules); metadata at {oauth.metadata_url}"
        )
    if token is None:
        anonymous = f"; without a token: role {policy.anonymous_role!r}" if policy.anonymous_role else ""
        lines.append(
            "cs-mcp: clients send 'Authorization: Bearer <token>' with a token of the policy's [[principals]] "
            f"({len(policy.principals)} configured){anonymous}"
        )
        lines.append(READY)
        return "\n".join(lines)
    if token.source == "generated":
        lines += [
            f"cs-mcp: the policy names no [[principals]], so this run made a bearer token for role {role!r}; "
            "it changes at every start (--token-file PATH or CS_MCP_TOKEN keep one). Clients send:",
            f"  Authorization: Bearer {token.token}",
        ]
        bearer = token.token
    else:
        lines.append(
            f"cs-mcp: the policy names no [[principals]]; clients send the token from {token.origin} "
            f"(role {role!r}) as 'Authorization: Bearer <token>'"
        )
        bearer = None
    clients: tuple[tuple[Client, str], ...] = (
        ("cursor", "Cursor (.cursor/mcp.json) and clients that take a URL and headers"),
        ("vscode", "VS Code (.vscode/mcp.json)"),
    )
    for client, where in clients:
        text = json.dumps(snippet(client, http_url=url, bearer=bearer), indent=2)
        lines += [f"cs-mcp: for {where}:", text]
    lines.append(READY)
    return "\n".join(lines)
