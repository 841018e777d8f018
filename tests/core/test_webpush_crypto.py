"""RFC 8291 encryption (byte-exact vector, independent decryptor) and RFC 8292 VAPID."""

from __future__ import annotations

import http_ece
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pushdeck.core.common.errors import CredentialError, ValidationError
from pushdeck.core.common.model import WebPushSubscription
from pushdeck.core.providers.webpush_crypto import (
    MAX_PLAINTEXT,
    VapidSigner,
    b64url_decode,
    b64url_encode,
    decrypt,
    derive_key_nonce,
    encrypt,
    encrypt_for,
    generate_vapid_keys,
    load_vapid_keys,
    origin_of,
    public_bytes,
    receiver_keys,
    subject_problem,
    vapid_keys_match,
)

# RFC 8291 Section 5 / Appendix A (reference/protocols.md §3.4)
V = {
    "plaintext": "V2hlbiBJIGdyb3cgdXAsIEkgd2FudCB0byBiZSBhIHdhdGVybWVsb24",
    "as_public": (
        "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
    ),
    "as_private": "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw",
    "ua_public": (
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
    ),
    "ua_private": "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94",
    "auth_secret": "BTBZMqHH6r4Tts7J_aSIgg",
    "salt": "DGv6ra1nlYgDCS1FRnbzlw",
    "ecdh_secret": "kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs",
    "CEK": "oIhVW04MRdy2XN9CiKLxTg",
    "NONCE": "4h_95klXJ5E_qnoN",
    "header": (
        "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy"
        "27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
    ),
    "ciphertext": "8pfeW0KbunFT06SuDKoJH9Ql87S1QUrdirN6GcG7sFz1y1sqLgVi1VhjVkHsUoEsbI_0LpXMuGvnzQ",
    "body": (
        "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmY"
        "WAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexS"
        "gSxsj_Qulcy4a-fN"
    ),
}


def _key(b64: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(b64url_decode(b64), "big"), ec.SECP256R1())


def _vector_body() -> bytes:
    keys = receiver_keys(V["ua_public"], V["auth_secret"])
    return encrypt(
        b64url_decode(V["plaintext"]),
        keys,
        salt=b64url_decode(V["salt"]),
        private_key=_key(V["as_private"]),
    )


def test_rfc8291_appendix_a_vector_byte_for_byte() -> None:
    body = _vector_body()
    assert len(body) == 144
    assert body == b64url_decode(V["body"])
    assert body[:86] == b64url_decode(V["header"])
    assert body[86:] == b64url_decode(V["ciphertext"])
    assert body[16:21] == b"\x00\x00\x10\x00\x41"


def test_rfc8291_intermediates() -> None:
    as_key, ua_key = _key(V["as_private"]), _key(V["ua_private"])
    assert b64url_encode(public_bytes(as_key.public_key())) == V["as_public"]
    secret = as_key.exchange(ec.ECDH(), ua_key.public_key())
    assert b64url_encode(secret) == V["ecdh_secret"]
    cek, nonce = derive_key_nonce(
        secret,
        b64url_decode(V["auth_secret"]),
        b64url_decode(V["ua_public"]),
        b64url_decode(V["as_public"]),
        b64url_decode(V["salt"]),
    )
    assert (b64url_encode(cek), b64url_encode(nonce)) == (V["CEK"], V["NONCE"])


def test_vector_decrypts_with_our_decrypt() -> None:
    plaintext = decrypt(_vector_body(), _key(V["ua_private"]), b64url_decode(V["auth_secret"]))
    assert plaintext == b"When I grow up, I want to be a watermelon"


def _browser() -> tuple[ec.EllipticCurvePrivateKey, bytes, WebPushSubscription]:
    private = ec.generate_private_key(ec.SECP256R1())
    auth = bytes(range(16))
    sub = WebPushSubscription(
        "https://push.example.net/p/1",
        b64url_encode(public_bytes(private.public_key())),
        b64url_encode(auth),
    )
    return private, auth, sub


@pytest.mark.parametrize("size", [0, 1, 100, MAX_PLAINTEXT])
def test_round_trip_with_independent_http_ece(size: int) -> None:
    private, auth, sub = _browser()
    plaintext = bytes((i * 7) % 256 for i in range(size))
    body = encrypt_for(plaintext, sub)
    assert len(body) == 86 + size + 1 + 16
    assert (
        http_ece.decrypt(body, private_key=private, auth_secret=auth, version="aes128gcm")
        == plaintext
    )


def test_fresh_salt_and_key_per_message() -> None:
    _, _, sub = _browser()
    bodies = [encrypt_for(b"same", sub) for _ in range(5)]
    assert len({b[:16] for b in bodies}) == 5  # salts
    assert len({b[21:86] for b in bodies}) == 5  # ephemeral public keys
    assert len({b[86:] for b in bodies}) == 5


def test_over_one_record_is_refused() -> None:
    _, _, sub = _browser()
    with pytest.raises(ValidationError, match="3993"):
        encrypt_for(b"x" * (MAX_PLAINTEXT + 1), sub)


@pytest.mark.parametrize(
    ("p256dh", "auth", "field"),
    [
        (b64url_encode(b"\x04" + b"\x00" * 10), b64url_encode(b"a" * 16), "p256dh"),
        (None, b64url_encode(b"a" * 15), "auth"),
        (b64url_encode(b"\x04" + b"\x01" * 64), b64url_encode(b"a" * 16), "p256dh"),
    ],
)
def test_bad_subscription_keys(p256dh: str | None, auth: str, field: str) -> None:
    good = _browser()[2].p256dh
    with pytest.raises(ValidationError) as info:
        receiver_keys(p256dh or good, auth)
    assert info.value.field == field


def test_padded_base64_is_accepted() -> None:
    _, _, sub = _browser()
    assert receiver_keys(sub.p256dh + "=", sub.auth + "==").auth == bytes(range(16))


# -- VAPID ----------------------------------------------------------------------------
def test_generate_load_and_match_keys() -> None:
    pair = generate_vapid_keys()
    assert len(b64url_decode(pair.public_key)) == 65
    assert vapid_keys_match(pair.private_key_pem, pair.public_key)
    assert load_vapid_keys(pair.private_key_pem) == pair
    assert not vapid_keys_match(pair.private_key_pem, generate_vapid_keys().public_key)
    assert "BEGIN" not in repr(pair)


def test_load_raw_base64url_private_key() -> None:
    pair = load_vapid_keys(V["as_private"])
    assert pair.public_key == V["as_public"]


def test_load_garbage_is_a_credential_error() -> None:
    with pytest.raises(CredentialError):
        load_vapid_keys(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")


def test_vapid_header_claims_and_signature() -> None:
    pair = generate_vapid_keys()
    signer = VapidSigner(pair.private_key_pem, "mailto:ops@example.com", clock=lambda: 1_000_000)
    header = signer.authorization("https://push.example.net:8443/wpush/v2/abc?x=1")
    token, key = header.removeprefix("vapid t=").split(", k=")
    assert key == pair.public_key
    assert jwt.get_unverified_header(token) == {"typ": "JWT", "alg": "ES256"}
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
    claims = jwt.decode(
        token,
        public,
        algorithms=["ES256"],
        audience="https://push.example.net:8443",
        options={"verify_exp": False},
    )
    assert claims == {
        "aud": "https://push.example.net:8443",
        "exp": 1_000_000 + 12 * 3600,
        "sub": "mailto:ops@example.com",
    }
    assert len(b64url_decode(token.split(".")[2])) == 64  # raw r‖s, not DER


def test_vapid_jwt_cached_per_origin_until_near_expiry() -> None:
    now = [1_000_000.0]
    signer = VapidSigner(
        generate_vapid_keys().private_key_pem, "mailto:a@b.c", clock=lambda: now[0]
    )
    first = signer.authorization("https://a.example/1")
    assert signer.authorization("https://a.example/2") == first
    assert signer.authorization("https://b.example/1") != first
    now[0] += 10 * 3600
    assert signer.authorization("https://a.example/3") == first
    now[0] += 1.5 * 3600  # less than an hour left: re-sign
    assert signer.authorization("https://a.example/3") != first


def test_vapid_lifetime_capped_at_24h() -> None:
    with pytest.raises(ValueError):
        VapidSigner(generate_vapid_keys().private_key_pem, "mailto:a@b.c", lifetime=24 * 3600 + 1)


@pytest.mark.parametrize(
    ("subject", "ok"),
    [
        ("mailto:ops@example.com", True),
        ("https://example.com/contact", True),
        ("mailto: <ops@example.com>", False),
        ("mailto:", False),
        ("ops@example.com", False),
        ("http://example.com", False),
        ("", False),
    ],
)
def test_subject_validation(subject: str, ok: bool) -> None:
    assert (subject_problem(subject) == "") is ok


def test_origin_of() -> None:
    assert origin_of("https://fcm.googleapis.com/fcm/send/abc") == "https://fcm.googleapis.com"
    assert origin_of("https://h.example:8443?x=1") == "https://h.example:8443"
    assert origin_of("http://127.0.0.1:9#frag") == "http://127.0.0.1:9"
    assert origin_of("https://h.example") == "https://h.example"
    for bad in ("not-a-url", "https://", "ftp://h.example/x"):
        with pytest.raises(ValidationError):
            origin_of(bad)
