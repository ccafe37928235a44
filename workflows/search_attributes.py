"""The custom search attributes every entity workflow may set, so operators can find work in Temporal UI.

One list, read by the dev stack (registered with `temporal server start-dev --search-attribute`), by the
tests (registered on the test servers) and by the workflows. The SQLite visibility store allows at most
10 Keyword and 3 each of Int/Datetime/…: plan additions against that budget.
"""

from temporalio.common import SearchAttributeKey

ENTITY_TYPE = SearchAttributeKey.for_keyword("EntityType")  # tax_return, invoice, audit_export, …
ENTITY_STATUS = SearchAttributeKey.for_keyword("EntityStatus")
CLIENT_ID = SearchAttributeKey.for_keyword("ClientId")
ASSIGNEE_ID = SearchAttributeKey.for_keyword("AssigneeId")
RETURN_TYPE = SearchAttributeKey.for_keyword("ReturnType")
FIRM_ID = SearchAttributeKey.for_keyword("FirmId")
TAX_YEAR = SearchAttributeKey.for_int("TaxYear")
STUCK_SINCE = SearchAttributeKey.for_datetime("StuckSince")
DUE_DATE = SearchAttributeKey.for_datetime("DueDate")
NEXT_REMINDER_AT = SearchAttributeKey.for_datetime("NextReminderAt")

ALL = [
    ENTITY_TYPE,
    ENTITY_STATUS,
    CLIENT_ID,
    ASSIGNEE_ID,
    RETURN_TYPE,
    FIRM_ID,
    TAX_YEAR,
    STUCK_SINCE,
    DUE_DATE,
    NEXT_REMINDER_AT,
]


def cli_flags() -> list[str]:
    """`temporal server start-dev --search-attribute Name=Type` flags for every attribute."""
    flags: list[str] = []
    for key in ALL:
        # _metadata_type is the SDK's own spelling of the type ("Keyword", "Int", "Datetime"), the same the CLI takes.
        flags += ["--search-attribute", f"{key.name}={key._metadata_type}"]
    return flags
