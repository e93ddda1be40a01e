"""Models of the entries, assets and publishing answers (entries themselves are `_models.Entry`).

Like every answer model they keep unknown fields: an entry's content fields, an asset's
metadata and a queue row's details arrive as extra attributes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cs_mcp.client._models import APIModel, PublishDetail

Source = Literal["draft", "published"]
PublishAction = Literal["publish", "unpublish"]


class Asset(APIModel):
    """An asset (file or folder) as the CMA or the CDA answers it."""

    uid: str
    title: str | None = None
    filename: str | None = None
    url: str | None = None
    content_type: str | None = None
    file_size: str | int | None = None
    is_dir: bool = False
    parent_uid: str | None = None
    version: int | None = Field(default=None, alias="_version")
    tags: list[str] = Field(default_factory=lambda: [])
    updated_at: str | None = None
    publish_details: list[PublishDetail] | PublishDetail | None = None


class VersionOf(APIModel):
    """The uid and latest `_version` of an entry or asset, read to resolve publish versions."""

    uid: str
    version: int | None = Field(default=None, alias="_version")


class Notice(APIModel):
    """A write's plain acknowledgement, `{"notice": "..."}`."""

    notice: str | None = None


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


class BulkJobItem(APIModel):
    """One item of a bulk job as far as its status says (shapes vary; all fields optional)."""

    uid: str | None = None
    content_type: str | None = None
    locale: str | None = None
    environment: str | None = None
    environments: list[str] | None = None
    version: int | None = None
    status: str | None = None
    error_message: str | None = None
    message: str | None = None


class BulkJob(APIModel):
    """A bulk job's status from `GET /bulk/jobs/{job_id}`. `status` may be a word or, as the
    job list's filter suggests, a number; a number is kept as its digits and never read as
    final, so the items stay "submitted" rather than claimed."""

    uid: str | None = None
    status: str | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _status_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    items: list[BulkJobItem] = Field(default_factory=lambda: [])
    summary: dict[str, Any] | None = None


class QueueEntryRef(APIModel):
    """What a publish queue row says about its entry, asset or release."""

    uid: str | None = None
    title: str | None = None
    content_type: str | dict[str, Any] | None = None
    locale: str | None = None
    version: int | None = None
    release: dict[str, Any] | None = None

    @property
    def content_type_uid(self) -> str | None:
        """The content type's uid, whether the row names it or nests it as `{"uid", "title"}`."""
        if isinstance(self.content_type, dict):
            uid = self.content_type.get("uid")
            return uid if isinstance(uid, str) else None
        return self.content_type


class QueueStatus(APIModel):
    status: str | None = None


class PublishQueueItem(APIModel):
    """One row of the publish queue (fixtures: sdk-fixtures/mock_publish_queue)."""

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
    def environments(self) -> list[str]:
        if self.environment is None:
            return []
        return [self.environment] if isinstance(self.environment, str) else list(self.environment)

    @property
    def locales(self) -> list[str]:
        if self.locale is None:
            return [self.entry.locale] if self.entry is not None and self.entry.locale else []
        return [self.locale] if isinstance(self.locale, str) else list(self.locale)
