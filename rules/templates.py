"""The sandboxed Jinja2 environment for explanations, and a syntax check for `cyclewatch check`."""

from __future__ import annotations

from typing import Any

from jinja2 import TemplateError

from rules.model import Localized
from rules.sandbox import SANDBOX, BudgetExceeded, render_bounded

# A stand-in context for the trial render at check time: a template that blows its budget
# (a recursive macro, nested loops) is refused at load, not found out at the first alert.
TRIAL_CONTEXT: dict[str, Any] = {
    "rule": "rule", "state": "firing", "title": "Title", "headline": "Triggered",
    "as_of": "2026-01-02", "date": "2026-01-02", "value": 1.0, "threshold": 0.0,
    "distance": 1.0, "values": {}, "meaning": "", "falsify": "", "firing": True,
    "num": lambda value: str(value),
}


def template_problems(template: Localized | None) -> list[str]:
    """Syntax problems of a template, in every language it gives, and a blown budget."""
    if template is None:
        return []
    texts = [template] if isinstance(template, str) else list(template.values())
    problems = []
    for text in texts:
        try:
            SANDBOX.parse(text)
        except TemplateError as err:
            problems.append(f"template error: {err.message or err}")
            continue
        except (RecursionError, MemoryError):
            problems.append("template error: nested too deeply")
            continue
        try:
            render_bounded(text, dict(TRIAL_CONTEXT))
        except BudgetExceeded as err:
            problems.append(f"template over its budget: {err.message or err}")
        except Exception:
            pass
    return problems


__all__ = ["SANDBOX", "template_problems"]
