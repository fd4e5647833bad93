"""The dashboard's own words in English and Chinese, and the language a request asks for."""

from __future__ import annotations

LANGS = ("en", "zh")
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "cyclewatch — the debt cycle at a glance",
        "now_determined": "As of {as_of}, the regime is {name}{since}.",
        "since": ", since {since}",
        "now_undetermined": "As of {as_of}, the regime is undetermined: a gauge that could "
                            "change the verdict is unknown. Provisional reading: {provisional}.",
        "last_determined": "Last determined: {name} ({since} to {until}).",
        "none": "none",
        "checklist": "Checklist",
        "gauge": "Gauge", "leg": "Leg", "value": "Value", "as_of": "As of",
        "freshness": "Freshness", "on": "on", "off": "off", "unknown": "unknown",
        "days_old": "{days} days old",
        "timeline": "Regime timeline since 1990",
        "timeline_hint": "Hover or tap the band: the month, its regime and the milestones "
                         "that fired.",
        "milestones": "Milestones",
        "state_firing": "firing since {since}", "state_pending": "pending",
        "state_inactive": "not firing", "state_skipped": "skipped: {reason}",
        "last_resolved": "last resolved {date}", "last_fired": "last fired {date}",
        "never_fired": "never fired since 1990",
        "meaning": "What it means", "falsify": "What would prove it wrong",
        "threshold": "threshold", "firing_periods": "firing periods",
        "data": "Data freshness",
        "series": "Series", "source": "Source", "newest": "Newest", "age": "Age",
        "stale": "stale", "fresh": "fresh", "missing": "no data",
        "json": "JSON", "png": "chart (PNG)",
        "switch": "中文", "footer": "Read-only. Data version {version}.",
        "events": "Events", "regime": "Regime", "month": "Month",
        "why_unknown": "Why it is undetermined",
    },
    "zh": {
        "title": "cyclewatch — 债务周期一览",
        "now_determined": "截至 {as_of}，当前体制为：{name}{since}。",
        "since": "，自 {since} 起",
        "now_undetermined": "截至 {as_of}，体制无法判定：有可能改变结论的指标未知。"
                            "暂定判断：{provisional}。",
        "last_determined": "上次判定：{name}（{since} 至 {until}）。",
        "none": "无",
        "checklist": "检查清单",
        "gauge": "指标", "leg": "依据", "value": "数值", "as_of": "截至",
        "freshness": "新鲜度", "on": "是", "off": "否", "unknown": "未知",
        "days_old": "{days} 天前",
        "timeline": "1990 年以来的体制时间线",
        "timeline_hint": "悬停或点按色带：查看月份、体制以及当月触发的里程碑。",
        "milestones": "里程碑",
        "state_firing": "自 {since} 起触发", "state_pending": "待定",
        "state_inactive": "未触发", "state_skipped": "已跳过：{reason}",
        "last_resolved": "上次解除于 {date}", "last_fired": "上次触发于 {date}",
        "never_fired": "1990 年以来从未触发",
        "meaning": "含义", "falsify": "什么会证明它错了",
        "threshold": "阈值", "firing_periods": "触发区间",
        "data": "数据新鲜度",
        "series": "序列", "source": "来源", "newest": "最新", "age": "时长",
        "stale": "过期", "fresh": "新鲜", "missing": "无数据",
        "json": "JSON", "png": "图表（PNG）",
        "switch": "English", "footer": "只读。数据版本 {version}。",
        "events": "事件", "regime": "体制", "month": "月份",
        "why_unknown": "为何无法判定",
    },
}


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
