"""The gate on the SurePrep path with a consent signed through the API: allowed while it is in force, refused at
the next disclosure once it is revoked, each decision in the client's disclosure log."""

from __future__ import annotations

from tests.document.conftest import upload, workflow_result
from tests.document.forms import form_pdf
from tests.esign.conftest import signed_consent

W2 = {"wages": "75,000.00", "federal_withholding": "12,500.00"}


async def test_sureprep_allowed_then_refused_after_revocation(tp, office, sandboxes):
    consent = await signed_consent(tp, office.admin, office.client)

    async def process(employer: str) -> tuple[str, str]:
        response = await upload(tp, office.admin, form_pdf("W-2", employer, W2), client_id=office.client["id"],
                                tax_year=2024)
        assert response.status_code == 201, response.text
        document_id = response.json()["data"]["id"]
        return document_id, (await workflow_result(tp, document_id)).sureprep

    first, outcome = await process("Acme Corporation")
    assert outcome == "sent"
    revoked = await tp.http.post(f"/v1/consents/{consent['id']}/revoke", headers=office.admin)
    assert revoked.status_code == 200, revoked.text
    second, outcome = await process("Globex Corporation")
    assert outcome == "refused_no_consent"

    log = (await tp.http.get(f"/v1/clients/{office.client['id']}/disclosures", headers=office.admin)).json()["data"]
    rows = {row["entity_id"]: row for row in log}
    assert (rows[first]["allowed"], rows[first]["basis"], rows[first]["consent_id"]) == (True, "consent",
                                                                                          consent["id"])
    assert (rows[second]["allowed"], rows[second]["basis"], rows[second]["refusal_reason"]) == (
        False, "none", "consent_revoked")
