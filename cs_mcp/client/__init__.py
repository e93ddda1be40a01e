"""The shared Contentstack API client: every HTTP call of cs-mcp goes through it."""

from cs_mcp.client._assets import AssetFile, AssetReference
from cs_mcp.client._client import ClientConfig, ContentstackClient, Multipart, Redactor, RetryPolicy, encode_path
from cs_mcp.client._entry_models import Asset
from cs_mcp.client._exceptions import (
    APIStatusError,
    AuthenticationError,
    ConnectionFailedError,
    ContentstackError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    PermitRequiredError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    TransportError,
    UnsafePathError,
)
from cs_mcp.client._fetch import FetchedFile, FetchRefusedError, UrlFetcher
from cs_mcp.client._models import APIModel, ContentType, Entry, Environment, Locale, Page, PublishDetail, SchemaField
from cs_mcp.client._ratelimit import RateLimiter, RateLimits
from cs_mcp.client._regions import REGIONS, Api, InvalidBaseURLError, UnknownRegionError, base_url, resolve_region

__all__ = [
    "REGIONS",
    "APIModel",
    "APIStatusError",
    "Api",
    "Asset",
    "AssetFile",
    "AssetReference",
    "AuthenticationError",
    "ClientConfig",
    "ConnectionFailedError",
    "ContentType",
    "ContentstackClient",
    "ContentstackError",
    "Entry",
    "Environment",
    "FetchRefusedError",
    "FetchedFile",
    "InvalidBaseURLError",
    "InvalidRequestError",
    "Locale",
    "MalformedResponseError",
    "Multipart",
    "NotFoundError",
    "OutcomeUnknownError",
    "Page",
    "PermissionDeniedError",
    "PermitRequiredError",
    "PublishDetail",
    "RateLimitedError",
    "RateLimiter",
    "RateLimits",
    "Redactor",
    "RequestTimeoutError",
    "RetryPolicy",
    "SchemaField",
    "ServerError",
    "TransportError",
    "UnknownRegionError",
    "UnsafePathError",
    "UrlFetcher",
    "base_url",
    "encode_path",
    "resolve_region",
]
