"""A rejected federal transmission (with its rejection) of a seeded return, written as the e-file workflow leaves
one, so the e-file reads of the OpenAPI tests name a real object. Walking a return to ready_to_file and through the
transmitter sandbox for every seeded firm would cost a minute each; tests/efile walks that path for real."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from domain.efile.models import EfileRejection, EfileTransmission


async def rejected_transmission(tp, firm_id: uuid.UUID | str, client_id: str, return_id: str) -> str:
    now = datetime.now(timezone.utc)
    # MeF's form: EFIN, year, day of year, 7 base-36 characters (unique per seeded firm).
    submission_id = f"000000{now:%Y}{now.timetuple().tm_yday:03d}{uuid.uuid4().hex[:7]}"
    async with tp.state.sessionmaker.begin() as session:
        transmission = EfileTransmission(
            id=uuid.uuid4(), firm_id=uuid.UUID(str(firm_id)), client_id=uuid.UUID(client_id),
            return_id=uuid.UUID(return_id), jurisdiction="federal", transmission_type="original",
            submission_id=submission_id, status="rejected", attempts=1, figures={}, transmitted_at=now,
            acknowledged_at=now, filing_date=now.date(), filing_date_kept=False, paper_filing_required=False)
        session.add(transmission)
        await session.flush()
        session.add(EfileRejection(
            id=uuid.uuid4(), transmission_id=transmission.id, submission_id=submission_id, error_code="IND-031-04",
            category="data_mismatch", severity="reject_and_stop", description="SSN/Name mismatch with SSA records",
            data_value=None, resolution_guidance="Verify the taxpayer's SSN and name", auto_correctable=False))
    return str(transmission.id)
