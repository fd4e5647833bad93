"""The sandboxed Jinja2 environment for explanations, and a syntax check for `cyclewatch check`."""

from __future__ import annotations

from jinja2 import TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment

from rules.model import Localized

SANDBOX = SandboxedEnvironment(autoescape=False, undefined=Undefined)


def template_problems(template: Localized | None) -> list[str]:
    """Syntax problems of a template, in every language it gives."""
    if template is None:
        return []
    texts = [template] if isinstance(template, str) else list(template.values())
    problems = []
    for text in texts:
        try:
            SANDBOX.parse(text)
        except TemplateError as err:
            problems.append(f"template error: {err.message or err}")
    return problems
