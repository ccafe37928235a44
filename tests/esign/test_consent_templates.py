"""Consent templates carry every statement Rev. Proc. 2013-14 makes mandatory for their kind, or are refused when
they are defined; the rendered consent shows the words of its version."""

from __future__ import annotations

import dataclasses
import io
import uuid
from datetime import datetime, timezone

import pytest
from pypdf import PdfReader

from domain.consent.form import render_consent
from domain.consent.models import Consent
from domain.consent.templates import DISCLOSURE_2026_1, TEMPLATES, USE_2026_1, ConsentTemplate, TemplateError


def test_a_template_missing_a_mandatory_statement_is_refused():
    statements = dict(DISCLOSURE_2026_1.statements)
    del statements["no_protection_after_disclosure"]
    with pytest.raises(TemplateError, match="no_protection_after_disclosure"):
        dataclasses.replace(DISCLOSURE_2026_1, version="disclosure-bad", statements=statements)
    # A statement kept but stripped of its fact (TIGTA's number) is refused too.
    statements = dict(USE_2026_1.statements, tigta="Complain to TIGTA.")
    with pytest.raises(TemplateError, match="1-800-366-4484"):
        dataclasses.replace(USE_2026_1, version="use-bad", statements=statements)
    with pytest.raises(TemplateError, match="unknown consent kind"):
        ConsentTemplate("marketing", "m-1", "t", "g", {})


def test_the_disclosure_statement_of_further_use_is_only_for_disclosures():
    assert "no_protection_after_disclosure" in DISCLOSURE_2026_1.statements
    assert "no_protection_after_disclosure" not in USE_2026_1.statements
    assert set(TEMPLATES) == {"disclosure-2026.1", "use-2026.1"}


def test_the_rendered_consent_shows_its_version_words():
    consent = Consent(id=uuid.uuid4(), tax_year=2024, kind="disclosure", third_party_name="SurePrep LLC",
                      disclosure_purpose="Document OCR", information_covered="your W-2 forms",
                      template_version="disclosure-2026.1", requested_expires_at=datetime(2025, 6, 30,
                                                                                          tzinfo=timezone.utc))
    text = " ".join(" ".join(PdfReader(io.BytesIO(render_consent(consent, "Dana Q. Taxpayer", "Acme CPAs")))
                             .pages[0].extract_text().split()).split())
    assert "authorize Acme CPAs to disclose to SurePrep LLC" in text and "on 2025-06-30" in text
    assert "1-800-366-4484" in text and "Form version disclosure-2026.1" in text
