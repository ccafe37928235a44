"""Base classes and shared field types for request bodies: unknown fields are an error, never silently
ignored."""

import re
import unicodedata
from datetime import date, datetime, timezone
from typing import Annotated, Any, ClassVar, Iterable, Literal

import email_validator
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, EmailStr, field_validator


def one_of(values: Iterable[str]) -> Any:
    """A field type accepting exactly `values`, the domain's one definition of an enum (in its order, which the
    400 answer lists): schemas read their choices from domain/, never restate them."""
    return Literal[tuple(values)]


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_STARTS_WITH_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_8601_string(pattern: re.Pattern, form: str) -> BeforeValidator:
    """Only a JSON string in ISO 8601 form: pydantic's lax mode would also read a number, even `"0"`, as seconds
    since 1970 (`0` → 1970-01-01), and, for a date, a date-time at midnight with any offset."""
    def check(value):
        if not isinstance(value, str) or not pattern.match(value):
            raise ValueError(f"must be {form}")
        return value
    return BeforeValidator(check)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    try:  # in UTC, so the instant is one Python and Postgres can both hold (0001-01-01T00:00+00:01 is not)
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("is outside the years 1 to 9999 in UTC") from None


# A date in a request body: "YYYY-MM-DD" (OpenAPI's format "date", RFC 3339 full-date) and nothing else.
IsoDate = Annotated[date, _iso_8601_string(_DATE, "a date written YYYY-MM-DD")]

# A datetime in a request body, written as ISO 8601 (a date alone is its midnight). One without an offset is UTC
# (as in list filters), so a naive and an aware bound can be compared, and nothing depends on the server's time
# zone.
UtcDatetime = Annotated[datetime, _iso_8601_string(_STARTS_WITH_DATE, "an ISO 8601 date-time"), AfterValidator(_utc)]


def _no_line_breaks_or_controls(value: str) -> str:
    # Control characters (C0, DEL, C1) and line/paragraph separators: the mail library refuses any of the line
    # breaks in a header, and it would do so after the request has succeeded, losing the mail.
    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in value):
        raise ValueError("must be one line without control characters")
    return value


class JsonSchemaPattern:
    """Documents, as a JSON Schema `pattern`, a rule a validator of ours checks (with its own error message):
    the document then says what the API accepts, and generated clients and fuzzers send only that."""

    def __init__(self, pattern: str):
        self.pattern = pattern

    def __get_pydantic_json_schema__(self, core_schema, handler):
        schema = handler(core_schema)
        schema["pattern"] = self.pattern
        return schema


# Text that is one line, such as a subject or a name: it may become a mail header (a message's subject, a client's
# name in a reminder's subject). Surrounding whitespace is stripped first (RequestModel), so only inner line
# breaks are refused.
ONE_LINE_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]*$"
SingleLine = Annotated[str, AfterValidator(_no_line_breaks_or_controls), JsonSchemaPattern(ONE_LINE_PATTERN)]


def _mailable(value: str) -> str:
    # Our mail goes out over plain SMTP (integrations/mail.py), without the SMTPUTF8 extension, so an address
    # with non-ASCII characters before the @ could be stored but never mailed. A non-ASCII domain has an ASCII
    # form (IDNA, "xn--…"), which is what is stored: mailable, and one spelling to look the address up by.
    try:
        return email_validator.validate_email(value, check_deliverability=False, allow_smtputf8=False).ascii_email
    except email_validator.EmailNotValidError:
        raise ValueError("the part before the @ must be ASCII: mail cannot be delivered to it") from None


def any_case(word: str, between: str = "") -> str:
    """`word` as a JSON Schema pattern matching its letters in either case, `between` (a pattern) between each two
    characters: JSON Schema patterns are ECMA 262 regular expressions, which have no inline case-insensitive flag."""
    return between.join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


# What EmailStr and `_mailable` accept, said in the document beyond `format: email` (which also admits `a@b`, a
# quoted local part or a special-use domain, all refused), so that generated clients and fuzzers send only
# addresses the API takes: at most 254 characters, 64 before the @; a dot-atom of ASCII before the @; after it,
# two or more labels of letters, digits and inner hyphens (none with "--" at its third character: those are
# IDNA's), the last ending in a letter and not a special-use name of RFC 6761 and after (`.test`, `.localhost`,
# `.invalid`, …), which no mail can reach. It leaves out internationalised domains (IDNA's rules are beyond a
# regular expression), which the API takes too, in either form: the document promises less, never more.
_ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = "(?![A-Za-z0-9]{2}--)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TOP_LABEL = "(?![A-Za-z0-9]{2}--)(?:[A-Za-z0-9][A-Za-z0-9-]{0,61})?[A-Za-z]"
_SPECIAL_USE = "|".join(any_case(name) for name in email_validator.SPECIAL_USE_DOMAIN_NAMES)
MAILABLE_EMAIL_PATTERN = (f"^(?=.{{1,254}}$)(?=[^@]{{1,64}}@){_ATEXT}+(?:\\.{_ATEXT}+)*"
                          f"@(?!(?:[^@]*\\.)?(?:{_SPECIAL_USE})$)(?:{_LABEL}\\.)+{_TOP_LABEL}$")

# An email address in a request body that we may mail: EmailStr's syntax, then the SMTP rule above.
MailableEmail = Annotated[EmailStr, AfterValidator(_mailable), JsonSchemaPattern(MAILABLE_EMAIL_PATTERN)]


# Surrounding whitespace is stripped before lengths are checked (RequestModel), so a required text must hold
# something else: the document says so with a pattern.
NOT_BLANK_PATTERN = "\\S"
_LINE_CHARACTER = "\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029"  # what a one-line text may not hold
ONE_LINE_NOT_BLANK_PATTERN = f"^[^{_LINE_CHARACTER}]*[^\\s{_LINE_CHARACTER}][^{_LINE_CHARACTER}]*$"


def _strings_of(schema: dict):
    yield schema
    for member in schema.get("anyOf", ()):
        yield member


def _document_request_rules(schema: dict, model: type) -> None:
    """What RequestModel does beyond the fields' own constraints, said in its JSON schema: whitespace is stripped
    before a minimum length counts, a partial update (PatchModel) sends at least one field, and the fields an
    explicit null may not clear (`not_clearable`) are shown without null."""
    for prop in schema.get("properties", {}).values():
        for member in _strings_of(prop):
            if member.get("type") != "string" or member.get("minLength", 0) < 1 or "format" in member:
                continue
            if "pattern" not in member:
                member["pattern"] = NOT_BLANK_PATTERN
            elif member["pattern"] == ONE_LINE_PATTERN:
                member["pattern"] = ONE_LINE_NOT_BLANK_PATTERN
    if getattr(model, "partial_update", False):
        schema["minProperties"] = 1
    for name in getattr(model, "not_clearable", ()):
        prop = schema["properties"][name]
        members = [m for m in prop.get("anyOf", ()) if m.get("type") != "null"]
        if len(members) == 1 and len(prop["anyOf"]) == 2:  # `X | None`: X
            del prop["anyOf"]
            prop.update(members[0])


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=_document_request_rules)
    # Optional fields that an explicit null does not clear (a 400): documented without null.
    not_clearable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*")
    @classmethod
    def no_nul_characters(cls, value):
        # Valid JSON, but Postgres text cannot store NUL: a clear 400 here instead of a failed INSERT.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class PatchModel(RequestModel):
    """A partial update's body: every field optional, at least one sent (`patch_changes` refuses `{}` with a
    400, which the document says as `minProperties: 1`). An explicit null clears a field, except the
    `not_clearable` ones, which the document therefore shows without null."""

    partial_update: ClassVar[bool] = True


def patch_changes(body: PatchModel) -> dict:
    """The fields a PATCH actually sent. Explicit nulls are kept (they clear a value) except for the model's
    `not_clearable` fields."""
    from domain.errors import FieldError, ValidationFailed

    changes = body.model_dump(exclude_unset=True)
    cleared = sorted(name for name in body.not_clearable if name in changes and changes[name] is None)
    if cleared:
        raise ValidationFailed(errors=[FieldError(n, "required", f"{n} cannot be null") for n in cleared])
    if not changes:
        raise ValidationFailed("The request changes nothing",
                               [FieldError("body", "empty", "send at least one field to change")])
    return changes
