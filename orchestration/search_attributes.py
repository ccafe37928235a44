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
PORTAL_CONNECTION_ID = SearchAttributeKey.for_keyword("PortalConnectionId")  # a portal sync's connection

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
    PORTAL_CONNECTION_ID,
]


def cli_flags() -> list[str]:
    """`temporal server start-dev --search-attribute Name=Type` flags for every attribute."""
    flags: list[str] = []
    for key in ALL:
        # _metadata_type is the SDK's own spelling of the type ("Keyword", "Int", "Datetime"), the same the CLI takes.
        flags += ["--search-attribute", f"{key.name}={key._metadata_type}"]
    return flags


async def register(client, namespace: str) -> list[str]:
    """Add the attributes a Temporal cluster does not have yet (the dev server gets them from `cli_flags`).
    Returns the names added. Used by `taxpractice migrate` for production clusters."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest

    existing = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    known = set(existing.custom_attributes) | set(existing.system_attributes)
    missing = {key.name: IndexedValueType.ValueType(key.indexed_value_type.value) for key in ALL
               if key.name not in known}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing))
    return sorted(missing)


class Publisher:
    """The one way a workflow publishes its search attributes: each upsert is a visibility write on the server
    (on the dev server it cost about as much as a whole Update), so only values that changed since this run's
    last upsert are sent, and nothing when none did; None unsets an attribute.

    `patch` is the workflow's patch id for this behaviour: histories recorded before it upserted every value
    given, and replay the same (workflow.patched decides per history). Workflow code only."""

    def __init__(self, patch: str):
        self.patch = patch
        self._published: dict[str, object] = {}

    def publish(self, values: dict[SearchAttributeKey, object]) -> None:
        from temporalio import workflow

        if workflow.patched(self.patch):
            values = {key: value for key, value in values.items() if self._published.get(key.name, ...) != value}
            if not values:
                return
            self._published.update({key.name: value for key, value in values.items()})
        workflow.upsert_search_attributes([key.value_unset() if value is None else key.value_set(value)
                                           for key, value in values.items()])
