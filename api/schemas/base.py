"""Base classes for request bodies: unknown fields are an error, never silently ignored."""

from datetime import datetime, timezone
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


# A datetime in a request body. One without an offset is UTC (as in list filters), so a naive and an aware
# bound can be compared, and nothing depends on the server's time zone.
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*")
    @classmethod
    def no_nul_characters(cls, value):
        # Valid JSON, but Postgres text cannot store NUL: a clear 400 here instead of a failed INSERT.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


def patch_changes(body: BaseModel, required: frozenset[str] = frozenset()) -> dict:
    """The fields a PATCH actually sent. Explicit nulls are kept (they clear a value) except for `required`
    fields, which cannot be cleared."""
    from domain.errors import FieldError, ValidationFailed

    changes = body.model_dump(exclude_unset=True)
    cleared = sorted(name for name in required if name in changes and changes[name] is None)
    if cleared:
        raise ValidationFailed(errors=[FieldError(n, "required", f"{n} cannot be null") for n in cleared])
    if not changes:
        raise ValidationFailed("The request changes nothing",
                               [FieldError("body", "empty", "send at least one field to change")])
    return changes
