"""An SMS gateway over HTTP (a Twilio-style messages API): send one text, by SMS or as a voice call that reads it.

The same code talks to the gateway in production and to sandboxes/sms_gateway.py (a capture, like the mail
capture) in development and tests (SMS_GATEWAY_URL). Every send carries an Idempotency-Key, so a retried
activity never texts twice. Implements `integrations.providers.SmsGateway`.
"""

from __future__ import annotations

import httpx

from integrations.provider_errors import provider_errors, raise_for_status

KIND = "sms_gateway"


class SmsGatewayClient:
    def __init__(self, base_url: str, api_key: str, timeout_s: float = 15.0):
        self.base_url, self.api_key, self.timeout_s = base_url.rstrip("/"), api_key, timeout_s

    async def send(self, to: str, body: str, channel: str, idempotency_key: str) -> str:
        with provider_errors(KIND):
            async with httpx.AsyncClient(timeout=self.timeout_s) as http:
                response = await http.post(
                    f"{self.base_url}/v1/messages",
                    headers={"Authorization": f"Bearer {self.api_key}", "Idempotency-Key": idempotency_key},
                    json={"to": to, "body": body, "channel": channel})
        raise_for_status(KIND, response, "text message")
        return response.json()["id"]
