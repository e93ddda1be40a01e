"""Fetching a file from an `https` URL for `upload_asset`: the one request cs-mcp sends to a
host other than Contentstack's, so it is held tight.

- `https` only; no user name or password in the URL.
- Every address the host resolves to must be public (not private, loopback, link-local,
  reserved or multicast, nor an IPv6 address that carries such an IPv4 address: NAT64,
  6to4, Teredo, IPv4-mapped or -compatible), checked again at each redirect, so neither the
  URL nor a redirect can reach the network the server runs in. The sandbox (`allow_private`) lifts this check
  alone, for a stack that lives on loopback.
- At most `MAX_REDIRECTS` redirects, each one checked like the first URL.
- A size cap: a `Content-Length` above it is refused before the body is read, and the body
  is read in chunks and refused the moment it passes the cap.
- Timeouts on connecting and on each read, and one deadline over the whole fetch.

The check resolves the host before connecting; a host whose DNS answer changes between the
check and the connection (DNS rebinding) is the residual risk, which is why operators who do not
need URL uploads can refuse them by role (the scope) or by running without network egress.
"""

from __future__ import annotations

import ipaddress
import mimetypes
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import unquote

import anyio
import httpx2

from cs_mcp import __version__

__all__ = ["FetchRefusedError", "FetchedFile", "UrlFetcher"]

MAX_REDIRECTS = 3
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 20.0
DEADLINE = 60.0  # seconds for the whole fetch, redirects included
DEFAULT_MEDIA_TYPE = "application/octet-stream"

Resolver = Callable[[str, int], Awaitable[list[str]]]


class FetchRefusedError(Exception):
    """The URL was refused or the fetch failed; the message says why in plain words. Nothing
    was sent to Contentstack."""


@dataclass(frozen=True)
class FetchedFile:
    """What a URL answered: a file name (from the URL's path), its bytes and media type."""

    filename: str
    content: bytes
    media_type: str


async def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to."""
    found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in found]


# NAT64's well-known prefix (RFC 6052): the last 32 bits are the IPv4 address the translator
# connects to. Its local-use prefix (RFC 8215) serves a site's own translator and is never public.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
# The upper 96 bits of an IPv4-translated address (`::ffff:0:0/96`, SIIT).
IPV4_TRANSLATED = 0xFFFF0000


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address reaches: IPv4-mapped, IPv4-compatible (`::a.b.c.d`),
    IPv4-translated (`::ffff:0:a.b.c.d`, RFC 6145), NAT64, 6to4 or Teredo's client; None for a
    plain IPv6 address."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64 or int(ip) >> 32 in (0, IPV4_TRANSLATED):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in LOCAL_NAT64 or ip.is_site_local:
            return False
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            ip = embedded
    return ip.is_global and not ip.is_multicast


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


class UrlFetcher:
    """Fetches one file from an `https` URL under the rules of the module docstring.

    Args:
        transport: an httpx2 transport (tests pass `httpx2.MockTransport`).
        resolver: host and port to addresses (tests pass a table).
    """

    def __init__(self, *, transport: httpx2.AsyncBaseTransport | None = None, resolver: Resolver | None = None) -> None:
        self._transport = transport
        self._resolve = resolver or resolve_host

    async def _check(self, url: httpx2.URL, *, allow_private: bool) -> None:
        if url.scheme != "https":
            raise FetchRefusedError(f"only https URLs are fetched, not {url.scheme or 'a relative'} URL")
        if not url.host:
            raise FetchRefusedError("the URL names no host")
        if url.userinfo:
            raise FetchRefusedError("a URL with a user name or password is not fetched")
        if allow_private:
            return
        literal = _literal(url.host)
        try:
            addresses = [literal] if literal else await self._resolve(url.host, url.port or 443)
        except OSError as exc:
            raise FetchRefusedError(f"the host {url.host} could not be resolved ({exc.strerror or exc})") from None
        if not addresses:
            raise FetchRefusedError(f"the host {url.host} resolves to no address")
        private = sorted({a for a in addresses if not _public(a)})
        if private:
            raise FetchRefusedError(
                f"the host {url.host} resolves to a private, loopback or reserved address ({', '.join(private)}); "
                "only public hosts are fetched"
            )

    async def fetch(self, url: str, *, max_bytes: int, allow_private: bool = False) -> FetchedFile:
        """The file at `url`, following at most `MAX_REDIRECTS` checked redirects.

        Raises:
            FetchRefusedError: the URL or a redirect is refused, the answer is not 200, the file
                is larger than `max_bytes`, or the fetch failed or took too long.
        """
        try:
            current = httpx2.URL(url)
        except (httpx2.InvalidURL, TypeError) as exc:
            raise FetchRefusedError(f"not a URL: {exc}") from None
        timeout = httpx2.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
        headers = {"User-Agent": f"cs-mcp/{__version__} (asset upload)"}
        try:
            with anyio.fail_after(DEADLINE):
                async with httpx2.AsyncClient(
                    transport=self._transport, timeout=timeout, follow_redirects=False, headers=headers
                ) as http:
                    for _hop in range(MAX_REDIRECTS + 1):
                        await self._check(current, allow_private=allow_private)
                        async with http.stream("GET", current) as response:
                            if response.is_redirect and "location" in response.headers:
                                current = current.join(response.headers["location"])
                                continue
                            if response.status_code != 200:
                                raise FetchRefusedError(f"the URL answered HTTP {response.status_code}, not a file")
                            content = await _capped(response, max_bytes)
                            return FetchedFile(
                                filename=_filename(current),
                                content=content,
                                media_type=_media_type(response, current),
                            )
                    raise FetchRefusedError(f"more than {MAX_REDIRECTS} redirects")
        except TimeoutError:
            raise FetchRefusedError(f"the URL did not deliver the file within {DEADLINE:.0f} seconds") from None
        except httpx2.HTTPError as exc:
            raise FetchRefusedError(f"the URL could not be fetched ({type(exc).__name__})") from None


async def _capped(response: httpx2.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise FetchRefusedError(f"the file is {int(declared)} bytes, more than the {max_bytes} allowed")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchRefusedError(f"the file is larger than the {max_bytes} bytes allowed")
        chunks.append(chunk)
    return b"".join(chunks)


def _filename(url: httpx2.URL) -> str:
    last = unquote(url.path.rsplit("/", 1)[-1])
    return last or "download"


def _media_type(response: httpx2.Response, url: httpx2.URL) -> str:
    declared = response.headers.get("content-type", "").split(";", 1)[0].strip()
    if declared and declared != DEFAULT_MEDIA_TYPE:
        return declared
    return mimetypes.guess_type(_filename(url))[0] or DEFAULT_MEDIA_TYPE
