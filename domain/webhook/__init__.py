"""Inbound webhooks, every provider: one ledger (`inbound_webhooks`), one way to record an event once, one
redaction of what we keep, and each provider's effect (`stripe`, `sureprep`, `smartvault`). The HTTP side of the
pattern (verify, record, apply, hand off, answer) is `api/v1/webhook.py`; docs/webhook.md shows how to add one."""
