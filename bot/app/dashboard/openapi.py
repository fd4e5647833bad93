"""The OpenAPI 3.1 description of the dashboard's JSON (`GET /openapi.json`), written by hand
beside the routes it describes; tests/dashboard/test_openapi.py checks it against the real
answers. Every error under /api/ is `{"error": "..."}`."""

from __future__ import annotations

from typing import Any

from bot.app.dashboard.texts import LANGS

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: dict[str, Schema], **optional: Schema) -> Schema:
    """An object with these required properties (more may come: clients ignore them)."""
    return {"type": "object", "required": sorted(required),
            "properties": {**required, **optional}}


def _maybe(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


STR: Schema = {"type": "string"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
INT: Schema = {"type": "integer"}
DATE: Schema = {"type": "string", "format": "date"}
DATES: Schema = {"type": "array", "items": DATE}
PERIOD: Schema = {"type": "array", "prefixItems": [DATE, _maybe(DATE)], "minItems": 2,
                  "maxItems": 2, "description": "[started firing, resolved or null]"}

SCHEMAS: dict[str, Schema] = {
    "Error": {"type": "object", "required": ["error"], "additionalProperties": False,
              "properties": {"error": {"type": "string", "description": "one line, for people"}}},
    "Check": _obj({"id": STR, "kind": STR, "on": _maybe(BOOL), "title": STR,
                   "value": _maybe(NUM), "threshold": _maybe(NUM), "detail": STR},
                  legs={"type": "array", "items": _obj({"title": STR, "on": _maybe(BOOL)})},
                  sources={"type": "array", "items": STR}, age_days=_maybe(INT)),
    "Gone": _obj({"id": STR, "last": DATE}),
    "Regime": _obj({"regime": STR, "name": STR, "title": STR, "as_of": DATE,
                    "determined": BOOL, "since": _maybe(DATE),
                    "checks": {"type": "array", "items": _ref("Check")},
                    "no_longer_published": {"type": "array", "items": _ref("Gone")}},
                   reasons={"type": "array", "items": STR},  # while undetermined
                   waiting_for={"type": "array", "items": STR},
                   provisional=_maybe(STR), numbers={"type": "object"}),
    "RegimeAt": _obj({"regime": STR, "title": STR, "as_of": DATE, "determined": BOOL,
                      "since": _maybe(DATE),
                      "no_longer_published": {"type": "array", "items": _ref("Gone")}}),
    "History": _obj({"from": DATE, "to": DATE, "every": {"enum": ["day", "week", "month"]},
                     "data_version": STR, "items": {"type": "array", "items": _ref("RegimeAt")},
                     "names": {"type": "object", "additionalProperties": STR}}),
    "Event": _obj({"rule": STR, "state": {"enum": ["firing", "resolved"]}, "date": DATE,
                   "value": _maybe(NUM), "threshold": _maybe(NUM), "title": STR,
                   "severity": STR, "values": {"type": "object",
                                               "additionalProperties": _maybe(NUM)},
                   "since": _maybe(DATE)},
                  as_of=_maybe(DATE), observed=_maybe(DATE), unit=_maybe(STR),
                  announced=_maybe({"type": "string", "format": "date-time"})),
    "Rule": _obj({"id": STR, "title": STR, "severity": STR, "state": STR,
                  "since": _maybe(DATE), "last_transition": _maybe(_ref("Event")),
                  "periods": {"type": "array", "items": PERIOD}, "one_off": BOOL,
                  "events": DATES, "check": _ref("Check")},
                 unit=_maybe(STR), meaning=_maybe(STR), falsify=_maybe(STR)),
    "Chart": _obj({"rule": STR, "kind": STR, "unit": _maybe(STR), "threshold": _maybe(NUM),
                   "dates": DATES, "values": {"type": "array", "items": _maybe(NUM)},
                   "periods": {"type": "array", "items": PERIOD}, "events": DATES,
                   "data_version": STR}),
    "Series": _obj({"id": STR, "name": STR, "source": STR, "title": STR, "unit": _maybe(STR),
                    "dates": DATES, "values": {"type": "array", "items": _maybe(NUM)}}),
    "Freshness": _obj({"id": STR, "name": STR, "source": STR, "title": STR,
                       "newest": _maybe(DATE), "age_days": _maybe(INT),
                       "stale": _maybe(STR)}, fresh_window=_maybe(STR)),
}


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def _path(name: str, description: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": STR,
            "description": description}


LANG = _query("lang", {"enum": list(LANGS)}, "language of the texts (else the cookie, else "
              "Accept-Language)")
AS_OF = _query("as_of", DATE, "the day to answer for (default today); 400 outside the data")
FROM, TO = _query("from", DATE, "first day"), _query("to", DATE, "last day")
ERRORS = {
    "400": "a query the data cannot answer (a bad date, a span too long)",
    "401": "a dashboard token is required (CYCLEWATCH_DASHBOARD_TOKEN)",
    "404": "no such rule, series or path",
    "429": "this client has too much work queued (Retry-After)",
    "500": "internal error (details in the service's log)",
    "503": "no rules loaded yet, or the server is busy (Retry-After)",
}


def _get(summary: str, body: Schema, *params: Schema) -> Schema:
    responses: dict[str, Schema] = {
        "200": {"description": "OK", "content": {"application/json": {"schema": body}}}}
    for status, why in ERRORS.items():
        responses[status] = {"description": why,
                             "content": {"application/json": {"schema": _ref("Error")}}}
    return {"get": {"summary": summary, "parameters": list(params), "responses": responses}}


def describe(version: str) -> Schema:
    """The whole OpenAPI document for the service's `version`."""
    rule = _path("rule", "a rule id of rules.yaml")
    return {
        "openapi": "3.1.0",
        "info": {"title": "cyclewatch dashboard API", "version": version,
                 "description": "Read-only JSON behind the dashboard (docs/dashboard.md)."},
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer",
                                          "description": "only when a token is configured"}},
        },
        "paths": {
            "/api/regime": _get("The regime on a day, with its checklist", _ref("Regime"),
                                AS_OF, LANG),
            "/api/regime/history": _get(
                "The regime at each date of a span", _ref("History"), FROM, TO, LANG,
                _query("every", {"enum": ["day", "week", "month"]}, "step (default month)")),
            "/api/rules": _get("Every rule with its state and firing periods",
                               {"type": "array", "items": _ref("Rule")}, AS_OF, LANG),
            "/api/rules/{rule}/chart": _get("The points of one rule's chart", _ref("Chart"),
                                            rule),
            "/api/events": _get("Every transition over history (cyclewatch backtest --json)",
                                {"type": "array", "items": _ref("Event")}, FROM, TO),
            "/api/series/{series}": _get(
                "One input series' observations", _ref("Series"),
                _path("series", "a series id (WALCL) or its name in rules.yaml"), FROM),
            "/api/freshness": _get("Every input's newest observation and staleness",
                                   {"type": "array", "items": _ref("Freshness")}, AS_OF),
        },
    }
