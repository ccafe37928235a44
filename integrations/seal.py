"""The firm's seal on every signed PDF: a PAdES signature (pyHanko) with the firm's certificate, so any PDF reader
shows whether the document was changed after it was signed.

The certificate is a setting (SEAL_KEY_PATH, SEAL_CERTIFICATE_PATH, SEAL_KEY_PASSPHRASE; required outside
development). In development a self-signed certificate is generated once under DATA_DIR/seal/ and reused, so
every PDF sealed on one machine verifies against the same certificate; a reader shows it as untrusted until the
certificate is added to its trust list (docs/esign.md).
"""

from __future__ import annotations

import asyncio
import io
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

FIELD_NAME = "FirmSeal"


def development_certificate(directory: Path, firm_name: str = "Tax Practice (development)") -> tuple[Path, Path]:
    """A self-signed signing certificate and its key (PEM), made once: (key path, certificate path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key_path, cert_path = directory / "seal-key.pem", directory / "seal-cert.pem"
    if key_path.exists() and cert_path.exists():
        return key_path, cert_path
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, firm_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, firm_name)])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_cert_sign=True,
                                         crl_sign=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .sign(key, hashes.SHA256()))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


class PdfSealer:
    def __init__(self, key_path: Path, certificate_path: Path, passphrase: str | None = None):
        self.certificate_path = certificate_path
        self._signer = signers.SimpleSigner.load(str(key_path), str(certificate_path),
                                                 key_passphrase=passphrase.encode() if passphrase else None)
        if self._signer is None:
            raise ValueError(f"cannot load the seal key {key_path} and certificate {certificate_path}")

    def seal_sync(self, pdf: bytes, reason: str) -> bytes:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        meta = signers.PdfSignatureMetadata(field_name=FIELD_NAME, reason=reason, md_algorithm="sha256",
                                            subfilter=fields.SigSeedSubFilter.PADES)
        return signers.PdfSigner(meta, signer=self._signer).sign_pdf(writer).getvalue()

    async def seal(self, pdf: bytes, reason: str) -> bytes:
        # CPU work (hashing, the signature): off the event loop.
        return await asyncio.to_thread(self.seal_sync, pdf, reason)
