"""The base of the models that tools declare for their arguments and answers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ToolModel(BaseModel):
    """A pydantic model that builds its validator and schema at first use, not at import.

    A server starts without calling a tool (the listing comes from the stored schemas), so the
    models of the tools' arguments and answers, built at import, were a fifth of its start-up
    and a third of a MiB. A subclass's own `model_config` is merged with this one."""

    model_config = ConfigDict(defer_build=True)
