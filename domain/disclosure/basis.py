"""What a disclosure may rest on: a purpose a signed consent covers, or an exception the regulations name.

A purpose is a code, not free text, because the gate must match it: a consent's `disclosure_purpose` tells the
client in words why, its `purpose` says which of these the system may do under it.
"""

from __future__ import annotations

from enum import StrEnum


class DisclosurePurpose(StrEnum):
    # Documents sent to a document processor (SurePrep) for OCR and data extraction.
    DOCUMENT_PROCESSING = "document_processing"
    # A client's records pulled from (and the session held with) a client portal the firm connects.
    PORTAL_IMPORT = "portal_import"
    # Event payloads carrying return information delivered to a firm's webhook endpoint.
    WEBHOOK_DELIVERY = "webhook_delivery"
    # Filing the return with the IRS or a state through the e-file transmitter: on the e-file exception, never
    # on a consent.
    EFILE_TRANSMISSION = "efile_transmission"
    # Form 8879 sent through the e-signature provider for the taxpayer's signature (under a regulatory exception).
    RETURN_SIGNATURE = "return_signature"


class RegulatoryException(StrEnum):
    """Disclosures Treas. Reg. §301.7216-2 permits without the taxpayer's consent. Each names the paragraph it
    rests on in EXCEPTION_AUTHORITY; a new one is added here, reviewed, never passed as a free string."""

    # The return, sent through an authorized e-file transmitter to the IRS or a state to file it.
    EFILE_TRANSMISSION = "efile_transmission"
    # Form 8879 (its return figures) sent through the e-signature provider for the taxpayer's own signature: a
    # service the preparer uses to prepare and file the return (docs/esign.md).
    ESIGNATURE_OF_RETURN = "esignature_of_return"


EXCEPTION_AUTHORITY: dict[RegulatoryException, str] = {
    RegulatoryException.EFILE_TRANSMISSION:
        "Treas. Reg. §301.7216-2(b): disclosure to the IRS (and states) to file the return, including through an "
        "authorized e-file transmitter",
    RegulatoryException.ESIGNATURE_OF_RETURN:
        "Treas. Reg. §301.7216-2(d)(1): disclosure to a person who provides auxiliary services in connection with "
        "the preparation of the return (the e-signature service through which the taxpayer signs Form 8879)",
}

PURPOSES = tuple(p.value for p in DisclosurePurpose)
