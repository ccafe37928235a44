"""Helpers for e-filing: a firm, a return walked to ready_to_file with a signed Form 8879 on file, transmitting
and reading transmissions. The transmitter sandbox is the `transmitter` fixture of tests/conftest.py."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import pytest_asyncio
from sqlalchemy import select

from domain.client.models import Client
from domain.document.models import Document
from domain.document.types import ESIGN_SOURCE
from tests.tax_return.conftest import make_staff, transition, walk_to_approved

@dataclass
class Firm:
    firm_id: uuid.UUID
    users: dict
    headers: dict


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def firm(tp) -> Firm:
    firm_id, users, headers = await make_staff(tp)
    return Firm(firm_id, users, headers)


async def new_client(tp, firm: Firm, last_name: str) -> dict:
    return await tp.new_client(firm.headers["admin"], name=f"Ann {last_name}",
                               assigned_preparer_id=str(firm.users["preparer"].id))


async def ready_to_file_return(tp, firm: Firm, client: dict, tax_year: int = 2025, return_type: str = "1040") -> str:
    """A return walked through preparation and review to ready_to_file (the signature capability's two System
    transitions sent by the service identity, as it will)."""
    h = firm.headers
    response = await tp.http.post("/v1/returns", headers=h["preparer"], json={
        "client_id": client["id"], "tax_year": tax_year, "return_type": return_type})
    assert response.status_code == 201, response.text
    rid = response.json()["data"]["id"]
    await walk_to_approved(tp, h, rid)
    await transition(tp, h["system"], rid, "send_for_signature")
    await transition(tp, h["system"], rid, "signature_received")
    return rid


def form_8879_pdf(name: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "Form 8879 IRS e-file Signature Authorization")
    pdf.ln()
    pdf.cell(0, 10, f"Taxpayer: {name}. Signed in person at the office.")
    return bytes(pdf.output())


async def upload_8879(tp, firm: Firm, client: dict, rid: str, tax_year: int = 2025) -> str:
    """An 8879 signed in person and uploaded by staff, through the documents API; processed before it returns."""
    response = await tp.http.post("/v1/documents", headers=firm.headers["admin"], data={
        "client_id": client["id"], "return_id": rid, "tax_year": str(tax_year), "document_type": "FORM_8879"},
        files={"file": ("8879-signed.pdf", form_8879_pdf(client["name"]), "application/pdf")})
    assert response.status_code == 201, response.text
    document_id = response.json()["data"]["id"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        data = (await tp.http.get(f"/v1/documents/{document_id}", headers=firm.headers["admin"])).json()["data"]
        if data["status"] in ("processed", "review_required"):
            assert data["document_type"] == "FORM_8879", data
            return document_id
        await asyncio.sleep(0.1)
    raise AssertionError("the 8879 was not processed")


async def ready_return(tp, firm: Firm, last_name: str, return_type: str = "1040") -> tuple[dict, str]:
    client = await new_client(tp, firm, last_name)
    rid = await ready_to_file_return(tp, firm, client, return_type=return_type)
    await upload_8879(tp, firm, client, rid)
    return client, rid


async def transmit(tp, firm: Firm, rid: str, jurisdictions=("federal",), expect: int = 202, **body):
    response = await tp.http.post(f"/v1/returns/{rid}/efiling/transmit", headers=firm.headers["ea_cpa"],
                                  json={"jurisdictions": list(jurisdictions), **body})
    assert response.status_code == expect, response.text
    return response.json()


async def transmissions(tp, firm: Firm, rid: str) -> list[dict]:
    response = await tp.http.get(f"/v1/returns/{rid}/efiling", headers=firm.headers["admin"])
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def wait_transmissions(tp, firm: Firm, rid: str, check, timeout_s: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while True:
        rows = await transmissions(tp, firm, rid)
        if check(rows):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"transmissions did not reach the expected state: {rows}")
        await asyncio.sleep(0.1)


async def set_identity(tp, client_id: str, status: str) -> None:
    async with tp.state.sessionmaker.begin() as session:
        (await session.get(Client, uuid.UUID(client_id))).identity_verification_status = status


async def remote_8879(tp, client: dict, rid: str, firm_id: uuid.UUID) -> uuid.UUID:
    """What the e-signature capability writes after a remote signing: a FORM_8879 document of the return whose
    source is `esignature` (the marker domain/efile/service.signed_form_8879 reads)."""
    async with tp.state.sessionmaker.begin() as session:
        document = Document(id=uuid.uuid4(), firm_id=firm_id, client_id=uuid.UUID(client["id"]),
                            return_id=uuid.UUID(rid), tax_year=2025, document_type="FORM_8879",
                            filename="8879-esigned.pdf", file_size=10, mime_type="application/pdf", sha256="0" * 64,
                            s3_key=f"test/{uuid.uuid4()}", status="processed", source=ESIGN_SOURCE,
                            uploaded_by_role="system")
        session.add(document)
    return document.id


async def documents_of(tp, rid: str) -> list[Document]:
    async with tp.state.sessionmaker() as session:
        return list((await session.execute(select(Document).where(Document.return_id == uuid.UUID(rid)))).scalars())
