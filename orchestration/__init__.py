"""The one path from a change to a workflow.

Everything that talks to Temporal from outside a workflow lives here, and nowhere else (worker.py aside,
which runs the workers): workflow ids (`ids`), task queues (`queues`), search attributes and their one
publishing helper (`search_attributes`), the connection with its data converter (`connect`), the codec that
carries a `DomainError` across the Temporal boundary both ways (`domain_error`), one module per entity with
its workflow's contract (names, input and message models) and a typed client (`tax_return`, `invoice`,
`estimated_payment`, `document`, `audit_export`), and the transactional outbox (`outbox`) through which every
message to a workflow, and every mail, leaves: written in the transaction of the change, sent after the
commit, delivered by the relay if that send fails.

The API and the activities import from here; `workflows/` imports the models and names it implements from
here; nothing here imports `workflows/`, `activities/` or `api/` (import-linter contracts in pyproject.toml).
"""
