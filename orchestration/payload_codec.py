"""Sealed payloads: every payload that crosses Temporal (workflow inputs, Update and Signal arguments, results,
activity inputs and results, failure details) is AES-256-GCM ciphertext in Temporal's database, so tax-return
information never sits there in clear, and a payload not sealed with one of our keys is refused, so a caller
who reaches Temporal's port but has no key cannot forge an Update or a Signal.

- Keys: `TEMPORAL_PAYLOAD_KEYS` = `id:base64(32 bytes)[,id:base64(32 bytes)…]`. The first seals; every one opens,
  so a key rotates by putting the new one first and dropping the old one once no open workflow needs it
  (docs/orchestration.md). The key id travels in the payload's metadata and is bound as associated data.
- Refusal: an unsealed payload, one sealed with an unknown key, or one that does not authenticate decodes to a
  payload of encoding `binary/refused`, which no converter reads: the Update or Signal carrying it is rejected
  when its argument is read, before any handler runs. (Raising here instead would fail the whole workflow task,
  holding back the legitimate work in it.)
- `accept_unsealed`: only while switching an existing deployment to sealed payloads, so workflows started
  before keep running; off by default.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

SEALED = b"binary/sealed"
REFUSED = b"binary/refused"
KEY_ID = "seal-key-id"
NONCE_BYTES = 12


def parse_keys(value: str) -> list[tuple[str, bytes]]:
    """`id:base64key,…` → [(id, 32-byte key)], the sealing key first; ValueError names what is wrong."""
    keys = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        key_id, sep, encoded = item.partition(":")
        if not sep or not key_id:
            raise ValueError("each Temporal payload key is id:base64key")
        key = base64.b64decode(encoded, validate=True)
        if len(key) != 32:
            raise ValueError(f"Temporal payload key {key_id!r} must be 32 bytes (AES-256)")
        keys.append((key_id, key))
    if not keys:
        raise ValueError("at least one Temporal payload key is needed")
    if len({key_id for key_id, _ in keys}) != len(keys):
        raise ValueError("Temporal payload key ids must differ")
    return keys


class SealedPayloadCodec(PayloadCodec):
    def __init__(self, keys: list[tuple[str, bytes]], accept_unsealed: bool = False):
        self._seal_id, seal_key = keys[0]
        self._sealer = AESGCM(seal_key)
        self._openers = {key_id: AESGCM(key) for key_id, key in keys}
        self.accept_unsealed = accept_unsealed

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._seal(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._open(p) for p in payloads]

    def _seal(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._sealer.encrypt(nonce, payload.SerializeToString(), self._seal_id.encode())
        return Payload(metadata={"encoding": SEALED, KEY_ID: self._seal_id.encode()}, data=nonce + sealed)

    def _open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != SEALED:
            return payload if self.accept_unsealed else _refused()
        key_id = payload.metadata.get(KEY_ID, b"").decode("ascii", "replace")
        opener = self._openers.get(key_id)
        if opener is None or len(payload.data) <= NONCE_BYTES:
            return _refused()
        try:
            plain = opener.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            return _refused()
        return Payload.FromString(plain)


def _refused() -> Payload:
    return Payload(metadata={"encoding": REFUSED})


def sealed_data_converter(keys: str, accept_unsealed: bool = False) -> DataConverter:
    """The pydantic data converter (Decimal, date, models) with every payload sealed; failure messages and stack
    traces are encoded into the sealed details too, so a refusal's text is not in clear either."""
    return dataclasses.replace(
        pydantic_data_converter, payload_codec=SealedPayloadCodec(parse_keys(keys), accept_unsealed),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes)


async def codec_server(codec: SealedPayloadCodec, operation: str, body: dict) -> dict:
    """Temporal's remote codec protocol (what Temporal UI's and the CLI's `--codec-endpoint` call): `{"payloads":
    [{"metadata": {…base64}, "data": base64}]}` in, the same shape out, encoded or decoded. ValueError for a body
    that is not that shape."""
    try:
        payloads = json_format.ParseDict(body, Payloads(), ignore_unknown_fields=False)
    except (json_format.ParseError, TypeError) as exc:
        raise ValueError(str(exc)) from None
    run = codec.encode if operation == "encode" else codec.decode
    return json_format.MessageToDict(Payloads(payloads=await run(payloads.payloads)))
