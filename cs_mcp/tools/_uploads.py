"""Where a file to upload comes from: base64 content, a local path the policy allows, or an
`https` URL that the client fetches when the write runs.

A local `path` is read only inside the directories listed under the policy's `[uploads]`
(docs/SECURITY.md, "Uploads"): the path must be absolute and hold no `..`, symbolic links are
resolved before the check (a link inside an allowed directory that points outside it is
refused), and it must be a regular file no larger than `[uploads] max_bytes`.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path, PurePath

from mcp.server.mcpserver.exceptions import ToolError

from cs_mcp.client import AssetFile
from cs_mcp.guard.policy import UploadSpec

DEFAULT_MEDIA_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class UploadSource:
    """A file to upload: read already (`file`), or an `https` URL fetched when the write runs."""

    file: AssetFile | None
    url: str | None
    describe: str  # how a plan names it

    @property
    def size_note(self) -> str:
        return f"{len(self.file.content)} bytes, {self.file.media_type}" if self.file else "size known once fetched"


def media_type_of(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or DEFAULT_MEDIA_TYPE


def _plain_filename(filename: str) -> str:
    name = PurePath(filename.replace("\\", "/")).name
    if not name or name in (".", "..") or any(ord(c) < 32 for c in name):
        raise ToolError(f"filename {filename!r} is not a plain file name such as 'hero.png'")
    return name


def _decoded(content_base64: str, max_bytes: int) -> bytes:
    if len(content_base64) > (max_bytes + 2) // 3 * 4 + 4:
        raise ToolError(f"content_base64 holds more than the {max_bytes} bytes allowed ([uploads] max_bytes)")
    try:
        content = base64.b64decode(content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise ToolError("content_base64 is not valid base64 (standard alphabet, with padding)") from None
    if not content:
        raise ToolError("content_base64 holds an empty file")
    return content


def _allowed_file(path: str, uploads: UploadSpec) -> Path:
    if not uploads.directories:
        raise ToolError(
            "this server reads no local files: the policy's [uploads] directories is empty. "
            "Pass content_base64 with filename, or an https url."
        )
    given = PurePath(path)
    if not given.is_absolute() or ".." in given.parts:
        raise ToolError(f"path must be absolute and hold no '..', not {path!r}")
    try:
        resolved = Path(os.path.realpath(path, strict=True))
    except OSError:
        raise ToolError(f"no file at {path!r}") from None
    roots = [Path(os.path.realpath(d)) for d in uploads.directories]
    if not any(resolved.is_relative_to(root) for root in roots):
        raise ToolError(
            f"{path!r} is outside the directories the policy allows uploads from "
            f"({', '.join(uploads.directories)}); links are followed before this check"
        )
    if not resolved.is_file():
        raise ToolError(f"{path!r} is not a regular file")
    if resolved.stat().st_size > uploads.max_bytes:
        raise ToolError(f"{path!r} is larger than the {uploads.max_bytes} bytes allowed ([uploads] max_bytes)")
    return resolved


def upload_source(
    *,
    content_base64: str | None,
    filename: str | None,
    path: str | None,
    url: str | None,
    uploads: UploadSpec,
) -> UploadSource:
    """The one source the arguments name, read and checked (a URL is only checked for its
    scheme here: the client checks its host and fetches it when the write runs).

    Raises:
        ToolError: no source or more than one, a missing filename, bad base64, a path outside
            the allowed directories, a file too large, a URL that is not https.
    """
    given = [name for name, value in (("content_base64", content_base64), ("path", path), ("url", url)) if value]
    if len(given) != 1:
        raise ToolError(
            "give exactly one source: content_base64 (with filename), path (a file under the directories the "
            f"policy allows) or url (https); got {', '.join(given) or 'none'}"
        )
    if content_base64:
        if not filename:
            raise ToolError("content_base64 needs filename, e.g. 'hero.png'")
        name = _plain_filename(filename)
        content = _decoded(content_base64, uploads.max_bytes)
        return UploadSource(AssetFile(name, content, media_type_of(name)), None, f"{name} (from content_base64)")
    if path:
        resolved = _allowed_file(path, uploads)
        name = _plain_filename(filename) if filename else resolved.name
        return UploadSource(AssetFile(name, resolved.read_bytes(), media_type_of(name)), None, f"{name} (from {path})")
    assert url is not None  # exactly one source, checked above
    if not url.lower().startswith("https://"):
        raise ToolError(f"url must be an https URL, not {url[:80]!r}")
    return UploadSource(None, url, f"the file at {url}")
