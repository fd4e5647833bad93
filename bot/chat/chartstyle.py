"""The look of every chart: phone-sized PNGs, a colour-blind-safe palette, a font per language.

Telegram shows photos up to 1280 px wide and a phone shows them about 390 px wide, so a
picture is drawn 6.4 in wide at 200 dpi and its smallest text is 14.5 pt (40 px: 12 px on the
phone). Chinese needs a CJK font; the first of `CJK_FONTS` that is installed is used (the
Debian package fonts-noto-cjk, which `make test` and the Dockerfile install, provides the
first; WenQuanYi is the fallback many Linux systems carry).
"""

from __future__ import annotations

import contextlib
import functools
import glob
import io
from collections.abc import Iterator
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")

from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imsave

WIDTH_IN, DPI = 6.4, 200  # 1280 px
PNG_LEVEL = 1  # zlib's fastest: a chart's flat colours pack to ~420 kB even so (~370 kB at 6)
SMALL, BODY, TITLE = 14.5, 15.5, 17.5  # points: 40, 43 and 49 px (12+ px on a phone)
# Okabe & Ito: told apart with every common colour-vision deficiency.
BLUE, ORANGE, VERMILLION, SKY, GREEN, GREY = (
    "#0072B2", "#E69F00", "#D55E00", "#56B4E9", "#009E73", "#767676")
YELLOW, PURPLE, INK = "#F0E442", "#CC79A7", "#222222"
SHADE = "#E69F00"  # firing periods, at low alpha
REGIME_ALPHA = 0.3
# One colour per regime of the default rules (other regimes: OTHER_REGIMES in turn). Neutral is
# left unshaded (white); undetermined is hatched, so "we cannot tell" never looks like a claim.
REGIME_COLORS = {
    "easing_into_bubble": ORANGE, "easing_into_downturn": SKY, "easing_mixed": YELLOW,
    "tightening_into_bubble": VERMILLION, "tightening_into_downturn": BLUE,
    "tightening_mixed": PURPLE, "holding_into_bubble": GREEN, "holding_into_downturn": GREY,
    "neutral": "#FFFFFF", "undetermined": "none",
}
OTHER_REGIMES = (GREEN, PURPLE, SKY, YELLOW, GREY)
# Chart-only words (the chat's phrases are in bot/i18n).
CJK_FONTS = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
    "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Droid Sans Fallback",
)


class NoCJKFont(RuntimeError):
    """No font that draws Chinese is installed (install fonts-noto-cjk)."""


# Where Debian and most distributions put CJK fonts; matplotlib's cache may predate them.
FONT_GLOBS = ("/usr/share/fonts/**/*CJK*", "/usr/share/fonts/**/wqy*",
              "/usr/share/fonts/**/*SourceHan*", "/usr/share/fonts/**/NotoSansSC*",
              "/usr/local/share/fonts/**/*CJK*")


@functools.cache
def cjk_font() -> str | None:
    """The first installed font of `CJK_FONTS`, or None."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    if not installed & set(CJK_FONTS):
        for pattern in FONT_GLOBS:
            for path in sorted(glob.glob(pattern, recursive=True)):
                if path.lower().endswith((".ttf", ".otf", ".ttc")):
                    with contextlib.suppress(OSError, RuntimeError, ValueError):
                        font_manager.fontManager.addfont(path)
        installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def families(lang: str) -> list[str]:
    """Font families for `lang`: a CJK font first for Chinese (Latin glyphs included)."""
    if lang == "zh":
        found = cjk_font()
        if found is None:
            raise NoCJKFont("no CJK font installed; install fonts-noto-cjk (see CJK_FONTS)")
        return [found, "DejaVu Sans"]
    return ["DejaVu Sans"]


@contextlib.contextmanager
def style(lang: str) -> Iterator[None]:
    """Draw inside this: fonts for `lang`, sizes readable on a phone."""
    params: dict[str, Any] = {
        "font.family": families(lang),
        "font.size": BODY,
        "axes.titlesize": TITLE,
        "axes.labelsize": SMALL,
        "xtick.labelsize": SMALL,
        "ytick.labelsize": SMALL,
        "legend.fontsize": SMALL,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.unicode_minus": True,
    }
    with rc_context(params):  # type: ignore[arg-type]
        yield


def regime_color(regime_id: str, order: int = 0) -> str:
    """The regime's fill colour ("none" for undetermined, white for neutral)."""
    return REGIME_COLORS.get(regime_id, OTHER_REGIMES[order % len(OTHER_REGIMES)])


def figure(height_in: float) -> Figure:
    """A 1280 px wide figure, `height_in` inches (200 px each) tall."""
    return Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes, at the width the platforms show.

    One draw, laid out once (`savefig` lays a constrained figure out twice: a draw to place
    it, then the draw it prints).
    """
    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # type: ignore[no-untyped-call]
    buffer = io.BytesIO()
    imsave(buffer, np.asarray(canvas.buffer_rgba()), format="png",  # type: ignore[no-untyped-call]
           pil_kwargs={"compress_level": PNG_LEVEL})
    return buffer.getvalue()
