"""The sandbox's demo stack: a small, believable site built the same way for the same seed.

Locales en-us (master) and fr-fr; environments development, staging and production; content
types author, blog_post, product and page using the common field types (text, number,
boolean, date, reference, file, group, modular blocks, JSON rich text); 12 authors, 60 blog
posts, 20 products and 8 pages, part of them localized in French and some with several
versions; 10 assets. Part of the content is published, some of it in an older version than
the latest, so that the CDA's version pinning shows.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from cs_mcp.sandbox import store
from cs_mcp.sandbox.auth import SANDBOX_USER_UID
from cs_mcp.sandbox.state import SandboxState

MASTER_LOCALE = "en-us"
SECOND_LOCALE = "fr-fr"
ENVIRONMENTS = ("development", "staging", "production")

_FIRST_NAMES = ("Ada", "Bruno", "Chloé", "Dev", "Elena", "Farid", "Grace", "Hugo", "Iris", "Jonas", "Kenji", "Lina")
_LAST_NAMES = ("Lovelace", "Marchetti", "Dubois", "Patel", "Sokolova", "Haddad", "Hopper", "Lefèvre", "Nakamura",
               "Berg", "Watanabe", "Okafor")  # fmt: skip
_TOPICS = ("Composable", "Headless", "Editorial", "Localization", "Performance", "Personalization", "Search",
           "Accessibility", "Release", "Workflow", "Analytics", "Commerce")  # fmt: skip
_ANGLES = ("A practical guide to", "What we learned about", "Five myths of", "Getting started with",
           "Scaling", "The future of", "Measuring", "Why teams choose")  # fmt: skip
_SUFFIXES = ("content", "delivery", "teams", "launches", "pages", "stacks")
_TAGS = ("engineering", "marketing", "product", "tutorial", "case-study", "news", "design", "ops")
_PRODUCTS = ("Trail Runner", "Summit Jacket", "Canyon Pack", "River Bottle", "Alpine Tent", "Harbor Cap",
             "Glacier Gloves", "Meadow Blanket", "Forest Lamp", "Coastal Sandal")  # fmt: skip
_PRODUCT_EDITIONS = ("Classic", "Pro")
_PAGES = (("Home", "/"), ("About us", "/about"), ("Careers", "/careers"), ("Contact", "/contact"),
          ("Pricing", "/pricing"), ("Press", "/press"), ("Partners", "/partners"), ("Support", "/support"))  # fmt: skip
_ASSETS = (("hero-mountains.jpg", "image/jpeg"), ("team-photo.jpg", "image/jpeg"), ("logo.svg", "image/svg+xml"),
           ("brochure.pdf", "application/pdf"), ("product-trail.png", "image/png"), ("office.jpg", "image/jpeg"),
           ("launch-video.mp4", "video/mp4"), ("pattern.png", "image/png"), ("author-default.png", "image/png"),
           ("press-kit.zip", "application/zip"))  # fmt: skip
_FRENCH = {"A practical guide to": "Guide pratique :", "What we learned about": "Ce que nous avons appris :"}


def _field(uid: str, name: str, data_type: str, **extra: Any) -> dict[str, Any]:
    field: dict[str, Any] = {
        "display_name": name,
        "uid": uid,
        "data_type": data_type,
        "mandatory": False,
        "unique": False,
        "multiple": False,
        "non_localizable": False,
        "field_metadata": {"description": "", "default_value": ""},
    }
    field.update(extra)
    return field


def _title() -> dict[str, Any]:
    return _field("title", "Title", "text", mandatory=True, unique=True, field_metadata={"_default": True})


def _url() -> dict[str, Any]:
    return _field("url", "URL", "text", field_metadata={"_default": True})


def _seo() -> dict[str, Any]:
    return _field(
        "seo",
        "SEO",
        "group",
        schema=[
            _field("meta_title", "Meta title", "text"),
            _field("meta_description", "Meta description", "text", field_metadata={"multiline": True}),
            _field("keywords", "Keywords", "text", multiple=True),
        ],
    )


def content_types(now: str) -> list[dict[str, Any]]:
    """The demo content types as Contentstack's JSON objects."""
    author = [
        _title(),
        _field("email", "Email", "text", format=r"^[^@\s]+@[^@\s]+$"),
        _field("bio", "Bio", "json", field_metadata={"allow_json_rte": True, "rich_text_type": "advanced"}),
        _field("photo", "Photo", "file"),
        _field("twitter", "Twitter handle", "text"),
    ]
    blog_post = [
        _title(),
        _url(),
        _field("summary", "Summary", "text", field_metadata={"multiline": True}),
        _field("body", "Body", "json", field_metadata={"allow_json_rte": True, "rich_text_type": "advanced"}),
        _field("author", "Author", "reference", reference_to=["author"], field_metadata={"ref_multiple": False}),
        _field("publish_date", "Publish date", "isodate", mandatory=True),
        _field("reading_minutes", "Reading time (minutes)", "number"),
        _field("featured", "Featured", "boolean"),
        _field("hero_image", "Hero image", "file"),
        _seo(),
    ]
    product = [
        _title(),
        _url(),
        _field("sku", "SKU", "text", mandatory=True, unique=True),
        _field("price", "Price", "number", mandatory=True),
        _field("in_stock", "In stock", "boolean"),
        _field("release_date", "Release date", "isodate"),
        _field("description", "Description", "json", field_metadata={"allow_json_rte": True}),
        _field("image", "Image", "file"),
        _field(
            "related",
            "Related products",
            "reference",
            reference_to=["product"],
            multiple=True,
            field_metadata={"ref_multiple": True},
        ),
        _seo(),
    ]
    page = [
        _title(),
        _url(),
        _field(
            "sections",
            "Sections",
            "blocks",
            multiple=True,
            blocks=[
                {
                    "title": "Hero",
                    "uid": "hero",
                    "schema": [
                        _field("headline", "Headline", "text"),
                        _field("subheadline", "Subheadline", "text"),
                        _field("image", "Image", "file"),
                    ],
                },
                {
                    "title": "Text block",
                    "uid": "text_block",
                    "schema": [
                        _field("heading", "Heading", "text"),
                        _field("body", "Body", "json", field_metadata={"allow_json_rte": True}),
                    ],
                },
            ],
        ),
        _seo(),
    ]
    specs = (
        ("author", "Author", "A person who writes for the site.", author, False),
        ("blog_post", "Blog post", "An article of the blog.", blog_post, True),
        ("product", "Product", "An item of the shop.", product, True),
        ("page", "Page", "A page of the site built from sections.", page, True),
    )
    return [
        {
            "uid": uid,
            "title": title,
            "description": description,
            "schema": schema,
            "options": {"is_page": is_page, "singleton": False, "title": "title", "sub_title": [], "publishable": True}
            | ({"url_pattern": "/:title", "url_prefix": "/"} if is_page else {}),
            "created_at": now,
            "updated_at": now,
        }
        for uid, title, description, schema, is_page in specs
    ]


def rich_text(rng: random.Random, *paragraphs: str) -> dict[str, Any]:
    """A JSON rich text document with one paragraph per text."""
    return {
        "type": "doc",
        "uid": f"{rng.getrandbits(64):016x}",
        "attrs": {},
        "children": [
            {"type": "p", "uid": f"{rng.getrandbits(64):016x}", "attrs": {}, "children": [{"text": text}]}
            for text in paragraphs
        ],
    }


class _Seeder:
    def __init__(self, conn: sqlite3.Connection, seed: int, now: datetime) -> None:
        self.conn = conn
        self.seed = seed
        self.rng = random.Random(seed)
        self.now = now

    def when(self, days_ago: float) -> str:
        return store.iso(self.now - timedelta(days=days_ago))

    def uid(self, *parts: object) -> str:
        return store.make_uid(self.seed, *parts)

    def entry(
        self,
        content_type: str,
        uid: str,
        locale: str,
        fields: dict[str, Any],
        versions: int,
        created_days_ago: float,
        tags: list[str],
    ) -> None:
        """Saves `versions` versions of an entry; earlier versions carry an earlier title."""
        created = self.when(created_days_ago)
        for version in range(1, versions + 1):
            updated = self.when(created_days_ago * (versions - version) / versions)
            title = fields["title"] if version == versions else f"{fields['title']} (draft {version})"
            entry: dict[str, Any] = {
                "uid": uid,
                "locale": locale,
                "_version": version,
                "created_at": created,
                "updated_at": updated,
                "created_by": SANDBOX_USER_UID,
                "updated_by": SANDBOX_USER_UID,
                "tags": tags,
                "ACL": {},
                "_in_progress": False,
                **fields,
                "title": title,
            }
            store.save_entry(self.conn, content_type, entry)

    def publish(
        self, content_type: str, uid: str, locale: str, environment: str, version: int, days_ago: float
    ) -> None:
        kind: store.PublishKind = "asset" if content_type == "" else "entry"
        store.set_published(
            self.conn, kind, content_type, uid, environment, locale, version, self.when(days_ago), SANDBOX_USER_UID
        )

    def publish_spread(self, content_type: str, uid: str, locale: str, latest: int, index: int) -> None:
        """Publishes most content to development, less to staging, less again to production;
        production sometimes keeps an older version."""
        if index % 5 != 4:
            self.publish(content_type, uid, locale, "development", latest, 2)
        if index % 3 != 2:
            self.publish(content_type, uid, locale, "staging", latest, 3)
        if index % 2 == 0:
            self.publish(content_type, uid, locale, "production", max(1, latest - (index % 4 == 0)), 5)


def seed_stack(conn: sqlite3.Connection, seed: int, now: datetime) -> None:
    """Writes the whole demo stack into an empty database."""
    s = _Seeder(conn, seed, now)
    created = s.when(400)
    store.save_locale(
        conn,
        _locale(s, MASTER_LOCALE, "English - United States", None, created),
        is_master=True,
    )
    store.save_locale(conn, _locale(s, SECOND_LOCALE, "French - France", MASTER_LOCALE, created))
    for name in ENVIRONMENTS:
        store.save_environment(
            conn,
            {
                "urls": [
                    {"locale": MASTER_LOCALE, "url": f"https://{name}.example.com/"},
                    {"locale": SECOND_LOCALE, "url": f"https://{name}.example.com/fr/"},
                ],
                "name": name,
                "uid": s.uid("environment", name),
                **_first_version(created),
            },
        )
    for content_type in content_types(created):
        store.save_content_type(conn, content_type)
    assets = _seed_assets(s)
    authors = _seed_authors(s, assets)
    _seed_blog_posts(s, authors, assets)
    _seed_products(s, assets)
    _seed_pages(s, assets)


def _locale(s: _Seeder, code: str, name: str, fallback: str | None, created: str) -> dict[str, Any]:
    return {
        "code": code,
        "name": name,
        "fallback_locale": fallback or code,
        "uid": s.uid("locale", code),
        **_first_version(created),
    }


def _first_version(created: str) -> dict[str, Any]:
    """What a stack setting (an environment, a locale) carries at its first version."""
    return {
        "created_by": SANDBOX_USER_UID,
        "updated_by": SANDBOX_USER_UID,
        "created_at": created,
        "updated_at": created,
        "ACL": [],
        "_version": 1,
    }


def _seed_assets(s: _Seeder) -> list[str]:
    uids: list[str] = []
    for index, (filename, content_type) in enumerate(_ASSETS):
        uid = s.uid("asset", index)
        versions = 2 if index % 4 == 0 else 1
        for version in range(1, versions + 1):
            created = s.when(300 - index)
            asset: dict[str, Any] = {
                "uid": uid,
                "created_at": created,
                "updated_at": s.when(200 - index * version),
                "created_by": SANDBOX_USER_UID,
                "updated_by": SANDBOX_USER_UID,
                "content_type": content_type,
                "file_size": str(20_000 + s.rng.randrange(2_000_000)),
                "tags": [],
                "filename": filename,
                "url": f"https://images.sandbox.local/v3/assets/{uid}/{filename}",
                "ACL": {},
                "is_dir": False,
                "parent_uid": None,
                "_version": version,
                "title": filename.rsplit(".", 1)[0].replace("-", " ").title(),
                "description": "",
            }
            store.save_asset(s.conn, asset)
        for env_index, environment in enumerate(ENVIRONMENTS):
            if index % (env_index + 2) == 0:
                s.publish("", uid, MASTER_LOCALE, environment, versions, 10)
        uids.append(uid)
    return uids


def _seed_authors(s: _Seeder, assets: list[str]) -> list[str]:
    uids: list[str] = []
    for index in range(12):
        uid = s.uid("author", index)
        first, last = _FIRST_NAMES[index], _LAST_NAMES[index]
        fields: dict[str, Any] = {
            "title": f"{first} {last}",
            "email": f"{first.lower()}.{last.lower()}@example.com".replace("é", "e").replace("è", "e"),
            "bio": rich_text(s.rng, f"{first} writes about {_TOPICS[index].lower()} and the teams behind it."),
            "photo": assets[8] if index % 3 else assets[1],
            "twitter": f"@{first.lower()}{index}",
        }
        versions = 1 + index % 2
        s.entry("author", uid, MASTER_LOCALE, fields, versions, 360 - index, [])
        s.publish_spread("author", uid, MASTER_LOCALE, versions, index)
        uids.append(uid)
    return uids


def _seed_blog_posts(s: _Seeder, authors: list[str], assets: list[str]) -> None:
    for index in range(60):
        uid = s.uid("blog_post", index)
        angle, topic = _ANGLES[index % len(_ANGLES)], _TOPICS[index % len(_TOPICS)]
        suffix = _SUFFIXES[index % len(_SUFFIXES)]
        title = f"{angle} {topic.lower()} {suffix}"
        if index >= len(_ANGLES) * len(_SUFFIXES) // 2:
            title += f", part {index // 24 + 1}"
        slug = title.lower().replace(" ", "-").replace(",", "")
        tags: list[str] = sorted(s.rng.sample(_TAGS, 1 + index % 3))
        author = authors[(index * 5) % len(authors)]
        keywords = [topic.lower(), suffix, *tags[:1]]
        fields: dict[str, Any] = {
            "title": title,
            "url": f"/blog/{slug}",
            "summary": f"{angle} {topic.lower()} {suffix}: what it means for your site.",
            "body": rich_text(s.rng, f"{topic} is changing how teams ship {suffix}.", "Here is how to start."),
            "author": [{"uid": author, "_content_type_uid": "author"}],
            "publish_date": (s.now - timedelta(days=180 - index * 3)).date().isoformat(),
            "reading_minutes": 3 + (index * 7) % 12,
            "featured": index % 7 == 0,
            "seo": {
                "meta_title": title[:60],
                "meta_description": f"Read about {topic.lower()} {suffix}.",
                "keywords": keywords,
            },
        }
        if index % 4:
            # The posts of every fourth week went out before hero images existed.
            fields["hero_image"] = assets[index % len(assets)]
        versions = 1 + index % 3
        s.entry("blog_post", uid, MASTER_LOCALE, fields, versions, 200 - index * 3, tags)
        s.publish_spread("blog_post", uid, MASTER_LOCALE, versions, index)
        if index % 3 == 0:
            french_angle = _FRENCH.get(angle, angle)
            localized = fields | {
                "title": title.replace(angle, french_angle, 1) + " (fr)",
                "summary": f"{french_angle} {topic.lower()} : ce que cela change pour votre site.",
                "seo": fields["seo"] | {"meta_title": f"{topic} (fr)"},
            }
            s.entry("blog_post", uid, SECOND_LOCALE, localized, 1, 150 - index, tags)
            if index % 2 == 0:
                s.publish("blog_post", uid, SECOND_LOCALE, "development", 1, 1)
            if index % 6 == 0:
                s.publish("blog_post", uid, SECOND_LOCALE, "production", 1, 4)


def _seed_products(s: _Seeder, assets: list[str]) -> None:
    uids = [s.uid("product", index) for index in range(20)]
    for index, uid in enumerate(uids):
        name = f"{_PRODUCTS[index % len(_PRODUCTS)]} {_PRODUCT_EDITIONS[index // len(_PRODUCTS)]}"
        related = [uids[(index + step) % len(uids)] for step in (1, 3)][: index % 3]
        fields: dict[str, Any] = {
            "title": name,
            "url": "/shop/" + name.lower().replace(" ", "-"),
            "sku": f"SKU-{1000 + index * 17}",
            "price": round(19.0 + s.rng.randrange(0, 40000) / 100, 2),
            "in_stock": index % 4 != 3,
            "release_date": (s.now - timedelta(days=365 - index * 11)).date().isoformat(),
            "description": rich_text(s.rng, f"The {name} is built for long days outside."),
            "image": assets[4] if index % 2 else assets[7],
            "related": [{"uid": r, "_content_type_uid": "product"} for r in related],
            "seo": {"meta_title": name, "meta_description": f"Buy the {name}.", "keywords": [name.split()[0].lower()]},
        }
        versions = 1 + index % 2
        s.entry("product", uid, MASTER_LOCALE, fields, versions, 250 - index, ["shop"])
        s.publish_spread("product", uid, MASTER_LOCALE, versions, index)
        if index % 4 == 0:
            localized = fields | {"title": f"{name} (fr)", "url": fields["url"].replace("/shop/", "/fr/boutique/")}
            s.entry("product", uid, SECOND_LOCALE, localized, 1, 100 - index, ["shop"])
            s.publish("product", uid, SECOND_LOCALE, "production", 1, 3)


def _seed_pages(s: _Seeder, assets: list[str]) -> None:
    for index, (title, url) in enumerate(_PAGES):
        uid = s.uid("page", index)
        fields: dict[str, Any] = {
            "title": title,
            "url": url,
            "sections": [
                {
                    "hero": {
                        "headline": f"{title}: built for teams who ship",
                        "subheadline": "Content that moves as fast as you do.",
                        "image": assets[0],
                        "_metadata": {"uid": s.uid("block", index, 0)},
                    }
                },
                {
                    "text_block": {
                        "heading": f"Why {title.lower()} matters",
                        "body": rich_text(s.rng, f"Everything about {title.lower()}."),
                        "_metadata": {"uid": s.uid("block", index, 1)},
                    }
                },
            ],
            "seo": {"meta_title": title, "meta_description": f"{title} page.", "keywords": [title.lower()]},
        }
        versions = 1 + index % 3
        s.entry("page", uid, MASTER_LOCALE, fields, versions, 300 - index, ["site"])
        s.publish_spread("page", uid, MASTER_LOCALE, versions, index)
        if index < 4:
            localized = fields | {"title": f"{title} (fr)", "url": f"/fr{url}"}
            s.entry("page", uid, SECOND_LOCALE, localized, 1, 90 - index, ["site"])
            s.publish("page", uid, SECOND_LOCALE, "staging", 1, 2)
            s.publish("page", uid, SECOND_LOCALE, "production", 1, 2)


def setup(state: SandboxState) -> None:
    """Creates the content tables; wipes them when `config.reset`; seeds them when empty."""
    with state.db.transaction() as conn:
        store.init_schema(conn)
        if state.config.reset:
            store.wipe(conn)
        if store.is_empty(conn):
            seed_stack(conn, state.config.seed, state.clock.now())
