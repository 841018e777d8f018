"""Pushdeck's ES256 JWTs are what PyJWT makes and verifies (APNs and VAPID tokens)."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pushdeck.core.providers.es256 import es256_jwt


@pytest.mark.parametrize(
    "headers",
    [None, {"kid": "KEY1234567"}, {"typ": "JWT"}],
)
def test_tokens_verify_with_pyjwt_and_carry_its_header(headers: dict[str, str] | None) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    claims = {"iss": "TEAM123456", "iat": 1_700_000_000, "aud": "https://push.example", "é": "✓"}
    token = es256_jwt(claims, key, headers)
    reference = jwt.encode(claims, key, algorithm="ES256", headers=headers)
    assert jwt.get_unverified_header(token) == jwt.get_unverified_header(reference)
    assert token.split(".")[:2] == reference.split(".")[:2]  # same header and claims bytes
    decoded = jwt.decode(
        token, key.public_key(), algorithms=["ES256"], audience="https://push.example",
        options={"verify_iat": False},
    )  # fmt: skip
    assert decoded == claims
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, ec.generate_private_key(ec.SECP256R1()).public_key(),
                   algorithms=["ES256"], options={"verify_aud": False})  # fmt: skip


def test_another_curve_is_refused() -> None:
    with pytest.raises(ValueError, match="P-256"):
        es256_jwt({"iss": "x"}, ec.generate_private_key(ec.SECP384R1()))
