import pytest

from shared.whatsapp import errors


@pytest.mark.parametrize(
    ("status", "code", "cls", "retryable"),
    [
        (400, 131047, errors.OutsideCustomerWindow, False),
        (400, 131026, errors.RecipientUnavailable, False),
        (429, 130429, errors.RateLimited, True),
        (400, 131056, errors.RateLimited, True),
        (500, 131000, errors.ServiceUnavailable, True),
        (401, 190, errors.AuthenticationFailed, False),
        (403, 200, errors.AuthenticationFailed, False),
        (400, 100, errors.InvalidRequest, False),
        (503, 999999, errors.ServiceUnavailable, True),
    ],
)
def test_meta_error_codes_map_to_classes_that_say_if_a_retry_helps(status, code, cls, retryable) -> None:
    body = {
        "error": {"message": "x", "type": "OAuthException", "code": code, "error_data": {"details": "why"}}
    }
    error = errors.error_from_response(status, body)
    assert type(error) is cls
    assert error.retryable is retryable
    assert (error.code, error.details) == (code, "why")


def test_an_error_without_a_body_is_judged_by_its_http_status() -> None:
    assert errors.error_from_response(502, None).retryable
    assert not errors.error_from_response(400, "oops").retryable
