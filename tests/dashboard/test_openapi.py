"""/openapi.json: a valid OpenAPI 3.1 document that describes every /api/ route, and the real
answers (successes and errors) match the schemas it gives for their status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate

from bot.app.dashboard import DashboardModel, DashboardRoutes
from bot.app.http import HttpServer, build_app
from bot.runtime.metrics import Metrics
from tests.dashboard.serving import healthy, serving

# (path template of the document, URL asked, status expected)
ASKED = [
    ("/api/regime", "/api/regime?lang=zh", 200),
    ("/api/regime", "/api/regime?as_of=2021-12-31", 200),
    ("/api/regime", "/api/regime?as_of=1800-01-01", 400),
    ("/api/regime", "/api/regime?as_of=yesterday", 400),
    ("/api/regime/history", "/api/regime/history?from=2019-01-01&to=2019-12-31", 200),
    ("/api/regime/history", "/api/regime/history?every=hour", 400),
    ("/api/rules", "/api/rules", 200),
    ("/api/rules/{rule}/chart", "/api/rules/qt_ends/chart", 200),
    ("/api/rules/{rule}/chart", "/api/rules/no_such_rule/chart", 404),
    ("/api/events", "/api/events?from=2019-01-01", 200),
    ("/api/series/{series}", "/api/series/WALCL?from=2025-06-01", 200),
    ("/api/series/{series}", "/api/series/NOPE", 404),
    ("/api/freshness", "/api/freshness", 200),
]


@pytest.fixture
async def base(model: DashboardModel) -> AsyncIterator[str]:
    async with serving(model) as url:
        yield url


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, str, Any]:
    async with http.get(url) as response:
        return response.status, response.content_type, await response.json()


def _check(spec: dict[str, Any], template: str, status: int, body: Any) -> None:
    described = spec["paths"][template]["get"]["responses"][str(status)]
    schema = {**described["content"]["application/json"]["schema"],
              "components": spec["components"]}  # so that #/components/... resolves
    Draft202012Validator(schema, format_checker=FormatChecker()).validate(body)


async def test_the_document_is_valid_and_describes_every_api_route(base: str) -> None:
    async with aiohttp.ClientSession() as http:
        status, kind, spec = await _get(http, base + "/openapi.json")
    assert (status, kind) == (200, "application/json")
    validate(spec)
    served = {p for p in DashboardRoutes(lambda: None).routes() if p.startswith("/api/")}
    assert served - {"/api/{path:.*}"} == set(spec["paths"])


async def test_real_answers_match_the_schemas_of_their_status(base: str) -> None:
    async with aiohttp.ClientSession() as http:
        _, _, spec = await _get(http, base + "/openapi.json")
        for template, url, expected in ASKED:
            status, kind, body = await _get(http, base + url)
            assert (status, kind) == (expected, "application/json"), url
            _check(spec, template, status, body)
        status, _, body = await _get(http, base + "/api/no/such/thing")
        assert status == 404 and body == {"error": "no such path"}


async def test_a_refused_token_and_no_rules_are_json_errors_too(model: DashboardModel) -> None:
    async with serving(model, "tok3n") as url, aiohttp.ClientSession() as http:
        status, _, body = await _get(http, url + "/api/rules")
        assert status == 401 and set(body) == {"error"}
    server = HttpServer(build_app(healthy, Metrics(), pages=DashboardRoutes(lambda: None).routes()),
                        "127.0.0.1:0")
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            status, _, body = await _get(http, f"http://127.0.0.1:{server.bound_port}/api/rules")
    finally:
        await server.stop()
    assert status == 503 and body == {"error": "no rules loaded yet"}


def test_the_schemas_refuse_what_the_api_never_sends() -> None:
    from bot.app.dashboard.openapi import describe

    spec = describe("0")
    with pytest.raises(Exception, match="error"):
        _check(spec, "/api/rules", 404, {"message": "no error key"})
    with pytest.raises(Exception, match="is not of type 'array'"):
        _check(spec, "/api/rules", 200, {"id": "qt_ends"})


async def test_a_method_the_api_does_not_take_is_a_json_405(base: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(base + "/api/regime", data=b"{}") as response:
            assert response.status == 405 and "GET" in response.headers["Allow"]
            assert set(await response.json()) == {"error"}
        async with http.post(base + "/", data=b"{}") as response:  # the page stays plain
            assert response.status == 405 and response.content_type == "text/plain"
