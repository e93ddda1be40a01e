"""The identifier arguments of every tool, typed once: uids, content types, locales,
environments, Automate ids.

Each is a plain name that ends up in a request path or a guard target, so its input schema
allows letters, digits, `_`, `.` and `-` only, and not a leading `.` or `-`: no `/`, `%`, `?`,
`#`, whitespace or control character can reach a path, and a value that is not a name is
refused before anything is read. That covers what Contentstack itself allows: uids such as
`blt0123abcd`, content type uids (`blog_post`), locale codes (`en-us`, `zh-hans-cn`) and
environment names (which Contentstack forbids `#%^+\\/?*:|"'<>{}=,` and spaces in); Automate
ids are hex digits. The client checks every path segment once more before it sends anything.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

# No look-around: pydantic's default regex engine does not take it.
IDENTIFIER_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"

Uid = Annotated[str, Field(min_length=1, max_length=100, pattern=IDENTIFIER_PATTERN)]
ContentTypeUid = Uid
EnvironmentName = Uid
AutomateId = Uid  # Automate projects, automations and executions
LocaleCode = Annotated[str, Field(min_length=1, max_length=20, pattern=IDENTIFIER_PATTERN)]
JobId = Annotated[str, Field(min_length=1, max_length=200, pattern=IDENTIFIER_PATTERN)]
