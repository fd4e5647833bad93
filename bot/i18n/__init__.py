"""Fixed phrases in English and Simplified Chinese: `text(lang, key, **values)`.

The phrases live in en.yaml and zh.yaml beside this file, written by hand (no machine
translation at run time). A key missing in a language falls back to English.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

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


def text(lang: str, key: str, **values: object) -> str:
    """The phrase `key` in `lang` with `values` filled in (English when `lang` lacks it)."""
    table = phrases(lang) if lang in LANGUAGES else phrases(DEFAULT_LANGUAGE)
    template = table.get(key) or phrases(DEFAULT_LANGUAGE)[key]
    return template.format(**values) if values else template
