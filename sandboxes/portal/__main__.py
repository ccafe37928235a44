"""`python -m sandboxes.portal [--port 8047] [--large]`: serve the demo login until SIGTERM or Ctrl-C."""

import argparse

from sandboxes.portal.app import start
from sandboxes.portal.data import DEMO_EMAIL, DEMO_PASSWORD, DEMO_TOTP_SECRET, PortalData, large_account


def main() -> None:
    parser = argparse.ArgumentParser(description="TaxDome-style client portal sandbox")
    parser.add_argument("--port", type=int, default=8047)
    parser.add_argument("--large", action="store_true", help="add the benchmark's large account to the demo login")
    args = parser.parse_args()
    data = PortalData.demo()
    if args.large:
        big = large_account()
        data.accounts[big.id] = big
        data.logins[DEMO_EMAIL].account_ids.append(big.id)
    server = start(data, args.port)
    server.serve_until_signalled(f"portal sandbox on {server.url}: login {DEMO_EMAIL} / {DEMO_PASSWORD!r}, "
                                 f"TOTP secret {DEMO_TOTP_SECRET}")


if __name__ == "__main__":
    main()
