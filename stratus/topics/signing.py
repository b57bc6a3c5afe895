"""SNS message signatures (SignatureVersion 1: SHA1withRSA over SNS's documented canonical
string), with a key pair and self-signed certificate made once in the data dir (0600) and
served at the SigningCertURL, so that a subscriber can verify what it receives."""

from __future__ import annotations

import base64
import datetime
import os
from collections.abc import Mapping
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from stratus.store.diskfull import writing

KEY_FILE = "sns_signing_key.pem"
CERT_FILE = "sns_signing_cert.pem"

# The fields signed, in order, by message type (absent ones, as a notification's Subject, are left out).
NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


def canonical(message: Mapping[str, str]) -> bytes:
    """The string SNS signs: each present field's name and value, one per line."""
    fields = NOTIFICATION_FIELDS if message.get("Type") == "Notification" else CONFIRMATION_FIELDS
    out = []
    for name in fields:
        value = message.get(name)
        if value is not None:
            out.append(f"{name}\n{value}\n")
    return "".join(out).encode()


class Signer:
    def __init__(self, directory: Path) -> None:
        key_path, cert_path = directory / KEY_FILE, directory / CERT_FILE
        if not key_path.exists() or not cert_path.exists():
            _generate(key_path, cert_path)
        loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise RuntimeError(f"{key_path} is not an RSA key")
        self._key = loaded
        self.certificate_pem = cert_path.read_bytes()

    def sign(self, message: Mapping[str, str]) -> str:
        signature = self._key.sign(canonical(message), padding.PKCS1v15(), hashes.SHA1())
        return base64.b64encode(signature).decode()


def verify(certificate_pem: bytes, message: Mapping[str, str]) -> bool:
    """What a subscriber does: check the signature with the certificate (tests use it)."""
    public = x509.load_pem_x509_certificate(certificate_pem).public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        return False
    try:
        public.verify(
            base64.b64decode(message["Signature"]), canonical(message), padding.PKCS1v15(), hashes.SHA1()
        )
    except Exception:
        return False
    return True


def _generate(key_path: Path, cert_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.stratus.local")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    with writing():
        for path, data in (
            (
                key_path,
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ),
            ),
            (cert_path, cert.public_bytes(serialization.Encoding.PEM)),
        ):
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
