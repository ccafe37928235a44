"""Downloads both ways (docs/document.md, Downloads): streamed through the API by default, or with
`redirect=true` a 307 to a short-lived presigned URL of the store, issued only after the audit row is committed."""

import hashlib
import os
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select, text

from domain.audit.models import AuditEntry
from domain.db import make_engine
from tests.document.conftest import portal_headers, upload
from tests.document.forms import form_pdf


async def _downloads_audited(tp, document_id: str) -> list[AuditEntry]:
    async with tp.state.sessionmaker() as session:
        return list((await session.execute(select(AuditEntry).where(
            AuditEntry.action == "document.download", AuditEntry.resource_id == document_id))).scalars())


async def test_a_large_file_streams_whole_in_chunks_and_is_audited(tp, office):
    """Several read-ahead chunks (1 MiB each) and a last partial one arrive whole and in order."""
    pdf = b"%PDF-1.4\n%" + os.urandom(3 * 1024 * 1024 + 12345) + b"\n%%EOF\n"
    created = (await upload(tp, office.admin, pdf, client_id=office.client["id"], tax_year=2024)).json()["data"]
    download = await tp.http.get(f"/v1/documents/{created['id']}/download", headers=office.admin)
    assert download.status_code == 200
    assert download.content == pdf
    assert download.headers["content-length"] == str(len(pdf))
    assert download.headers["x-content-sha256"] == hashlib.sha256(pdf).hexdigest()
    assert download.headers["x-content-type-options"] == "nosniff"
    assert [row.details["sha256"] for row in await _downloads_audited(tp, created["id"])] == [created["sha256"]]


async def test_redirect_answers_307_to_a_presigned_url_after_the_audit_row(tp, office):
    pdf = form_pdf("W-2", "Acme Corporation", {"wages": "75,000.00"})
    client_headers = await portal_headers(tp, office.client["email"])
    created = (await upload(tp, client_headers, pdf, client_id=office.client["id"], tax_year=2024)).json()["data"]

    answer = await tp.http.get(f"/v1/documents/{created['id']}/download", params={"redirect": "true"},
                               headers=client_headers)
    assert answer.status_code == 307, answer.text
    assert answer.headers["x-content-sha256"] == created["sha256"]
    assert answer.headers["cache-control"] == "no-store"
    location = answer.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert query["X-Amz-Expires"] == [str(tp.settings.download_url_seconds)]
    audited = await _downloads_audited(tp, created["id"])
    assert len(audited) == 1 and audited[0].actor_role == "client"

    # The URL is the credential: no Authorization header follows it to the store (an HTTP client drops it for
    # another host), and the store answers the bytes as an attachment.
    async with httpx.AsyncClient() as store:
        fetched = await store.get(location)
    assert fetched.status_code == 200
    assert fetched.content == pdf
    assert fetched.headers["content-disposition"].startswith("attachment;")
    assert fetched.headers["content-type"] == "application/pdf"

    # Not issued to a caller who may not see the document, nor without a token; no audit row for those.
    other_client = await tp.new_client(office.admin)
    stranger = await portal_headers(tp, other_client["email"])
    refused = await tp.http.get(f"/v1/documents/{created['id']}/download", params={"redirect": "true"},
                                headers=stranger)
    assert refused.status_code == 404 and "location" not in refused.headers
    anonymous = await tp.http.get(f"/v1/documents/{created['id']}/download", params={"redirect": "true"})
    assert anonymous.status_code == 401
    assert len(await _downloads_audited(tp, created["id"])) == 1


async def test_a_download_whose_audit_row_fails_answers_no_byte_and_no_url(tp, office):
    """The store's stream is opened, and the URL signed, while the audit row commits: when the row cannot be
    written, neither reaches the caller, and the next download, audited, works."""
    pdf = form_pdf("W-2", "Acme Corporation", {"wages": "75,000.00"})
    created = (await upload(tp, office.admin, pdf, client_id=office.client["id"], tax_year=2024)).json()["data"]
    url = f"/v1/documents/{created['id']}/download"
    owner = make_engine(tp.settings.database_url, pool_size=1)
    role = tp.settings.database_app_role
    try:
        async with owner.begin() as connection:  # the app's role may no longer append to the audit log
            await connection.execute(text(f"REVOKE INSERT ON audit_log FROM {role}"))
        for params in ({}, {"redirect": "true"}):
            answer = await tp.http.get(url, params=params, headers=office.admin)
            assert answer.status_code >= 500, answer.status_code
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert "location" not in answer.headers and pdf not in answer.content
    finally:
        async with owner.begin() as connection:
            await connection.execute(text(f"GRANT INSERT ON audit_log TO {role}"))
        await owner.dispose()
    assert await _downloads_audited(tp, created["id"]) == []
    answer = await tp.http.get(url, headers=office.admin)
    assert answer.status_code == 200 and answer.content == pdf
    assert len(await _downloads_audited(tp, created["id"])) == 1
