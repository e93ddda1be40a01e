"""Contentstack's regions, their hosts per API, and how base URLs are formed."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "REGIONS",
    "Api",
    "InvalidBaseURLError",
    "UnknownRegionError",
    "base_url",
    "normalise_base_url",
    "resolve_region",
]


class Api(enum.StrEnum):
    """The four API families cs-mcp speaks. Each has its own host, auth and rate limit."""

    CMA = "cma"
    CDA = "cda"
    ANALYTICS = "analytics"
    AUTOMATE = "automate"


@dataclass(frozen=True)
class RegionHosts:
    cma: str
    cda: str
    app: str
    automate: str

    def host(self, api: Api) -> str:
        return {Api.CMA: self.cma, Api.CDA: self.cda, Api.ANALYTICS: self.app, Api.AUTOMATE: self.automate}[api]


REGIONS: dict[str, RegionHosts] = {
    "NA": RegionHosts(
        "api.contentstack.io", "cdn.contentstack.io", "app.contentstack.com", "automations-api.contentstack.com"
    ),
    "EU": RegionHosts(
        "eu-api.contentstack.com",
        "eu-cdn.contentstack.com",
        "eu-app.contentstack.com",
        "eu-prod-automations-api.contentstack.com",
    ),
    "AU": RegionHosts(
        "au-api.contentstack.com",
        "au-cdn.contentstack.com",
        "au-app.contentstack.com",
        "au-prod-automations-api.contentstack.com",
    ),
    "AZURE_NA": RegionHosts(
        "azure-na-api.contentstack.com",
        "azure-na-cdn.contentstack.com",
        "azure-na-app.contentstack.com",
        "azure-na-automations-api.contentstack.com",
    ),
    "AZURE_EU": RegionHosts(
        "azure-eu-api.contentstack.com",
        "azure-eu-cdn.contentstack.com",
        "azure-eu-app.contentstack.com",
        "azure-eu-automations-api.contentstack.com",
    ),
    "GCP_NA": RegionHosts(
        "gcp-na-api.contentstack.com",
        "gcp-na-cdn.contentstack.com",
        "gcp-na-app.contentstack.com",
        "gcp-na-automations-api.contentstack.com",
    ),
    "GCP_EU": RegionHosts(
        "gcp-eu-api.contentstack.com",
        "gcp-eu-cdn.contentstack.com",
        "gcp-eu-app.contentstack.com",
        "gcp-eu-automations-api.contentstack.com",
    ),
}

_ALIASES = {"US": "NA", "AWS_NA": "NA", "AWS_EU": "EU", "AWS_AU": "AU"}

# The path each API's requests start with, appended to the host or to an override.
VERSION_PATHS: dict[Api, str] = {
    Api.CMA: "/v3",
    Api.CDA: "/v3",
    Api.ANALYTICS: "/analytics/v2",
    Api.AUTOMATE: "/v1",
}


class UnknownRegionError(ValueError):
    """Raised for a region name that is not one of Contentstack's regions."""


class InvalidBaseURLError(ValueError):
    """Raised for a base URL override that is not an absolute http(s) URL."""


def resolve_region(name: str) -> str:
    """The canonical region name (`NA`, `EU`, ...) for a name or alias, case- and separator-insensitive.

    Raises:
        UnknownRegionError: naming the valid regions.
    """
    key = name.strip().upper().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key not in REGIONS:
        valid = ", ".join(sorted(REGIONS))
        raise UnknownRegionError(f"unknown region {name!r}; valid regions are {valid} (aliases: us, aws-na, aws-eu)")
    return key


def normalise_base_url(url: str) -> str:
    """An override without trailing slashes, checked to be an absolute http(s) URL.

    Raises:
        InvalidBaseURLError: if the URL has no http(s) scheme or no host.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidBaseURLError("expected an absolute URL such as https://api.contentstack.io")
    if parts.query or parts.fragment:
        raise InvalidBaseURLError("a base URL takes no query string or fragment")
    return url.strip().rstrip("/")


def base_url(api: Api, region: str, override: str | None = None) -> str:
    """The URL every request of `api` starts with, version path included.

    An override wins over the region; the version path is appended unless the override
    already ends with it.
    """
    version = VERSION_PATHS[api]
    if override:
        root = normalise_base_url(override)
        return root if root.endswith(version) else root + version
    return "https://" + REGIONS[resolve_region(region)].host(api) + version
