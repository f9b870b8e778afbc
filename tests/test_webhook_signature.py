"""X-Hub-Signature verification: the published vector, rotation, and malformed headers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jira_console.webhooks.signature import sign, verify_signature

VECTOR_SECRET = b"It's a Secret to Everybody"
VECTOR_BODY = b"Hello World!"
VECTOR_HEADER = "sha256=a4771c39fbe90f317c7824e83ddef3caae9cb3d976c214ace1f2937e133263c9"


def test_published_vector_signs_and_verifies() -> None:
    assert sign(VECTOR_BODY, VECTOR_SECRET) == VECTOR_HEADER
    assert verify_signature(VECTOR_BODY, VECTOR_HEADER, [VECTOR_SECRET]) == 0


def test_uppercase_hex_and_algorithm_accepted() -> None:
    algo, _, digest = VECTOR_HEADER.partition("=")
    assert verify_signature(VECTOR_BODY, f"{algo.upper()}={digest.upper()}", [VECTOR_SECRET]) == 0


def test_rotation_accepts_previous_secret_and_says_which() -> None:
    new, old = b"new-secret-2", VECTOR_SECRET
    assert verify_signature(VECTOR_BODY, VECTOR_HEADER, [new, old]) == 1
    assert verify_signature(VECTOR_BODY, sign(VECTOR_BODY, new), [new, old]) == 0
    assert verify_signature(VECTOR_BODY, VECTOR_HEADER, [new]) is None


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha1=" + "0" * 40,
        "sha256=" + "zz" * 32,
        "sha256=" + "ab" * 31,
        VECTOR_HEADER[:-1] + ("0" if VECTOR_HEADER[-1] != "0" else "1"),
        VECTOR_HEADER.removeprefix("sha256="),
    ],
)
def test_bad_headers_fail(header: str | None) -> None:
    assert verify_signature(VECTOR_BODY, header, [VECTOR_SECRET]) is None


def test_no_secrets_never_verifies() -> None:
    assert verify_signature(VECTOR_BODY, VECTOR_HEADER, []) is None


def test_tampered_body_fails() -> None:
    assert verify_signature(VECTOR_BODY + b" ", VECTOR_HEADER, [VECTOR_SECRET]) is None


@given(body=st.binary(max_size=512), secret=st.binary(min_size=1, max_size=64), flip=st.integers(0, 511))
def test_roundtrip_and_any_bit_flip_fails(body: bytes, secret: bytes, flip: int) -> None:
    header = sign(body, secret)
    assert verify_signature(body, header, [secret]) == 0
    if body:
        index = flip % len(body)
        tampered = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]
        assert verify_signature(tampered, header, [secret]) is None
