"""The committed views are what views/build.py makes of the sources and the pinned uPlot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cs_mcp.views import VIEWS
from views.build import LICENSE_FILE, OUTPUT, PAGES, UPLOT_SCRIPT, UPLOT_STYLE, VIEWS_DIR, build, inlined_library

PINNED = json.loads((VIEWS_DIR / "package.json").read_text())["dependencies"]["uplot"]
INSTALLED = VIEWS_DIR / "node_modules" / "uplot"


def committed(name: str) -> str:
    return (OUTPUT / name).read_text(encoding="utf-8")


def package_from_committed(into: Path) -> Path:
    """A uPlot package folder holding exactly what the committed analytics view inlines."""
    library = inlined_library(committed("analytics.html"))
    (into / "dist").mkdir(parents=True)
    (into / UPLOT_SCRIPT).write_text(library[UPLOT_SCRIPT], encoding="utf-8")
    (into / UPLOT_STYLE).write_text(library[UPLOT_STYLE], encoding="utf-8")
    (into / "LICENSE").write_text(committed(LICENSE_FILE), encoding="utf-8")
    (into / "package.json").write_text(json.dumps({"name": "uplot", "version": PINNED}), encoding="utf-8")
    return into


def test_the_build_covers_every_view_the_server_serves() -> None:
    assert sorted(PAGES) == sorted(v.file for v in VIEWS)


def test_the_committed_views_are_rebuilt_exactly_from_the_sources_and_the_library_they_inline(tmp_path: Path) -> None:
    built = build(package_from_committed(tmp_path / "uplot"))
    assert sorted(built) == sorted([*PAGES, LICENSE_FILE])
    stale = [name for name, text in built.items() if committed(name) != text]
    assert stale == [], "run python views/build.py after changing views/src"


def test_the_inlined_library_is_the_pinned_version_with_its_licence() -> None:
    html = committed("analytics.html")
    assert f'data-package="uplot@{PINNED}"' in html
    lock = json.loads((VIEWS_DIR / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/uplot"]["version"] == PINNED
    assert "The MIT License" in committed(LICENSE_FILE)
    assert committed(LICENSE_FILE) in html  # the licence travels inside the page too


@pytest.mark.skipif(not INSTALLED.is_dir(), reason="views/node_modules/uplot is absent (cd views && npm ci)")
def test_the_inlined_library_is_the_published_package_file_byte_for_byte() -> None:
    assert json.loads((INSTALLED / "package.json").read_text())["version"] == PINNED
    library = inlined_library(committed("analytics.html"))
    assert library[UPLOT_SCRIPT] == (INSTALLED / UPLOT_SCRIPT).read_text(encoding="utf-8")
    assert library[UPLOT_STYLE] == (INSTALLED / UPLOT_STYLE).read_text(encoding="utf-8")
    assert committed(LICENSE_FILE) == (INSTALLED / "LICENSE").read_text(encoding="utf-8")
