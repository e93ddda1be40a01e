"""What a write touches, as the guard checks it and as the permit records it."""

from __future__ import annotations

from dataclasses import dataclass


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
        content_types = set(self.content_types) | {i.content_type for i in self.items if i.content_type}
        locales = set(self.locales) | {i.locale for i in self.items if i.locale}
        return {
            "content_type": content_types,
            "locale": locales,
            "environment": set(self.environments),
            "automation_project": set(self.automation_projects),
            "branch": set(self.branches),
            "release": set(self.releases),
        }

    def named(self) -> dict[str, list[str]]:
        """The permit's targets as sorted lists, kinds without names left out: how plans and
        audit lines show them."""
        return {kind: sorted(names) for kind, names in self.permit_targets().items() if names}
