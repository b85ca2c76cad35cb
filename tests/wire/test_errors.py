"""Error bodies of every shape become the right LION error, with message, code and request id."""

from __future__ import annotations

import pytest

from lion import errors
from lion.wire._errors import api_error, error_info, request_id


@pytest.mark.parametrize(
    ("body", "message", "type_", "code", "status"),
    [
        # OpenAI and NIM's nested shape
        (b'{"error": {"message": "Incorrect API key", "type": "invalid_request_error", '
         b'"param": null, "code": "invalid_api_key"}}',
         "Incorrect API key", "invalid_request_error", "invalid_api_key", None),
        # NIM flat
        (b'{"object": "error", "message": "max_tokens too big", "type": "BadRequestError", '
         b'"param": null, "code": 400}', "max_tokens too big", "BadRequestError", "400", 400),
        # hosted NVIDIA gateway
        (b'{"status": 402, "title": "Payment Required", "detail": "Account is out of credits"}',
         "Payment Required: Account is out of credits", None, None, 402),
        (b'{"type": "about:blank", "status": 404, "title": "Not Found"}',
         "Not Found", "about:blank", None, 404),
        # FastAPI (llama-cpp-python), with a string and with a list detail
        (b'{"detail": "Invalid API key"}', "Invalid API key", None, None, None),
        (b'{"detail": [{"loc": ["body"], "msg": "field required"}]}',
         '[{"loc":["body"],"msg":"field required"}]', None, None, None),
        # bare string error, text and empty bodies
        (b'{"error": "model overloaded", "code": 503}', "model overloaded", None, "503", 503),
        (b"upstream connect error", "upstream connect error", None, None, None),
        (b"", "http None", None, None, None),
        (b"[1, 2]", "[1,2]", None, None, None),
    ],
)  # fmt: skip
def test_error_shapes(
    body: bytes, message: str, type_: str | None, code: str | None, status: int | None
) -> None:
    info = error_info(body)
    assert (info.message, info.type, info.code, info.status) == (message, type_, code, status)


def test_http_status_wins_over_the_body() -> None:
    info = error_info(b'{"object": "error", "message": "m", "code": 400}', status=422)
    assert info.status == 422


def test_quota() -> None:
    assert error_info(b'{"error": {"message": "q", "code": "insufficient_quota"}}').is_quota
    assert error_info(b'{"error": {"message": "q", "type": "insufficient_quota"}}').is_quota
    assert not error_info(b'{"error": {"message": "q", "code": "rate_limit_exceeded"}}').is_quota


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.AuthenticationError),
        (404, errors.BadRequestError),
        (409, errors.BadRequestError),
        (422, errors.BadRequestError),
        (429, errors.RateLimitError),
        (500, errors.ServerError),
        (503, errors.ServerError),
        (None, errors.APIError),
    ],
)
def test_status_picks_the_class(status: int | None, cls: type[errors.APIError]) -> None:
    err = api_error(
        error_info(b'{"error": {"message": "m", "code": "c"}}', status=status), request_id="r"
    )
    assert type(err) is cls
    assert isinstance(err, errors.WireError)
    assert isinstance(err, errors.LionError)
    assert (err.status, err.message, err.code, err.request_id) == (status, "m", "c", "r")
    assert "(request id r)" in str(err)


def test_request_id_headers() -> None:
    assert request_id({"x-request-id": "a"}) == "a"
    assert request_id({"nvcf-reqid": "b"}) == "b"
    assert request_id({}) is None


def test_long_messages_are_cut() -> None:
    assert len(error_info(b"x" * 10_000).message) == 2000
