"""Assembles a view's HTML from the sources kept in the package, when it is first read.

Each page in `src/` marks where its parts go: `<!-- inline:head TITLE -->` opens it (the
document's head, alike in every view), `<!-- inline:script NAME -->` and
`<!-- inline:style NAME -->` inline a file of `src/` (the shared runtime `app.js` and styles
`common.css`, the view's own script) or, for NAME `uplot`, the chart library exactly as its npm
package publishes it (`uplot/`, with its licence); `<!-- inline:csp -->` becomes a
Content-Security-Policy that allows only those inline scripts and styles, by hash, and no
network at all. The pieces every view shares are thus kept once, and no generated copy is
tracked.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from importlib.resources import files
from importlib.resources.abc import Traversable

SOURCES = "src"
LIBRARY = "uplot"
UPLOT_SCRIPT = "uPlot.iife.min.js"
UPLOT_STYLE = "uPlot.min.css"
_MARKER = re.compile(r"<!-- inline:(script|style) ([\w.-]+) -->")
# Every page opens alike; `<!-- inline:head TITLE -->` stands for these lines (the policy goes
# where `inline:csp` stands, once the page's inline code is known).
_HEAD_MARKER = re.compile(r"<!-- inline:head (.+?) -->\n")
_HEAD = (
    "<!doctype html>\n"
    '<html lang="en">\n'
    "<head>\n"
    '<meta charset="utf-8">\n'
    "<!-- inline:csp -->\n"
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    "<title>cs-mcp: {title}</title>\n"
)


class AssemblyError(Exception):
    """A page names a part that is not in the package, or a part would break out of its element."""


def _folder(name: str) -> Traversable:
    return files(__package__ or "cs_mcp.views").joinpath(name)


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _safe(text: str, closing: str, what: str) -> str:
    if closing in text.lower():
        raise AssemblyError(f"{what} contains {closing}, which would end its inline element early")
    return text


def library_version() -> str:
    """The version of the chart library kept in the package."""
    return str(json.loads(_folder(LIBRARY).joinpath("package.json").read_text(encoding="utf-8"))["version"])


def assemble(page: str) -> str:
    """The HTML of the view whose source page is `page` (e.g. "analytics.html").

    Raises:
        AssemblyError: a marker names a file that is not in the package, or inlined text would
            break out of its element.
        FileNotFoundError: the page is not in the package.
    """
    sources = _folder(SOURCES)
    library = _folder(LIBRARY)
    template = _HEAD_MARKER.sub(
        lambda match: _HEAD.format(title=match.group(1)), sources.joinpath(page).read_text(encoding="utf-8"), count=1
    )
    scripts: list[str] = []
    styles: list[str] = []

    def inline(match: re.Match[str]) -> str:
        kind, name = match.group(1), match.group(2)
        if name == "uplot":
            file = UPLOT_SCRIPT if kind == "script" else UPLOT_STYLE
            text = library.joinpath(file).read_text(encoding="utf-8")
            attributes = f' data-package="uplot@{library_version()}" data-file="dist/{file}"'
        else:
            part = sources.joinpath(name)
            if not part.is_file():
                raise AssemblyError(f"{page} inlines {name}, which is not among the view sources")
            text = part.read_text(encoding="utf-8")
            attributes = f' data-source="{name}"'
        if kind == "script":
            scripts.append(_safe(text, "</script", name))
            note = ""
            if name == "uplot":
                licence = library.joinpath("LICENSE").read_text(encoding="utf-8")
                note = f"<!-- uPlot {library_version()}, inlined unchanged from its npm package. Its licence:\n"
                note += f"{licence}-->\n"
            return f"{note}<script{attributes}>{text}</script>"
        styles.append(_safe(text, "</style", name))
        return f"<style{attributes}>{text}</style>"

    html = _MARKER.sub(inline, template)
    policy = "; ".join(
        [
            "default-src 'none'",
            "script-src " + " ".join(_sha256(s) for s in scripts),
            "style-src " + " ".join(_sha256(s) for s in styles),
            "img-src data:",
            "font-src 'none'",
            "connect-src 'none'",
            "frame-src 'none'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    return html.replace("<!-- inline:csp -->", f'<meta http-equiv="Content-Security-Policy" content="{policy}">', 1)
