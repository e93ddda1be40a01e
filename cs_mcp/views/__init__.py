"""MCP Apps views: self-contained HTML pages a host shows a tool's result in.

A host that renders MCP Apps (the `io.modelcontextprotocol/ui` extension) reads the `ui://`
resource a tool names in `_meta.ui.resourceUri`, shows it in a sandboxed frame and hands it
the tool's input and result over postMessage JSON-RPC. Hosts without the extension ignore
both: every tool's text and `structuredContent` stay complete on their own.

A view's HTML is assembled from the sources in `src/` when it is first read (`assemble.py`):
the shared runtime and styles, its own script and, for charts, the library in `uplot/` are
inlined, so a view loads nothing from the network, and each page carries a
Content-Security-Policy that allows only its own inline code by hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from cs_mcp.views.assemble import assemble

MIME_TYPE = "text/html;profile=mcp-app"

ANALYTICS_VIEW = "ui://cs-mcp/analytics"
RELEASE_VIEW = "ui://cs-mcp/release"
WRITE_PREVIEW_VIEW = "ui://cs-mcp/write-preview"

# The resource's `_meta.ui`: no external origin of any kind (the strictest policy a host
# builds), and a border from the host around the frame.
RESOURCE_META: dict[str, Any] = {
    "ui": {
        "csp": {"connectDomains": [], "resourceDomains": [], "frameDomains": [], "baseUriDomains": []},
        "prefersBorder": True,
    }
}


@dataclass(frozen=True)
class View:
    uri: str
    name: str
    title: str
    description: str
    file: str


VIEWS = (
    View(
        ANALYTICS_VIEW,
        "analytics-view",
        "Analytics report view",
        "Charts of an analytics report over time (requests, bandwidth, status classes, cache hit ratio), "
        "its summary figures and its top URLs or SDKs.",
        "analytics.html",
    ),
    View(
        RELEASE_VIEW,
        "release-view",
        "Release view",
        "A release's items grouped by content type and locale, stale versions and missing entries "
        "highlighted, and what a deploy would do.",
        "release.html",
    ),
    View(
        WRITE_PREVIEW_VIEW,
        "write-preview-view",
        "Write preview",
        "What a publish, deploy or delete would change: targets, environments, locales, items, the "
        "requests and the guard's verdict, and the confirmation a human gives.",
        "write-preview.html",
    ),
)


@cache
def view_html(file: str) -> str:
    """The HTML of one view, assembled from its sources once per process.

    Raises:
        FileNotFoundError: the package lacks a source (an install without package data).
        AssemblyError: a source names a part that is not in the package.
    """
    return assemble(file)
