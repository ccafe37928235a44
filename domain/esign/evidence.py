"""The evidence a completed signature must carry before anything is marked signed (ESIGN Act §7001(c); IRS
Pub. 1345 for Forms 8879: the signer's IP address, login id, time, and identity-verification result).

A completion whose evidence is missing a piece, or whose document hash is not the one we sent, is refused: a
signed status never exists without the proof of it."""

from __future__ import annotations

from datetime import datetime

REQUIRED = ("typed_name", "ip_address", "user_agent", "document_sha256", "completed_at", "esign_consent", "events")


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def refusal(evidence: object, document_sha256: str, signer_email: str, completed: bool = True) -> str | None:
    """Why this evidence cannot support the outcome; None when it can."""
    if not isinstance(evidence, dict):
        return "the callback carries no evidence"
    required = REQUIRED if completed else ("ip_address", "user_agent", "document_sha256", "completed_at", "events")
    missing = [key for key in required if not evidence.get(key)]
    if missing:
        return f"the evidence lacks {', '.join(missing)}"
    if evidence["document_sha256"] != document_sha256:
        return "the evidence is for another document (SHA-256 differs from the one sent)"
    signer = evidence.get("signer") or {}
    if not isinstance(signer, dict) or str(signer.get("email", "")).lower() != signer_email.lower():
        return "the evidence names another signer"
    if parse_time(evidence["completed_at"]) is None:
        return "the evidence's completion time is not an ISO 8601 instant"
    if completed and not (isinstance(evidence["esign_consent"], dict) and evidence["esign_consent"].get("at")):
        return "the evidence lacks the signer's consent to electronic records"
    return None
