"""CloudEvents 1.0 envelope (JSON format) around every event body.

Extension attribute `requestid`: the id of the HTTP request (`X-Request-Id`) whose handling caused
the event, when there was one; consumers bind it in their logs, so that one id follows a request
through every service it reaches.
"""

from __future__ import annotations

import builtins
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .base import Event
from .subjects import event_subject

SPEC_VERSION = "1.0"
SCHEMA_BASE = "urn:ecandidat:schema"


class CloudEvent(BaseModel):
    """The envelope as it travels on JetStream. `data` is the event body as a JSON object."""

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: str = SPEC_VERSION
    id: uuid.UUID
    source: str
    type: str
    subject: str | None = None
    time: datetime
    datacontenttype: str = "application/json"
    dataschema: str
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def request_id(self) -> str | None:
        value = (self.model_extra or {}).get("requestid")
        return value if isinstance(value, str) else None

    @property
    def schema_version(self) -> int:
        return int(self.dataschema.rsplit("/v", 1)[-1])

    def parse(self, model: builtins.type[Event]) -> Event:
        """Validate `data` against the model of this event type."""
        return model.model_validate(self.data)


def event_type_name(model: type[Event]) -> str:
    return f"fr.ecandidat.{model.producer}.{model.event_type()}"


def envelope(
    event: Event, *, event_id: uuid.UUID, time: datetime, subject: str | None = None, request_id: str | None = None
) -> CloudEvent:
    cls = type(event)
    extensions = {"requestid": request_id} if request_id else {}
    return CloudEvent(
        **extensions,
        id=event_id,
        source=f"/ecandidat/{cls.producer}",
        type=event_type_name(cls),
        subject=subject,
        time=time,
        dataschema=f"{SCHEMA_BASE}:{event_subject(cls)}/v{cls.version}",
        data=event.model_dump(mode="json"),
    )
