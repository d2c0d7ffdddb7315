"""X-Webhook-Hmac: HMAC-SHA512 of the raw body, hex, checked in constant time."""

from __future__ import annotations

import pytest

from shared.whatsapp.signature import InvalidSignature, MissingSignature
from shared.whatsapp.waha.signature import sign, verify_signature

BODY = b'{"event":"message","session":"default","engine":"WEBJS"}'


def test_the_signature_is_waha_s_documented_example() -> None:
    # waha-docs: key `my-secret-key` over this body.
    digest = sign("my-secret-key", BODY)
    assert digest.startswith("208f8a55") and digest.endswith("53fa89") and len(digest) == 128


def test_a_good_signature_passes_in_either_case() -> None:
    verify_signature("my-secret-key", BODY, sign("my-secret-key", BODY))
    verify_signature("my-secret-key", BODY, sign("my-secret-key", BODY).upper(), "SHA512")


@pytest.mark.parametrize(
    ("header", "algorithm", "error"),
    [
        (None, None, MissingSignature),
        ("", None, MissingSignature),
        ("0" * 128, None, InvalidSignature),
        (sign("another-key", BODY), None, InvalidSignature),
        (sign("my-secret-key", BODY + b" "), None, InvalidSignature),
        (sign("my-secret-key", BODY), "sha256", InvalidSignature),
    ],
)
def test_missing_or_wrong_signatures_are_refused(header, algorithm, error) -> None:
    with pytest.raises(error):
        verify_signature("my-secret-key", BODY, header, algorithm)


def test_no_key_never_passes() -> None:
    with pytest.raises(InvalidSignature):
        verify_signature("", BODY, sign("", BODY))
