"""Where a webhook may send the stack's events: the policy's `[webhooks] destinations`.

A webhook posts every event it is subscribed to (an entry's content, an asset's URL) to its
target URL, so pointing one at a server outside the team is a way to copy the stack out. With
`destinations` set, a target URL must fall under one of them:

- the same scheme (`https` only), host (letters compared without case, a final dot dropped)
  and port (443 when none is written);
- a path equal to the destination's, or below it at a `/`: `https://hooks.example.com/cs`
  allows `/cs` and `/cs/publish`, never `/cs-evil`;
- an authority that is only that host (ASCII letters, digits, `-`, `_` and dots, or an IPv6
  address in brackets) and an optional port in ASCII digits: Python reads the host between
  brackets and drops what surrounds them, where other parsers send to the text around them;
- no user name or password, no backslash, no white space or control character, and nothing
  in the path a receiver could read as another path than the one compared: no `..` segment
  (also not `..;x`, which Tomcat and Jetty read as `..`), no percent-encoded dot, slash,
  backslash or semicolon (also not encoded twice, `%252e`, or as IIS's `%u002e`), and no
  character outside ASCII (`．．` is `..` to a receiver that normalises Unicode).

The query string and fragment of a target URL are not compared, so a destination may hold neither.

A webhook's custom headers may not name a header a server or proxy at an allowed host routes by
instead of the URL (`Host`, `X-Forwarded-Host`, `X-Original-URL`, ...): behind a shared proxy,
`Host` picks another site than the one compared. Header names must be plain HTTP tokens.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

# Characters a URL parser other than Python's may read differently (WHATWG URL treats a
# backslash as a slash), or that no URL should hold.
_AMBIGUOUS = re.compile(r"[\\\s\x00-\x1f\x7f]")
# What the authority of a URL this module compares may hold: a host name or a bracketed IPv6
# address, and a port.
_AUTHORITY = re.compile(r"(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?")
# Headers that servers and proxies route by, over the request's URL: to another site behind the
# same proxy, or to another path.
ROUTING_HEADERS = frozenset(
    {
        "forwarded",
        "host",
        "x-forwarded-host",
        "x-forwarded-prefix",
        "x-forwarded-server",
        "x-host",
        "x-http-host-override",
        "x-original-host",
        "x-original-url",
        "x-rewrite-url",
    }
)
# An HTTP header name (RFC 9110 token).
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# A dot, slash, backslash or semicolon percent-encoded in a path (`%2e`, or `%252e` and so on),
# which a receiver may decode, once or more, before routing (`..%3b` decodes to `..;`, read as
# `..` above); or any IIS `%u` escape (`%u002e` is a dot).
_ENCODED_SEPARATOR = re.compile(r"%(25)*(2e|2f|5c|3b|u)", re.IGNORECASE)


@dataclass(frozen=True)
class Destination:
    """An https origin and a path prefix a webhook may send to."""

    host: str
    port: int
    path: str

    def holds(self, other: Destination) -> bool:
        """Whether `other` is this destination or a path below it."""
        if (other.host, other.port) != (self.host, self.port):
            return False
        prefix = self.path.rstrip("/")
        return other.path == prefix or other.path.startswith(prefix + "/")


def parse_destination(url: str) -> Destination:
    """The destination `url` names.

    Raises:
        ValueError: `url` is not an https URL this module can compare safely (the message says why).
    """
    if _AMBIGUOUS.search(url):
        raise ValueError("it holds a backslash, white space or a control character")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"it is not a well-formed URL ({exc})") from None
    if parts.scheme.lower() != "https":
        raise ValueError("it is not an https URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("it holds a user name or password")
    if not _AUTHORITY.fullmatch(parts.netloc):
        raise ValueError("its host is not a plain host name or bracketed IPv6 address with an optional port")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError("it names no host")
    if _unsafe_path(parts.path):
        raise ValueError(
            "its path holds a '..' segment, a percent-encoded dot, slash, backslash or semicolon, or a character"
            " outside ASCII"
        )
    return Destination(host=host, port=port or 443, path=parts.path or "/")


def parse_allowed(url: str) -> Destination:
    """The destination a policy lists as `url`.

    Raises:
        ValueError: `url` is not an https URL this module can compare safely, or it holds a query
            string or fragment, which is not compared (the message says why).
    """
    destination = parse_destination(url)
    if "?" in url or "#" in url:
        raise ValueError("it holds a query string or fragment, which is not compared")
    return destination


def _unsafe_path(path: str) -> bool:
    """Whether a receiver may read `path` as another path than the one compared."""
    return (
        not path.isascii()
        # A segment's `;` parameters are dropped by some servers before they resolve `..`.
        or any(segment.split(";", 1)[0] == ".." for segment in path.split("/"))
        or bool(_ENCODED_SEPARATOR.search(path))
    )


def destination_refusal(url: str, allowed: Sequence[str]) -> str | None:
    """Why a webhook may not send to `url` under the destinations `allowed` (each an https URL),
    or None when it may: always when `allowed` is empty (the policy sets none)."""
    if not allowed:
        return None
    try:
        target = parse_destination(url)
    except ValueError as exc:
        return f"the target URL cannot be checked against [webhooks] destinations: {exc}"
    if any(parse_destination(entry).holds(target) for entry in allowed):
        return None
    return f"the policy's [webhooks] destinations do not include it (allowed: {', '.join(allowed)})"


def header_refusal(names: Iterable[str], allowed: Sequence[str]) -> str | None:
    """Why a webhook under the destinations `allowed` may not send headers named `names`, or
    None when it may: always when `allowed` is empty (the policy sets none)."""
    if not allowed:
        return None
    for name in names:
        if not _TOKEN.fullmatch(name):
            return f"the header name {name!r} is not a plain HTTP header name"
        if name.lower() in ROUTING_HEADERS:
            return f"the header {name!r} can route the request to another site or path than target_url"
    return None


def webhook_refusal(url: str, header_names: Iterable[str], allowed: Sequence[str]) -> str | None:
    """Why a webhook that posts to `url` with custom headers named `header_names` may not send
    under the destinations `allowed`, or None when it may (`destination_refusal`, then
    `header_refusal`)."""
    return destination_refusal(url, allowed) or header_refusal(header_names, allowed)
