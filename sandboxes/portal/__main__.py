"""`python -m sandboxes.portal [--port 8047] [--large]`: serve the demo login until SIGTERM or Ctrl-C.

`--large` adds a second login, LARGE_EMAIL (password LARGE_PASSWORD, no second factor), fronting one account
of the benchmark's size (1,000 documents of ~50 KB, 300 invoices, 2,000 messages; smaller with the count flags).
"""

import argparse

from sandboxes.portal.app import start
from sandboxes.portal.data import (
    DEMO_EMAIL, DEMO_PASSWORD, DEMO_TOTP_SECRET, LARGE_EMAIL, LARGE_PASSWORD, PortalData, large_account,
)


def main() -> None:
    parser = argparse.ArgumentParser(description="TaxDome-style client portal sandbox")
    parser.add_argument("--port", type=int, default=8047)
    parser.add_argument("--large", action="store_true", help=f"add {LARGE_EMAIL} with the benchmark's account")
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--document-size", type=int, default=50_000)
    parser.add_argument("--invoices", type=int, default=300)
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    data = PortalData.demo()
    if args.large:
        data.add_login(LARGE_EMAIL, LARGE_PASSWORD, None, [large_account(
            documents=args.documents, document_size=args.document_size, invoices=args.invoices,
            messages=args.messages)])
    server = start(data, args.port)
    server.serve_until_signalled(f"portal sandbox on {server.url}: login {DEMO_EMAIL} / {DEMO_PASSWORD!r}, "
                                 f"TOTP secret {DEMO_TOTP_SECRET}")


if __name__ == "__main__":
    main()
