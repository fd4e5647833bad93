"""The dashboard's GET routes: the page, /api/ JSON, PNG fallbacks and the bundled assets;
read-only, behind an optional token, with a strict Content-Security-Policy.

A date the data cannot answer (bot/evaluate/dates.py) is a one-line 400 before any work;
the work itself goes through a bounded queue per client and overall (gate.py)."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.app.dashboard.gate import Busy, WorkGate
from bot.app.dashboard.model import EVERY, HISTORY_START, DashboardModel, clamp_span, parse_day
from bot.app.dashboard.page import render
from bot.app.dashboard.texts import LANGS, pick_lang
from bot.evaluate.dates import insight_answerable

log = logging.getLogger("cyclewatch.dashboard")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STATIC = Path(__file__).parent / "static"
COOKIE = "cyclewatch_dashboard"
# No inline script or style, nothing from another host; the page only talks to this server.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


class BadRequest(ValueError):
    """A query the dashboard cannot answer (shown to the caller as is)."""


def _assets() -> dict[str, tuple[bytes, str]]:
    """Every bundled asset by URL path, read once (a few files, some 60 KB)."""
    found = {}
    for path in STATIC.rglob("*"):
        if path.is_file() and path.suffix in TYPES:
            found["/static/" + path.relative_to(STATIC).as_posix()] = (
                path.read_bytes(), TYPES[path.suffix])
    return found


def _secure(response: web.StreamResponse, cache: bool = False) -> web.StreamResponse:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "public, max-age=3600" if cache else "no-store"
    return response


def _json(body: object, status: int = 200) -> web.StreamResponse:
    text = json.dumps(body, ensure_ascii=False, allow_nan=False)
    return _secure(web.Response(text=text, status=status, content_type="application/json"))


def _lang(request: web.Request) -> str:
    return pick_lang(request.query.get("lang"), request.cookies.get("lang"),
                     request.headers.get("Accept-Language"))


def _day(request: web.Request, key: str, default: date) -> date:
    try:
        return parse_day(request.query.get(key), default)
    except ValueError:
        raise BadRequest(f"'{key}' must be a date, YYYY-MM-DD") from None


def _client(request: web.Request) -> str:
    return request.remote or "unknown"


def _error(request: web.Request, message: str, status: int) -> web.StreamResponse:
    """One line: JSON `{"error": ...}` under /api/, plain text for the page."""
    if request.path.startswith("/api/"):
        return _json({"error": message}, status=status)
    return _secure(web.Response(text=message + "\n", status=status))


class DashboardRoutes:
    """The handlers over a `DashboardModel` (`model_of` gives the current one, None while no
    rules are loaded); `token` None = open to anyone who can connect."""

    def __init__(self, model_of: Callable[[], DashboardModel | None],
                 token: str | None = None, gate: WorkGate | None = None) -> None:
        self.model_of = model_of
        self.token = token or None
        self.assets = _assets()
        self.gate = gate or WorkGate()

    @property
    def model(self) -> DashboardModel:
        """The current model; 503 while there are no rules to show."""
        found = self.model_of()
        if found is None:
            raise web.HTTPServiceUnavailable(text="no rules loaded yet")
        return found

    def routes(self) -> dict[str, Handler]:
        """GET path -> handler, every one of them behind the token check."""
        table: dict[str, Handler] = {
            "/": self.page,
            "/api/regime": self.api_regime,
            "/api/regime/history": self.api_history,
            "/api/rules": self.api_rules,
            "/api/rules/{rule}/chart": self.api_chart,
            "/api/events": self.api_events,
            "/api/series/{series}": self.api_series,
            "/api/freshness": self.api_freshness,
            "/chart/rule/{rule}.png": self.png_rule,
            "/feed.atom": self.feed,
            "/releases.ics": self.releases,
            "/static/{path:.+}": self.static,
            "/openapi.json": self.openapi,
            "/api/{path:.*}": self.api_unknown,  # last: only what no route above takes
        }
        return {path: self._guard(handler) for path, handler in table.items()}

    def _guard(self, handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            if self.token is not None:
                denied = self._check_token(request)
                if denied is not None:
                    return denied
            try:
                return await handler(request)
            except BadRequest as err:
                return _error(request, str(err), 400)
            except Busy as err:
                response = _error(request, str(err), err.status)
                response.headers["Retry-After"] = str(err.retry_after)
                return response
            except web.HTTPException as err:
                if err.status < 400 or not request.path.startswith("/api/"):
                    raise
                return _error(request, err.text or err.reason, err.status)
            except Exception:  # the page never shows an internal error; the log does
                log.exception("dashboard: %s failed", request.path)
                return _json({"error": "internal error"}, status=500)

        return guarded

    def _check_token(self, request: web.Request) -> web.StreamResponse | None:
        assert self.token is not None
        header = request.headers.get("Authorization", "")
        offered = [header[7:].strip() if header.lower().startswith("bearer ") else "",
                   request.cookies.get(COOKIE, ""), request.query.get("token", "")]
        if not any(o and hmac.compare_digest(o.encode(), self.token.encode()) for o in offered):
            response = _json({"error": "a dashboard token is required"}, status=401)
            response.headers["WWW-Authenticate"] = 'Bearer realm="cyclewatch"'
            return response
        if request.query.get("token"):  # trade the query token for a cookie, off the URL
            query = {k: v for k, v in request.query.items() if k != "token"}
            target = request.rel_url.with_query(query)
            response = web.Response(status=303, headers={"Location": str(target)})
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict",
                                path="/", max_age=30 * 86400)
            return _secure(response)
        return None

    async def _run(self, request: web.Request, compute: Callable[[], Any]) -> Any:
        return await self.gate.run(_client(request), compute)  # pandas work off the loop

    async def _date(self, request: web.Request, key: str, default: date) -> date:
        """The date asked for (`default` when none); a 400 when the data cannot answer it."""
        day = _day(request, key, default)
        if key not in request.query:
            return day
        insight = self.model.insight  # the first/last dates, cached per data version
        found = await asyncio.to_thread(insight_answerable, insight)
        if found is not None and found.refuses(day):
            raise BadRequest(f"'{key}' {day.isoformat()} is outside the data: they answer "
                             f"{found.first.isoformat()} to {found.until.isoformat()}")
        return day

    async def page(self, request: web.Request) -> web.StreamResponse:
        """The dashboard page in the asked language."""
        lang, as_of = _lang(request), await self._date(request, "as_of", self.model.today())
        html = await self._run(request, lambda: render(self.model, lang, as_of))
        response = _secure(web.Response(text=html, content_type="text/html"))
        if request.query.get("lang") in LANGS:  # the switch sticks for the next visit
            response.set_cookie("lang", lang, samesite="Strict", path="/", max_age=365 * 86400)
        return response

    async def api_regime(self, request: web.Request) -> web.StreamResponse:
        """The regime as of a date with its checklist."""
        lang, as_of = _lang(request), await self._date(request, "as_of", self.model.today())
        return _json(await self._run(request, lambda: self.model.regime(as_of, lang)))

    async def api_history(self, request: web.Request) -> web.StreamResponse:
        """The regime at each date from `from` to `to`, every day, week or month."""
        end = await self._date(request, "to", self.model.today())
        start = await self._date(request, "from", HISTORY_START)
        every = request.query.get("every", "month")
        if every not in EVERY:
            raise BadRequest("'every' must be day, week or month")
        try:
            clamp_span(start, end, every)
        except ValueError as err:
            raise BadRequest(str(err)) from None
        lang = _lang(request)
        return _json(await self._run(
            request, lambda: self.model.history(start, end, every, lang)))

    async def api_rules(self, request: web.Request) -> web.StreamResponse:
        """Every rule with its state, last transition and firing periods."""
        lang, as_of = _lang(request), await self._date(request, "as_of", self.model.today())
        return _json(await self._run(request, lambda: self.model.rules(as_of, lang)))

    def _rule_id(self, request: web.Request) -> str:
        rule = request.match_info["rule"]
        if rule not in {r.id for r in self.model.insight.ruleset.rules}:
            raise web.HTTPNotFound(text="no such rule")
        return rule

    async def api_chart(self, request: web.Request) -> web.StreamResponse:
        """The points of one rule's chart."""
        rule = self._rule_id(request)
        return _json(await self._run(request, lambda: self.model.chart(rule)))

    async def api_events(self, request: web.Request) -> web.StreamResponse:
        """Every transition of every rule, as `cyclewatch backtest --json`."""
        start = _day(request, "from", date.min)
        end = _day(request, "to", date.max)
        found = await self._run(request, self.model.events)
        return _json([e for e in found if start.isoformat() <= e["date"] <= end.isoformat()])

    async def api_series(self, request: web.Request) -> web.StreamResponse:
        """One input series' observations since `from`."""
        start = _day(request, "from", HISTORY_START)
        name = request.match_info["series"]
        found = await self._run(request, lambda: self.model.series(name, start))
        if found is None:
            raise web.HTTPNotFound(text="no such series")
        return _json(found)

    async def api_freshness(self, request: web.Request) -> web.StreamResponse:
        """Every input series' newest observation and staleness."""
        as_of = await self._date(request, "as_of", self.model.today())
        return _json(await self._run(request, lambda: self.model.freshness(as_of)))

    async def png_rule(self, request: web.Request) -> web.StreamResponse:
        """A rule's chart as a PNG, for pages viewed with JavaScript off."""
        from bot.chat.charts import rule_chart

        rule, today = self._rule_id(request), self.model.today()
        insight = self.model.insight

        def draw() -> bytes | None:
            version, data = insight.data()
            return rule_chart(data, insight.ruleset, rule, today, version)

        body = await self._run(request, draw)
        if body is None:
            raise web.HTTPNotFound(text="no chart")
        return _secure(web.Response(body=body, content_type="image/png"))

    async def feed(self, request: web.Request) -> web.StreamResponse:
        """Every alert as an Atom feed, newest first (bot/app/dashboard/feeds.py)."""
        from bot.app.dashboard.feeds import alerts_atom

        lang, model, base = _lang(request), self.model, f"{request.scheme}://{request.host}"
        body = await self._run(request, lambda: model.cached(
            ("feed", lang, base), lambda: alerts_atom(model._events(), lang, base)))
        return _secure(web.Response(body=body, content_type="application/atom+xml"))

    async def releases(self, request: web.Request) -> web.StreamResponse:
        """The coming releases and what each checks, as iCalendar."""
        from bot.app.dashboard.feeds import releases_ics
        from bot.chat.settings import checks_by_release
        from bot.ingest.calendar import ReleaseCalendar

        lang, model = _lang(request), self.model
        body = await self._run(request, lambda: releases_ics(
            ReleaseCalendar(), checks_by_release(model.insight.ruleset), model.today(), lang))
        return _secure(web.Response(body=body, content_type="text/calendar"))

    async def openapi(self, request: web.Request) -> web.StreamResponse:
        """The OpenAPI description of /api/ (bot/app/dashboard/openapi.py)."""
        from bot.app.dashboard.openapi import describe
        from bot.config import package_version

        return _json(describe(package_version()))

    async def api_unknown(self, request: web.Request) -> web.StreamResponse:
        """A JSON 404 for a path under /api/ that no route takes."""
        raise web.HTTPNotFound(text="no such path")

    async def static(self, request: web.Request) -> web.StreamResponse:
        """A bundled asset (the charting library, the script, the style sheet)."""
        found = self.assets.get(request.path)
        if found is None:
            raise web.HTTPNotFound(text="not found")
        body, kind = found
        return _secure(web.Response(body=body, content_type=kind), cache=True)
