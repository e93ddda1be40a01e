"""The https fetch behind upload_asset's `url`: only https, only public addresses (checked at
every redirect), a size cap, and every refusal before a byte of the file is read."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from cs_mcp.client import FetchRefusedError, UrlFetcher

pytestmark = pytest.mark.anyio

PUBLIC = "93.184.216.34"
DNS = {
    "files.example.com": [PUBLIC],
    "inside.example.com": ["10.1.2.3"],
    "mixed.example.com": [PUBLIC, "127.0.0.1"],
    "nat64.example.com": ["64:ff9b::a01:203"],
}


async def table(host: str, port: int) -> list[str]:
    del port
    if host not in DNS:
        raise OSError("no such host")
    return DNS[host]


class Files:
    """A stand-in web: paths to answers; records every URL asked for."""

    def __init__(self, answers: dict[str, httpx2.Response]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.asked.append(str(request.url))
        return self.answers.get(str(request.url), httpx2.Response(404))


class Chunks(httpx2.AsyncByteStream):
    """A body sent in chunks, with no Content-Length announced."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


def fetcher(files: Files) -> UrlFetcher:
    return UrlFetcher(transport=httpx2.MockTransport(files), resolver=table)


async def test_a_public_https_file_is_fetched_with_its_name_and_media_type() -> None:
    files = Files({"https://files.example.com/img/hero%20shot.png": httpx2.Response(200, content=b"png-bytes")})
    got = await fetcher(files).fetch("https://files.example.com/img/hero%20shot.png", max_bytes=100)
    assert (got.filename, got.content, got.media_type) == ("hero shot.png", b"png-bytes", "image/png")


@pytest.mark.parametrize(
    "url",
    [
        "http://files.example.com/a.png",
        "ftp://files.example.com/a.png",
        "https://user:secret@files.example.com/a.png",
        "https://127.0.0.1/a.png",
        "https://10.0.0.8/a.png",
        "https://[::1]/a.png",
        "https://169.254.169.254/latest/meta-data",
        "https://inside.example.com/a.png",
        "https://mixed.example.com/a.png",
        "https://nowhere.example.com/a.png",
    ],
)
async def test_a_url_that_is_not_public_https_is_refused_before_anything_is_asked(url: str) -> None:
    files = Files({})
    with pytest.raises(FetchRefusedError):
        await fetcher(files).fetch(url, max_bytes=100)
    assert files.asked == []


@pytest.mark.parametrize(
    "url",
    [
        "https://[64:ff9b::a9fe:a9fe]/latest/meta-data",  # NAT64 (RFC 6052) of 169.254.169.254
        "https://[64:ff9b:1::a00:1]/a.png",  # local-use NAT64 (RFC 8215) of 10.0.0.1
        "https://[2002:a9fe:a9fe::1]/a.png",  # 6to4 of 169.254.169.254
        "https://[::7f00:1]/a.png",  # IPv4-compatible ::127.0.0.1
        "https://[::ffff:0:a9fe:a9fe]/a.png",  # IPv4-translated (SIIT) of 169.254.169.254
        "https://[fec0::1]/a.png",  # site-local
        "https://nat64.example.com/a.png",  # a name whose AAAA is NAT64 of 10.1.2.3
    ],
)
async def test_an_ipv6_address_that_reaches_a_private_network_is_refused(url: str) -> None:
    files = Files({})
    with pytest.raises(FetchRefusedError, match="private, loopback or reserved"):
        await fetcher(files).fetch(url, max_bytes=100)
    assert files.asked == []


async def test_a_redirect_to_a_private_address_is_refused() -> None:
    files = Files(
        {"https://files.example.com/a.png": httpx2.Response(302, headers={"location": "https://127.0.0.1/admin"})}
    )
    with pytest.raises(FetchRefusedError):
        await fetcher(files).fetch("https://files.example.com/a.png", max_bytes=100)
    assert files.asked == ["https://files.example.com/a.png"]


async def test_a_public_redirect_is_followed_and_too_many_are_refused() -> None:
    hop = "https://files.example.com/{}"
    files = Files(
        {hop.format(n): httpx2.Response(301, headers={"location": hop.format(n + 1)}) for n in range(5)}
        | {hop.format(1): httpx2.Response(302, headers={"location": "/final.png"})}
        | {hop.format("final.png"): httpx2.Response(200, content=b"ok")}
    )
    got = await fetcher(files).fetch(hop.format(1), max_bytes=10)
    assert got.content == b"ok"
    with pytest.raises(FetchRefusedError):
        await fetcher(files).fetch(hop.format(2), max_bytes=10)


async def test_a_file_over_the_cap_is_refused_whether_announced_or_not() -> None:
    announced = Files({"https://files.example.com/big": httpx2.Response(200, content=b"x" * 50)})
    streamed = Files({"https://files.example.com/big": httpx2.Response(200, stream=Chunks(b"x" * 8, b"x" * 8))})
    for files in (announced, streamed):
        with pytest.raises(FetchRefusedError):
            await fetcher(files).fetch("https://files.example.com/big", max_bytes=10)


async def test_an_answer_that_is_not_200_is_refused() -> None:
    with pytest.raises(FetchRefusedError):
        await fetcher(Files({})).fetch("https://files.example.com/missing.png", max_bytes=10)


async def test_in_sandbox_mode_loopback_hosts_are_allowed_but_https_is_still_required() -> None:
    files = Files({"https://127.0.0.1/a.png": httpx2.Response(200, content=b"ok")})
    got = await fetcher(files).fetch("https://127.0.0.1/a.png", max_bytes=10, allow_private=True)
    assert got.content == b"ok"
    with pytest.raises(FetchRefusedError):
        await fetcher(files).fetch("http://127.0.0.1/a.png", max_bytes=10, allow_private=True)
