"""The tool's RSA key pair: made on first need, kept in the instance dir, never committed.

Platforms verify what panlearn signs (deep-linking responses, the assertions
that obtain AGS access tokens) with the public key published at
`/.well-known/jwks.json`; its `kid` is the RFC 7638 thumbprint, so it changes
exactly when the key does.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK

KEY_FILE = "lti-tool-key.pem"
KEY_BITS = 2048
ALGORITHM = "RS256"


@dataclass(frozen=True)
class ToolKey:
    """The tool's signing key: PEMs and the key id platforms look it up by."""

    private_pem: str
    public_pem: str
    kid: str

    def public_jwk(self) -> dict[str, Any]:
        """The public key as a JWK, for the tool's JWKS."""
        jwk = json.loads(JWK.from_pem(self.public_pem.encode()).export_public())
        jwk.update({"kid": self.kid, "alg": ALGORITHM, "use": "sig"})
        return jwk


def key_path(instance_dir: str | Path) -> Path:
    """Where the tool's private key lives."""
    return Path(instance_dir) / KEY_FILE


def tool_key(instance_dir: str | Path) -> ToolKey:
    """The tool's key pair, generated on first need (safe when several processes race)."""
    path = key_path(instance_dir)
    if not path.exists():
        _generate(path)
    return _load(str(path), path.stat().st_mtime_ns)


def tool_jwks(key: ToolKey) -> dict[str, Any]:
    """The JSON Web Key Set served at `/.well-known/jwks.json`."""
    return {"keys": [key.public_jwk()]}


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> ToolKey:
    # Keyed by mtime too, so a rotated key file is picked up without a restart.
    pem = Path(path).read_bytes()
    private = serialization.load_pem_private_key(pem, password=None)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    kid = JWK.from_pem(public_pem.encode()).thumbprint()
    return ToolKey(private_pem=pem.decode(), public_pem=public_pem, kid=kid)


def _generate(path: Path) -> None:
    """Write a new key readable by its owner only; the first process to link it wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".lti-key-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)  # atomic, and fails if another process made one first
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
