"""What a write touches, as the guard checks it and as the permit records it."""

from __future__ import annotations

from dataclasses import dataclass

from cs_mcp.guard.scopes import CONSTRAINTS


@dataclass(frozen=True)
class ItemTarget:
    """One item of a bulk publish or a release, checked on its own."""

    label: str  # how the item is named in a denial, e.g. "entry blog_post/blt01 (fr-fr)"
    content_type: str | None = None  # None for an asset
    locale: str | None = None


@dataclass(frozen=True)
class Targets:
    """The names a write touches. Compared exactly as Contentstack stores them: no case folding."""

    content_types: tuple[str, ...] = ()
    locales: tuple[str, ...] = ()
    environments: tuple[str, ...] = ()
    automation_projects: tuple[str, ...] = ()
    branches: tuple[str, ...] = ()
    releases: tuple[str, ...] = ()
    items: tuple[ItemTarget, ...] = ()

    def permit_targets(self) -> dict[str, set[str]]:
        """The targets as a permit records them, items' content types and locales included."""
        found: dict[str, set[str]] = {}
        for constraint in CONSTRAINTS:
            found[constraint.permit_key] = set(self.names(constraint.target_field, constraint.item_field))
        found["release"] = set(self.releases)  # no role is limited by release, but permits name it
        return found

    def names(self, target_field: str, item_field: str | None = None) -> list[str]:
        """The names under `target_field`, then those the items carry under `item_field`."""
        found: list[str] = list(getattr(self, target_field))
        if item_field is not None:
            found += [name for i in self.items if (name := getattr(i, item_field))]
        return found

    def named(self) -> dict[str, list[str]]:
        """The permit's targets as sorted lists, kinds without names left out: how plans and
        audit lines show them."""
        return {kind: sorted(names) for kind, names in self.permit_targets().items() if names}
