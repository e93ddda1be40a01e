"""The TLS contexts of the client's connection pools."""

from __future__ import annotations

import ssl

from cs_mcp.client._client import tls_context


def test_https_pools_share_one_verifying_context_with_the_ca_store_loaded() -> None:
    cma = tls_context("https://api.contentstack.io/v3")
    cda = tls_context("https://cdn.contentstack.io/v3")
    assert cma is cda
    assert cma.verify_mode == ssl.CERT_REQUIRED
    assert cma.check_hostname is True
    assert cma.cert_store_stats()["x509_ca"] > 0


def test_a_plain_http_url_gets_a_context_that_could_only_refuse_a_certificate() -> None:
    context = tls_context("http://127.0.0.1:8000/v3")
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.cert_store_stats()["x509_ca"] == 0
