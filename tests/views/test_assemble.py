"""The views are assembled from the sources kept in the package, with the pinned uPlot inlined
unchanged and a Content-Security-Policy that allows exactly the inline code of each page."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from cs_mcp.views import VIEWS, view_html
from cs_mcp.views.assemble import UPLOT_SCRIPT, UPLOT_STYLE, library_version
from views.vendor_uplot import OUTPUT, VIEWS_DIR, copy_of, pinned_version

SOURCES = Path(__file__).resolve().parents[2] / "cs_mcp" / "views" / "src"
INSTALLED = VIEWS_DIR / "node_modules" / "uplot"


def hashes(html: str, tag: str) -> set[str]:
    texts = re.findall(rf"<{tag}[^>]*>(.*?)</{tag}>", html, flags=re.DOTALL)
    return {"'sha256-" + base64.b64encode(hashlib.sha256(t.encode()).digest()).decode() + "'" for t in texts}


def policy(html: str) -> dict[str, set[str]]:
    (content,) = re.findall(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    return {d.split()[0]: set(d.split()[1:]) for d in content.split("; ")}


def test_every_view_the_server_serves_has_its_source_page_in_the_package() -> None:
    assert sorted(v.file for v in VIEWS) == sorted(p.name for p in SOURCES.glob("*.html"))


@pytest.mark.parametrize("file", [v.file for v in VIEWS])
def test_a_view_inlines_every_part_it_names_and_its_policy_allows_exactly_those(file: str) -> None:
    html = view_html(file)
    assert "<!-- inline:" not in html
    assert '<script src="' not in html
    assert "<link" not in html
    found = policy(html)
    assert found["script-src"] == hashes(html, "script")
    assert found["style-src"] == hashes(html, "style")
    assert found["default-src"] == {"'none'"}
    assert found["connect-src"] == {"'none'"}


def test_the_chart_view_inlines_the_pinned_library_unchanged_with_its_licence() -> None:
    html = view_html("analytics.html")
    assert library_version() == pinned_version()
    lock = json.loads((VIEWS_DIR / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/uplot"]["version"] == pinned_version()
    assert f'data-package="uplot@{pinned_version()}"' in html
    assert (OUTPUT / UPLOT_SCRIPT).read_text(encoding="utf-8") in html
    assert (OUTPUT / UPLOT_STYLE).read_text(encoding="utf-8") in html
    licence = (OUTPUT / "LICENSE").read_text(encoding="utf-8")
    assert "The MIT License" in licence
    assert licence in html  # the licence travels inside the page too


@pytest.mark.skipif(not INSTALLED.is_dir(), reason="views/node_modules/uplot is absent (cd views && npm ci)")
def test_the_kept_library_is_the_published_package_file_byte_for_byte() -> None:
    copied = copy_of(INSTALLED)
    assert all((OUTPUT / name).read_text(encoding="utf-8") == text for name, text in copied.items())
