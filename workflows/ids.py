"""Workflow ids built from business keys: a retried request finds the same workflow instead of starting a
second one."""

import uuid


def audit_export(export_id: uuid.UUID) -> str:
    return f"audit-export:{export_id}"
