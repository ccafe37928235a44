"""Workflow ids built from business keys: a retried request finds the same workflow instead of starting a
second one."""

import uuid


def audit_export(export_id: uuid.UUID) -> str:
    return f"audit-export:{export_id}"


def tax_return(return_id: uuid.UUID) -> str:
    return f"tax-return:{return_id}"


def document(document_id: uuid.UUID) -> str:
    return f"document:{document_id}"


def smartvault_import(account_id: str, smartvault_document_id: str) -> str:
    return f"smartvault-import:{account_id}:{smartvault_document_id}"


def invoice(invoice_id: uuid.UUID) -> str:
    return f"invoice:{invoice_id}"


def estimated_payment_schedule(schedule_id: uuid.UUID) -> str:
    return f"estimated-payment-schedule:{schedule_id}"


def efile_transmission(transmission_id: uuid.UUID) -> str:
    return f"efile-transmission:{transmission_id}"


def identity_verification(verification_id: uuid.UUID) -> str:
    return f"identity-verification:{verification_id}"


def consent(consent_id: uuid.UUID) -> str:
    return f"consent:{consent_id}"


def engagement(engagement_id: uuid.UUID) -> str:
    return f"engagement:{engagement_id}"


def form_8879(return_id: uuid.UUID) -> str:
    return f"form-8879:{return_id}"


def webhook_delivery(delivery_id: uuid.UUID) -> str:
    return f"webhook-delivery:{delivery_id}"
