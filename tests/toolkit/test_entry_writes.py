"""The paths an entry write's plan names."""

from __future__ import annotations

import pytest

from cs_mcp.toolkit.entry_writes import entry_path


@pytest.mark.parametrize(
    ("uid", "action", "expected"),
    [
        (None, None, "/v3/content_types/blog_post/entries?locale=fr-fr"),
        ("blt1", None, "/v3/content_types/blog_post/entries/blt1?locale=fr-fr"),
        ("blt1", "unlocalize", "/v3/content_types/blog_post/entries/blt1/unlocalize?locale=fr-fr"),
    ],
)
def test_an_entry_path_names_the_entries_the_entry_or_its_action_in_the_locale(
    uid: str | None, action: str | None, expected: str
) -> None:
    assert entry_path("blog_post", "fr-fr", uid, action) == expected
