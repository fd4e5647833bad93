"""Fixed phrases in English and Simplified Chinese: `text(lang, key, **values)`.

The phrases live in en.yaml and zh.yaml beside this file, written by hand (no machine
translation at run time). A key missing in a language falls back to English.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"


@cache
def phrases(lang: str) -> dict[str, str]:
    """Every phrase of `lang` (a flat mapping key -> format string)."""
    path = Path(__file__).with_name(f"{lang}.yaml")
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
        raise ValueError(f"{path}: expected a flat mapping of key: text")
    return {str(k): v for k, v in loaded.items()}


def normalize(lang: str | None) -> str:
    """A supported language for a platform language code ('zh-hans' -> 'zh', None -> 'en')."""
    code = (lang or "").strip().lower()
    if code.startswith("zh"):
        return "zh"
    return DEFAULT_LANGUAGE


# A zone for a platform language code where the language has one obvious zone; languages
# spoken across many zones (en, es, pt, ru, ar, ...) get none and use CYCLEWATCH_TZ.
_ZONES = {
    "zh": "Asia/Shanghai", "zh-cn": "Asia/Shanghai", "zh-hans": "Asia/Shanghai",
    "zh-sg": "Asia/Singapore", "zh-tw": "Asia/Taipei", "zh-hant": "Asia/Taipei",
    "zh-hk": "Asia/Hong_Kong", "zh-mo": "Asia/Macau", "ja": "Asia/Tokyo", "ko": "Asia/Seoul",
    "vi": "Asia/Ho_Chi_Minh", "th": "Asia/Bangkok", "de": "Europe/Berlin",
    "fr": "Europe/Paris", "it": "Europe/Rome", "nl": "Europe/Amsterdam", "pl": "Europe/Warsaw",
    "uk": "Europe/Kyiv", "tr": "Europe/Istanbul", "he": "Asia/Jerusalem",
}


def default_zone(language_code: str | None) -> str | None:
    """The IANA zone a new chat gets from its language code ('zh-hans' -> Asia/Shanghai)."""
    code = (language_code or "").strip().lower().replace("_", "-")
    return _ZONES.get(code) or _ZONES.get(code.split("-")[0]) if code else None


def when(lang: str, at: datetime, tz: ZoneInfo) -> str:
    """An instant as the chat reads it: 'Thu 2026-06-18 02:00 CST (Asia/Shanghai)'."""
    local = at.astimezone(tz)
    weekday = text(lang, f"weekday_{local.weekday()}")
    return text(lang, "when", day=local.date().isoformat(), weekday=weekday,
                clock=f"{local:%H:%M}", abbr=local.tzname() or "", zone=tz.key)


def text(lang: str, key: str, **values: object) -> str:
    """The phrase `key` in `lang` with `values` filled in (English when `lang` lacks it)."""
    table = phrases(lang) if lang in LANGUAGES else phrases(DEFAULT_LANGUAGE)
    template = table.get(key) or phrases(DEFAULT_LANGUAGE)[key]
    return template.format(**values) if values else template
