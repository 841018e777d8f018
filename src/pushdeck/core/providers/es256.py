"""ES256 JSON Web Tokens (RFC 7519 over RFC 7515 JWS), signed with ``cryptography`` alone.

The APNs provider token and the VAPID token are the only JWTs Pushdeck signs, once per
hour or per push service, yet importing PyJWT for them cost ~40 ms of every campaign
command's start-up. The tokens are the same as PyJWT's ``jwt.encode(claims, key,
algorithm="ES256", headers=...)`` (header keys sorted, compact JSON, raw r‖s
signature); tests/core/test_es256.py checks them with PyJWT.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(value: Mapping[str, object], *, sort_keys: bool = False) -> str:
    return _b64(json.dumps(value, separators=(",", ":"), sort_keys=sort_keys).encode())


def es256_jwt(
    claims: Mapping[str, object],
    key: ec.EllipticCurvePrivateKey,
    headers: Mapping[str, str] | None = None,
) -> str:
    """The compact JWS of ``claims`` signed with the P-256 ``key`` (``typ`` JWT)."""
    if key.curve.name != "secp256r1":
        raise ValueError("ES256 needs a P-256 key")
    header = {"typ": "JWT", **(headers or {}), "alg": "ES256"}
    signing_input = f"{_json(header, sort_keys=True)}.{_json(claims)}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
