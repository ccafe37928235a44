"""Base classes for request bodies: unknown fields are an error, never silently ignored."""

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


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
