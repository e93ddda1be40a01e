"""Prompt templates from `prompts/*.md`, served as MCP prompts.

A prompt file starts with TOML front matter between `+++` lines (name, title, description and
`[[arguments]]` tables with name, description, required and an optional default), followed by
the body: a template in which `{argument}` stands for an argument's value and `{{` / `}}` for
literal braces. A file that cannot be served exactly as written (bad front matter, a missing
name, a placeholder that names no argument) is a startup error naming the file, never a
prompt that renders wrong later.

Installed as a wheel, the files live in the package as `cs_mcp/_prompts` (pyproject includes
them there); in a source checkout they are read from `<repo>/prompts`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.prompts.base import Message, Prompt, PromptArgument
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, InputRequiredResult
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cs_mcp.toolkit.shape import clean_text

FRONT_MATTER_FENCE = "+++"
# A placeholder is `{identifier}`; `{{` and `}}` are literal braces; other braces are left alone.
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
# An argument's value is a name, a date or a short list, never a document.
MAX_ARGUMENT_LENGTH = 1000


class PromptFileError(ValueError):
    """A prompt file is malformed. The message names the file and what is wrong with it."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"prompt file {path}: {problem}")
        self.path = path
        self.problem = problem


class PromptArgumentError(ValueError):
    """A prompt was asked for with a missing, unknown or oversized argument."""


class PromptArgumentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    description: str = Field(min_length=1)
    required: bool = False
    default: str | None = Field(default=None, description="Rendered when an optional argument is not given.")


class PromptFrontMatter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str | None = None
    description: str = Field(min_length=1)
    arguments: list[PromptArgumentSpec] = Field(default_factory=lambda: [])


@dataclass(frozen=True)
class PromptTemplate:
    """One prompt: its front matter and the body it renders."""

    name: str
    title: str | None
    description: str
    arguments: tuple[PromptArgumentSpec, ...]
    body: str
    source: Path

    def placeholders(self) -> set[str]:
        return {m.group(1) for m in _TOKEN.finditer(self.body) if m.group(1)}

    def render(self, values: Mapping[str, Any]) -> str:
        """The body with every placeholder replaced.

        Raises:
            PromptArgumentError: a required argument is missing or empty, an argument is
                unknown, or a value is longer than MAX_ARGUMENT_LENGTH.
        """
        known = {a.name: a for a in self.arguments}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise PromptArgumentError(
                f"prompt {self.name} has no argument {', '.join(unknown)}; its arguments are: "
                + (", ".join(known) or "none")
            )
        resolved: dict[str, str] = {}
        missing: list[PromptArgumentSpec] = []
        for spec in self.arguments:
            raw = values.get(spec.name)
            value = clean_text(str(raw)).strip() if raw is not None else ""
            if len(value) > MAX_ARGUMENT_LENGTH:
                raise PromptArgumentError(
                    f"argument {spec.name} of prompt {self.name} is longer than {MAX_ARGUMENT_LENGTH} characters"
                )
            if not value:
                if spec.required:
                    missing.append(spec)
                value = spec.default or ""
            resolved[spec.name] = value
        if missing:
            needed = "; ".join(f"{spec.name} ({spec.description.rstrip('.')})" for spec in missing)
            raise PromptArgumentError(
                f"prompt {self.name} needs the argument{'s' if len(missing) > 1 else ''} {needed}"
            )

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name is None:
                return match.group(0)[0]
            return resolved[name]

        return _TOKEN.sub(substitute, self.body)

    def renderer(self) -> Callable[..., str]:
        """A function of the arguments, as `MCPServer` prompts call it."""

        def render(**arguments: Any) -> str:
            return self.render(arguments)

        return render


def default_prompt_directory() -> Path:
    """`cs_mcp/_prompts` in an installed wheel, else `<repo>/prompts`."""
    packaged = Path(__file__).resolve().parent / "_prompts"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "prompts"


def _split_front_matter(path: Path, text: str) -> tuple[str, str]:
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != FRONT_MATTER_FENCE:
        raise PromptFileError(path, f"it must start with a {FRONT_MATTER_FENCE} line opening the TOML front matter")
    for index in range(1, len(lines)):
        if lines[index].strip() == FRONT_MATTER_FENCE:
            return "".join(lines[1:index]), "".join(lines[index + 1 :])
    raise PromptFileError(path, f"the front matter is never closed by a {FRONT_MATTER_FENCE} line")


def parse_prompt_file(path: Path) -> PromptTemplate:
    """Reads and checks one prompt file.

    Raises:
        PromptFileError: the file cannot be read, its front matter is not valid TOML or lacks
            a field, its name differs from the file's, or its body names an unknown argument
            (or never uses a declared one).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptFileError(path, f"cannot be read ({exc})") from None
    raw_front, body = _split_front_matter(path, text)
    try:
        data = tomllib.loads(raw_front)
    except tomllib.TOMLDecodeError as exc:
        raise PromptFileError(path, f"the front matter is not valid TOML ({exc})") from None
    try:
        front = PromptFrontMatter.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'front matter'}: {e['msg']}" for e in exc.errors()
        )
        raise PromptFileError(path, f"the front matter is invalid: {problems}") from None
    if front.name != path.stem:
        raise PromptFileError(
            path, f"its name {front.name!r} differs from the file name; name the file {front.name}.md"
        )
    names = [a.name for a in front.arguments]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PromptFileError(path, f"argument {', '.join(duplicates)} is declared twice")
    for spec in front.arguments:
        if spec.required and spec.default is not None:
            raise PromptFileError(path, f"argument {spec.name} is required, so it cannot have a default")
    body = body.strip()
    if not body:
        raise PromptFileError(path, "the body after the front matter is empty")
    template = PromptTemplate(
        name=front.name,
        title=front.title,
        description=front.description,
        arguments=tuple(front.arguments),
        body=body,
        source=path,
    )
    used = template.placeholders()
    unknown = sorted(used - set(names))
    if unknown:
        raise PromptFileError(
            path,
            f"the body uses {', '.join('{' + n + '}' for n in unknown)}, which no argument declares "
            "(write {{ and }} for literal braces)",
        )
    unused = [n for n in names if n not in used]
    if unused:
        raise PromptFileError(path, f"argument {', '.join(unused)} is declared but the body never uses it")
    return template


def load_prompts(directory: Path | None = None) -> list[PromptTemplate]:
    """Every `*.md` prompt in `directory` (default: `default_prompt_directory()`), by name.

    Raises:
        PromptFileError: the directory is missing, or a file in it is malformed.
    """
    directory = directory or default_prompt_directory()
    if not directory.is_dir():
        raise PromptFileError(directory, "the prompt directory does not exist")
    return [parse_prompt_file(path) for path in sorted(directory.glob("*.md"))]


def _argument_description(spec: PromptArgumentSpec) -> str:
    if spec.default and not spec.required:
        return f"{spec.description} (if not given: {spec.default})"
    return spec.description


class TemplatePrompt(Prompt):
    """A prompt whose arguments are checked before the SDK's own check, so a missing, unknown or
    oversized argument answers the client an invalid-params error in plain words instead of an
    internal error with a traceback in the server's log."""

    async def render(
        self, arguments: dict[str, Any] | None, context: Context[Any, Any]
    ) -> list[Message] | InputRequiredResult:
        """The rendered prompt.

        Raises:
            MCPError: INVALID_PARAMS, naming the argument and what it is for.
        """
        try:
            self.fn(**(arguments or {}))
        except PromptArgumentError as exc:
            raise MCPError(INVALID_PARAMS, str(exc)) from None
        return await super().render(arguments, context)


def register_prompts(server: MCPServer[Any], prompts: Sequence[PromptTemplate]) -> None:
    """Serves each template as an MCP prompt on `server`.

    Raises:
        PromptFileError: two templates share a name (naming the second one's file).
    """
    seen: set[str] = set()
    for template in prompts:
        if template.name in seen:
            raise PromptFileError(template.source, f"another prompt is already named {template.name!r}")
        seen.add(template.name)
        server.add_prompt(
            TemplatePrompt(
                name=template.name,
                title=template.title,
                description=template.description,
                arguments=[
                    PromptArgument(name=a.name, description=_argument_description(a), required=a.required)
                    for a in template.arguments
                ],
                fn=template.renderer(),
                context_kwarg=None,
            )
        )
