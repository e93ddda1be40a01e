"""Models of the entries, assets and publishing answers (entries themselves are `_models.Entry`).

Like every answer model they keep unknown fields: an entry's content fields, an asset's
metadata and a queue row's details arrive as extra attributes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cs_mcp.client._models import APIModel, ContentItem, Versioned

__all__ = [
    "Asset",
    "BulkAsset",
    "BulkEntry",
    "BulkJob",
    "EntryLocale",
    "EntryReference",
    "PublishAction",
    "PublishQueueItem",
    "Source",
]

Source = Literal["draft", "published"]
PublishAction = Literal["publish", "unpublish"]


class Asset(ContentItem):
    """An asset (file or folder) as the CMA or the CDA answers it."""

    filename: str | None = None
    url: str | None = None
    content_type: str | None = None
    file_size: str | int | None = None
    is_dir: bool = False
    parent_uid: str | None = None


class VersionOf(Versioned):
    """The uid and latest `_version` of an entry or asset, read to resolve publish versions."""


class Notice(APIModel):
    """A write's plain acknowledgement, `{"notice": "..."}`."""

    notice: str | None = None


class ReferencePublish(APIModel):
    """Where a referring entry is published ("Get references of an entry", with
    `include_publish_details`): the environment by uid."""

    environment: str | None = None
    locale: str | None = None
    version: int | None = None
    time: str | None = None


class EntryReference(APIModel):
    """An entry that refers to another ("Get references of an entry" lists the entries that
    reference the one asked about)."""

    entry_uid: str
    content_type_uid: str | None = None
    content_type_title: str | None = None
    locale: str | None = None
    title: str | None = None
    version: int | None = Field(default=None, alias="_version")
    publish_details: list[ReferencePublish] = Field(default_factory=lambda: [])


class EntryLocale(APIModel):
    """One locale of "Get languages of an entry": `localized` is true where the entry has a
    version of its own."""

    code: str
    localized: bool = False


class BulkEntry(BaseModel):
    """One entry of a bulk publish request: its version in its (source) locale."""

    model_config = ConfigDict(frozen=True)

    uid: str
    content_type: str
    version: int
    locale: str


class BulkAsset(BaseModel):
    model_config = ConfigDict(frozen=True)

    uid: str
    version: int


class BulkSubmission(APIModel):
    """The bulk endpoints' answer: a notice and the job that carries the work out."""

    notice: str | None = None
    job_id: str | None = None


class ItemPublishDetails(APIModel):
    """What "Job items" says of one item's outcome: `success` or `failed`, and why it failed."""

    status: str | None = None
    failure_reason: str | None = None


def _uid_of(value: str | dict[str, Any] | None) -> str | None:
    """A content type's uid, whether the answer names it or nests it as `{"uid", "title"}`."""
    if isinstance(value, dict):
        uid = value.get("uid")
        return uid if isinstance(uid, str) else None
    return value


class OfContentType(APIModel):
    """An answer that names its content type by uid or nests it as `{"uid", "title"}`."""

    content_type: str | dict[str, Any] | None = None

    @property
    def content_type_uid(self) -> str | None:
        return _uid_of(self.content_type)


class BulkJobItem(OfContentType):
    """One row of a bulk job's items. Contentstack's "CMA | Job Status" page answers the outcome
    under `publish_details` (`status`, `failure_reason`) and the content type as an object
    `{"uid"}`; older answers put `status` and `error_message` on the row and name the content
    type by its uid. Both are read."""

    uid: str | None = None
    type: str | None = None
    locale: str | None = None
    publish_locale: str | None = None
    environment: str | list[str] | None = None
    environments: list[str] | None = None
    version: int | None = None
    depth: int | None = None
    publish_details: ItemPublishDetails | None = None
    status: str | None = None
    error_message: str | None = None
    message: str | None = None

    @property
    def state(self) -> str | None:
        """The item's outcome in lower case: `publish_details.status`, else a row-level `status`."""
        status = self.publish_details.status if self.publish_details and self.publish_details.status else self.status
        return status.lower() if status else None

    @property
    def failed(self) -> bool:
        return self.state in ("failed", "error")

    @property
    def reason(self) -> str | None:
        """Why the item failed, as Contentstack put it."""
        detail = self.publish_details.failure_reason if self.publish_details else None
        return detail or self.error_message or self.message


# A job's status words that say it will not change any more ("CMA | Job Status" answers
# "complete"; the bulk task queue's numbered states 4-6 are completed, partial complete and
# failed). "scheduled" is final for a report too: the items wait for their time.
_FINAL_JOB_STATES = frozenset(
    {
        "complete",
        "completed",
        "partial_complete",
        "partially_complete",
        "partially_completed",
        "completed_with_errors",
        "failed",
        "success",
        "scheduled",
        "cancelled",
        "canceled",
        "4",
        "5",
        "6",
    }
)
_FAILED_JOB_STATES = frozenset({"failed", "6"})


def _state_word(value: str | None) -> str:
    return (value or "").strip().lower().replace(" ", "_").replace("-", "_")


class BulkJob(APIModel):
    """A bulk job's status from `GET /bulk/jobs/{job_id}`. `status` may be a word or, as the
    job list's filter has it, a number; a number is kept as its digits."""

    uid: str | None = None
    status: str | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _status_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    items: list[BulkJobItem] = Field(default_factory=lambda: [])
    summary: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        """Whether the job's status (or its summary's `state`) is one that no longer changes."""
        state = (self.summary or {}).get("state")
        return _state_word(self.status) in _FINAL_JOB_STATES or (
            isinstance(state, str) and _state_word(state) in _FINAL_JOB_STATES
        )

    @property
    def scheduled(self) -> bool:
        return _state_word(self.status) == "scheduled"

    @property
    def failed_as_a_whole(self) -> bool:
        return _state_word(self.status) in _FAILED_JOB_STATES

    @property
    def failure_count(self) -> int:
        """How many items the job reports failed: the summary's count (`unsuccess` on the
        "CMA | Job Status" page, `failed` in older answers) or the failed rows among the
        items, whichever is larger."""
        counted = [
            count
            for key, count in (self.summary or {}).items()
            if isinstance(count, int) and not isinstance(count, bool) and ("fail" in key.lower() or key == "unsuccess")
        ]
        return max([*counted, sum(1 for item in self.items if item.failed)])


class QueueEntryRef(OfContentType):
    """What a publish queue row says about its entry, asset or release."""

    uid: str | None = None
    title: str | None = None
    locale: str | None = None
    version: int | None = None
    release: dict[str, Any] | None = None

    @property
    def release_uid(self) -> str | None:
        """The release a deployment row stands for (`entry.release.uid`; `entry.uid` is the
        row's own reference, not the release)."""
        uid = (self.release or {}).get("uid")
        return uid if isinstance(uid, str) else None


class QueueStatus(APIModel):
    status: str | None = None


class PublishQueueItem(OfContentType):
    """One row of the publish queue as the "CMA | Publish Queue" page shows it: the content type
    at the row's top level (`{"uid"}`), environments by uid, locales as a list; a release
    deployment row names its release under `entry.release`."""

    uid: str
    type: str | None = None
    action: str | None = None
    environment: list[str] | str | None = None
    locale: list[str] | str | None = None
    entry: QueueEntryRef | None = None
    publish_details: QueueStatus | None = None
    status: str | None = None
    published_at: str | None = None
    scheduled_at: str | None = None
    user: str | None = None
    created_at: str | None = None

    @property
    def state(self) -> str | None:
        """The row's status: `publish_details.status`, else a top-level `status`."""
        if self.publish_details is not None and self.publish_details.status:
            return self.publish_details.status
        return self.status

    @property
    def content_type_uid(self) -> str | None:
        """The row's content type: the row's own `content_type`, else one nested in `entry`
        (older answers)."""
        own = super().content_type_uid
        if own:
            return own
        return self.entry.content_type_uid if self.entry is not None else None

    @property
    def release_uid(self) -> str | None:
        return self.entry.release_uid if self.entry is not None else None

    @property
    def environments(self) -> list[str]:
        if self.environment is None:
            return []
        return [self.environment] if isinstance(self.environment, str) else list(self.environment)

    @property
    def locales(self) -> list[str]:
        if self.locale is None:
            return [self.entry.locale] if self.entry is not None and self.entry.locale else []
        return [self.locale] if isinstance(self.locale, str) else list(self.locale)
