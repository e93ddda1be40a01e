"""Updates the chart library the views inline, kept in the package at cs_mcp/views/uplot/.

The views are assembled from cs_mcp/views/src/ when they are read (cs_mcp/views/assemble.py);
the only part that comes from outside the repository is uPlot, copied unchanged from its npm
package (pinned in views/package.json and package-lock.json) with its licence. `pip install`
needs no Node: the copy is committed.

    python views/vendor_uplot.py               # npm-install the pinned uPlot into a temporary folder, copy it
    python views/vendor_uplot.py --check       # the same, but only compare with the committed copy
    python views/vendor_uplot.py --uplot DIR   # use an installed package folder (node_modules/uplot)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

VIEWS_DIR = Path(__file__).resolve().parent
OUTPUT = VIEWS_DIR.parent / "cs_mcp" / "views" / "uplot"
# The package's files that the views inline, and where the copy keeps them.
FILES = {"dist/uPlot.iife.min.js": "uPlot.iife.min.js", "dist/uPlot.min.css": "uPlot.min.css", "LICENSE": "LICENSE"}


class VendorError(Exception):
    """npm is missing or fails, or the package lacks a file."""


def pinned_version() -> str:
    return str(json.loads((VIEWS_DIR / "package.json").read_text(encoding="utf-8"))["dependencies"]["uplot"])


def copy_of(package_dir: Path) -> dict[str, str]:
    """The files the copy holds (name -> text), from an installed uPlot package.

    Raises:
        VendorError: the package is not the pinned version.
        OSError: a file cannot be read.
    """
    version = str(json.loads((package_dir / "package.json").read_text(encoding="utf-8"))["version"])
    if version != pinned_version():
        raise VendorError(f"{package_dir} holds uplot {version}, not the pinned {pinned_version()}")
    copied = {kept: (package_dir / source).read_text(encoding="utf-8") for source, kept in FILES.items()}
    copied["package.json"] = json.dumps({"name": "uplot", "version": version}, indent=2) + "\n"
    return copied


def install_pinned(into: Path) -> Path:
    """npm-installs the pinned uPlot (views/package-lock.json) into `into`; its package folder.

    Raises:
        VendorError: npm is missing or fails.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError("npm is not installed; install Node.js, or pass --uplot with an installed package")
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
        raise VendorError(f"npm ci failed: {done.stderr.strip()[-500:]}")
    return into / "node_modules" / "uplot"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the committed copy; write nothing")
    parser.add_argument("--uplot", type=Path, help="an installed uplot package folder (skips npm)")
    args = parser.parse_args(argv)
    try:
        if args.uplot is not None:
            copied = copy_of(args.uplot)
        else:
            with tempfile.TemporaryDirectory(prefix="cs-mcp-uplot-") as tmp:
                copied = copy_of(install_pinned(Path(tmp)))
    except (VendorError, OSError) as exc:
        print(f"views/vendor_uplot.py: {exc}", file=sys.stderr)
        return 2
    if args.check:
        stale = [n for n, t in copied.items() if not (OUTPUT / n).is_file() or (OUTPUT / n).read_text("utf-8") != t]
        if stale:
            print(f"out of date (run python views/vendor_uplot.py): {', '.join(stale)}", file=sys.stderr)
            return 1
        print("the committed copy is the pinned uPlot")
        return 0
    for name, text in copied.items():
        (OUTPUT / name).write_text(text, encoding="utf-8")
        print(f"wrote {OUTPUT / name} ({len(text.encode('utf-8')):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
