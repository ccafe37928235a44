"""`taxpractice login`: sign in through the API (password, then TOTP) and print the access token, for scripts:

    export TAXPRACTICE_TOKEN=$(taxpractice login --email admin@firm.example.com)
"""

from __future__ import annotations

from typing import Optional

import typer

from cli.common import API_URL_OPTION, api_client, api_json, emit, fail, verify_with_totp_secret


def login(email: str = typer.Option(..., envvar="TAXPRACTICE_EMAIL"),
          password: str = typer.Option(..., envvar="TAXPRACTICE_PASSWORD", prompt=True, hide_input=True),
          totp_secret: Optional[str] = typer.Option(
              None, envvar="TAXPRACTICE_TOTP_SECRET",
              help="the TOTP secret (base32), to compute the code; else --code, else a prompt"),
          code: Optional[str] = typer.Option(None, help="the 6-digit code of your authenticator app"),
          full: bool = typer.Option(False, "--full", help="print the whole token response as JSON"),
          api_url: Optional[str] = API_URL_OPTION) -> None:
    """Print an access token (30 minutes); with --full, the refresh token and expiry too."""
    with api_client(api_url) as api:
        first = api_json(api.post("/v1/auth/login", json={"email": email, "password": password}))
        if first.get("status") != "mfa_required":
            fail(f"unexpected sign-in answer: {first.get('status')}")
        if code or not totp_secret:
            code = code or typer.prompt("TOTP code")
            tokens = api_json(api.post("/v1/auth/mfa/verify", json={"mfa_token": first["mfa_token"], "code": code}))
        else:
            tokens = verify_with_totp_secret(api, first["mfa_token"], totp_secret)
    if full:
        return emit(tokens, True)
    print(tokens["access_token"])


def register(root: typer.Typer) -> None:
    root.command("login")(login)
