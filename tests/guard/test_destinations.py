"""Where a webhook may send: target URLs against the policy's `[webhooks] destinations`."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cs_mcp.guard.destinations import destination_refusal, header_refusal
from cs_mcp.guard.policy import WebhookSpec

ALLOWED = ("https://hooks.example.com/cs", "https://ci.example.org:8443/")


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/cs",
        "https://hooks.example.com/cs/",
        "https://hooks.example.com/cs/publish?token=abc#top",
        "https://HOOKS.Example.COM/cs/x",
        "https://hooks.example.com./cs",
        "https://hooks.example.com:443/cs",
        "https://ci.example.org:8443/anything",
    ],
)
def test_a_target_under_an_allowed_destination_may_be_sent_to(url: str) -> None:
    assert destination_refusal(url, ALLOWED) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/cs-evil",  # a longer name, not a path below
        "https://hooks.example.com/",
        "https://hooks.example.com.evil.net/cs",
        "https://evil.net/cs",
        "https://hooks.example.com:8443/cs",  # another port
        "https://ci.example.org/anything",  # 443, not 8443
        "http://hooks.example.com/cs",
        "https://user:pass@hooks.example.com/cs",
        "https://hooks.example.com@evil.net/cs",
        "https://hooks.example.com\\@evil.net/cs",
        "https://evil.net\\@hooks.example.com/cs",
        "https://hooks.example.com/cs/../admin",
        "https://hooks.example.com/cs/%2e%2e/admin",
        "https://hooks.example.com/cs%2F..%2Fadmin",
        "https://hooks.example.com/cs/..;/admin",  # Tomcat and Jetty drop the parameter, then go up
        "https://hooks.example.com/cs/..;x=1/admin",
        "https://hooks.example.com/cs/%252e%252e/admin",  # a receiver that decodes twice reads '..'
        "https://hooks.example.com/cs/..%3bx/admin",  # decoded, '..;x', which Tomcat reads as '..'
        "https://hooks.example.com/cs/%u002e%u002e/admin",  # IIS decodes %uXXXX
        "https://hooks.example.com/cs/%25252F/admin",
        "https://hooks.example.com/cs/\uff0e\uff0e/admin",  # fullwidth dots, '..' once normalised (NFKC)
        "https://hooks.example.com/cs/\t/x",
        "https://hooks.example.com:99999/cs",
        "https:///cs",
        "hooks.example.com/cs",
    ],
)
def test_a_target_outside_every_allowed_destination_is_refused(url: str) -> None:
    assert destination_refusal(url, ALLOWED) is not None


@pytest.mark.parametrize(
    "url",
    [
        # Python reads the host inside the brackets and drops what surrounds them; Node's
        # legacy url.parse sends to evil.net, or to another path than the one compared.
        "https://evil.net:[2001:db8::1]/cs",
        "https://evil.net;[2001:db8::1]/cs",
        "https://evil.net%2e[2001:db8::1]/cs",
        "https://[2001:db8::1]%2fevil.net/cs",
        "https://[2001:db8::1];evil.net/cs",
        "https://hoo\u212aks.example.com/cs",  # a Kelvin sign, 'k' once lowered
        "https://hooks%2eexample.com/cs",
        "https://hooks.example.com:4_43/cs",
    ],
)
def test_a_target_whose_authority_is_more_than_a_host_and_port_is_refused(url: str) -> None:
    assert destination_refusal(url, (*ALLOWED, "https://[2001:db8::1]/cs")) is not None


def test_an_ip_address_destination_allows_that_address() -> None:
    assert destination_refusal("https://[2001:DB8::1]:443/cs/x", ("https://[2001:db8::1]/cs",)) is None


def test_without_destinations_any_target_may_be_sent_to() -> None:
    assert destination_refusal("http://anywhere.example/x", ()) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com",
        "https://a:b@hooks.example.com",
        "https://x/../y",
        "https://hooks.example.com/cs?team=a",  # the query is not compared: any query passes
        "https://hooks.example.com/cs#a",
    ],
)
def test_a_destination_that_cannot_be_compared_safely_is_not_a_policy(url: str) -> None:
    with pytest.raises(ValidationError):
        WebhookSpec(destinations=(url,))


@pytest.mark.parametrize(
    "name",
    [
        "Host",
        "x-forwarded-host",
        "Forwarded",
        "X-Original-URL",
        "X-Rewrite-URL",
        "X-Key\r\nHost",  # not an HTTP token: a second line of headers
        "X Key",
    ],
)
def test_a_header_that_can_route_a_webhook_elsewhere_or_is_not_a_header_name_is_refused_under_destinations(
    name: str,
) -> None:
    assert header_refusal([name], ALLOWED) is not None
    assert header_refusal([name], ()) is None


def test_other_headers_may_be_sent_under_destinations() -> None:
    assert header_refusal(["X-Api-Key", "Authorization-Token"], ALLOWED) is None
