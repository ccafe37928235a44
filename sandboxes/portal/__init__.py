"""A TaxDome-style client portal speaking `/work/shared/portal-protocol.md` (docs/portal/protocol.md), with knobs.

    sandboxes/portal/data.py    the logins, linked accounts and their surfaces (a demo login, a large account)
    sandboxes/portal/app.py     the protocol over HTTP, plus /_sandbox/* knobs and counters for tests and benches
    python -m sandboxes.portal --port 8047     `make run` starts it there; the demo login is in the README
"""

from sandboxes.portal.app import create_app, start  # noqa: F401
from sandboxes.portal.data import DEMO_EMAIL, DEMO_PASSWORD, DEMO_TOTP_SECRET, PortalData  # noqa: F401
