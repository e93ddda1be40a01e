"""Builds the MCP Apps views in cs_mcp/views/ from the sources in views/src/.

Each view is one HTML file with everything inlined: the shared styles and runtime, its own
script and, for charts, uPlot exactly as its npm package publishes it (with its licence). The
page's Content-Security-Policy allows only these inline scripts and styles, by hash, and no
network at all. `pip install` needs no Node: the built files are committed.

    python views/build.py                 # npm-install the pinned uPlot into a temporary folder, build
    python views/build.py --check         # the same, but only compare with the committed files
    python views/build.py --uplot DIR     # use an installed package folder (node_modules/uplot)

The chart library's version is pinned in views/package.json and package-lock.json.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

VIEWS_DIR = Path(__file__).resolve().parent
SOURCES = VIEWS_DIR / "src"
OUTPUT = VIEWS_DIR.parent / "cs_mcp" / "views"
PAGES = ("analytics.html", "release.html", "write-preview.html")
UPLOT_SCRIPT = "dist/uPlot.iife.min.js"
UPLOT_STYLE = "dist/uPlot.min.css"
LICENSE_FILE = "LICENSE.uplot"
_MARKER = re.compile(r"<!-- inline:(script|style) ([\w.-]+) -->")


class BuildError(Exception):
    """A source or the library is missing or cannot be inlined."""


def uplot_version(package_dir: Path) -> str:
    """The version of an installed uPlot package."""
    return str(json.loads((package_dir / "package.json").read_text(encoding="utf-8"))["version"])


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _safe(text: str, closing: str, what: str) -> str:
    if closing in text.lower():
        raise BuildError(f"{what} contains {closing}, which would end its inline element early")
    return text


def build(package_dir: Path) -> dict[str, str]:
    """The built files (name -> text) from the sources and an installed uPlot package.

    Raises:
        BuildError: a marker names a file that does not exist, or inlined text would break out
            of its element.
        OSError: a source or a library file cannot be read.
    """
    version = uplot_version(package_dir)
    licence = (package_dir / "LICENSE").read_text(encoding="utf-8")
    library = {
        "script": (package_dir / UPLOT_SCRIPT).read_text(encoding="utf-8"),
        "style": (package_dir / UPLOT_STYLE).read_text(encoding="utf-8"),
    }
    built: dict[str, str] = {LICENSE_FILE: licence}
    for page in PAGES:
        template = (SOURCES / page).read_text(encoding="utf-8")
        scripts: list[str] = []
        styles: list[str] = []

        def inline(
            match: re.Match[str], page: str = page, scripts: list[str] = scripts, styles: list[str] = styles
        ) -> str:
            kind, name = match.group(1), match.group(2)
            if name == "uplot":
                text = library[kind]
                source = UPLOT_SCRIPT if kind == "script" else UPLOT_STYLE
                attributes = f' data-package="uplot@{version}" data-file="{source}"'
            else:
                path = SOURCES / name
                if not path.is_file():
                    raise BuildError(f"{page} inlines {name}, which is not in {SOURCES}")
                text = path.read_text(encoding="utf-8")
                attributes = f' data-source="{name}"'
            if kind == "script":
                scripts.append(_safe(text, "</script", name))
                note = ""
                if name == "uplot":
                    note = f"<!-- uPlot {version}, inlined unchanged from its npm package. Its licence:\n{licence}-->\n"
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
        html = html.replace("<!-- inline:csp -->", f'<meta http-equiv="Content-Security-Policy" content="{policy}">', 1)
        built[page] = html
    return built


def inlined_library(html: str) -> dict[str, str]:
    """The library texts inlined in a built page, by the package file they came from."""
    found: dict[str, str] = {}
    for tag in ("script", "style"):
        pattern = rf'<{tag} data-package="uplot@[^"]+" data-file="([^"]+)">(.*?)</{tag}>'
        for match in re.finditer(pattern, html, flags=re.DOTALL):
            found[match.group(1)] = match.group(2)
    return found


def install_pinned(into: Path) -> Path:
    """npm-installs the pinned uPlot (views/package-lock.json) into `into`; its package folder.

    Raises:
        BuildError: npm is missing or fails.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError("npm is not installed; install Node.js, or pass --uplot with an installed package")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(VIEWS_DIR / name, into / name)
    done = subprocess.run(  # noqa: S603 - a fixed command line with the npm found on PATH
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=into,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BuildError(f"npm ci failed: {done.stderr.strip()[-500:]}")
    return into / "node_modules" / "uplot"


def _differences(built: dict[str, str]) -> list[str]:
    return [
        name
        for name, text in built.items()
        if not (OUTPUT / name).is_file() or (OUTPUT / name).read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the committed files; write nothing")
    parser.add_argument("--uplot", type=Path, help="an installed uplot package folder (skips npm)")
    args = parser.parse_args(argv)
    try:
        if args.uplot is not None:
            built = build(args.uplot)
        else:
            with tempfile.TemporaryDirectory(prefix="cs-mcp-views-") as tmp:
                built = build(install_pinned(Path(tmp)))
    except (BuildError, OSError) as exc:
        print(f"views/build.py: {exc}", file=sys.stderr)
        return 2
    if args.check:
        stale = _differences(built)
        if stale:
            print(f"out of date (run python views/build.py): {', '.join(stale)}", file=sys.stderr)
            return 1
        print("the committed views match their sources and the pinned uPlot")
        return 0
    for name, text in built.items():
        (OUTPUT / name).write_text(text, encoding="utf-8")
        print(f"wrote {OUTPUT / name} ({len(text.encode('utf-8')):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
