"""The dashboard's words (bot/i18n, keys `dash_*`) and the language a request asks for."""

from __future__ import annotations

from bot.i18n import phrases

LANGS = ("en", "zh")
PREFIX = "dash_"  # the dashboard's phrases in bot/i18n/<lang>.yaml


def words(lang: str) -> dict[str, str]:
    """The dashboard's phrases in `lang` by short key (`title`, ...), English where missing."""
    merged = {**phrases("en"), **phrases(lang)}
    return {k[len(PREFIX):]: v for k, v in merged.items() if k.startswith(PREFIX)}


def pick_lang(query: str | None, cookie: str | None, accept: str | None) -> str:
    """`?lang=`, else the `lang` cookie, else the best of Accept-Language, else English."""
    for choice in (query, cookie):
        if choice in LANGS:
            return choice
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGS and quality > 0:
            ranked.append((-quality, index, primary))
    return sorted(ranked)[0][2] if ranked else "en"
