"""The header facts of a notice: issuer, title, group, dates and the totals it states.

Dates skip "截至…" cut-offs; stated totals count what was identified, never progress.
"""

import re
from datetime import date

from flows.notice.lines import (
    INSPECTION_WORDS,
    NUMBER,
    SENTENCE_END,
    SIGNATURE,
    TITLE_END,
    cn_to_int,
    outline_match,
)

# Dates.
DATE = re.compile(r"(?:(?P<y>\d{4})\s*年\s*)?(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]")
DATE_RANGE = re.compile(
    r"(?P<y1>\d{4})\s*年\s*(?P<m1>\d{1,2})\s*月\s*(?P<d1>\d{1,2})\s*[日号]\s*(?:起)?\s*"
    r"(?:至|到|—+|–|－|-|~|～)\s*"
    r"(?:(?P<y2>\d{4})\s*年\s*)?(?:(?P<m2>\d{1,2})\s*月\s*)?(?P<d2>\d{1,2})\s*[日号]"
)
# "截至2025年6月底", "截止到6月30日": a cut-off, never a date of the inspection.
CUTOFF = re.compile(
    r"(?:截至|截止(?:到|至)?)\s*(?:目前|\d{4}\s*年)?\s*(?:\d{1,2}\s*月)?\s*"
    r"(?:\d{1,2}\s*[日号]|底|末|初|中旬|上旬|下旬)?"
)
PUBLICATION = re.compile(r"(?:公开|公示)(?:期限|期|时间|日期)\s*(?:为)?\s*[：:]?\s*(?:自|从)?")
PUBLICATION_WORDS = re.compile(r"公开|公示")

GROUP_NUMBERED = re.compile(
    rf"(?:中央|[省市县区州盟旗]委)?第{NUMBER}(?:巡察|巡视)组"
    rf"|(?:中央|[省市县区州盟旗]委)(?:巡察|巡视)第?{NUMBER}组"
)
GROUP_PLAIN = re.compile(r"(?:中央|[省市县区州盟旗]委)(?:巡察|巡视)组")

# Stated totals. The first matching phrase of each kind wins.
_COUNT = rf"(?P<n>{NUMBER})\s*[项条个]"
_TASK_NOUN = "(?:整改任务|整改事项|整改问题)"
STATED_AREAS_AND_TASKS = re.compile(
    rf"(?P<a>{NUMBER})\s*个\s*方面\s*(?:的|共)?\s*(?P<n>{NUMBER})\s*[项条个]\s*(?:具体)?\s*"
    rf"(?:{_TASK_NOUN}|问题)"
)
STATED_AREAS = [re.compile(rf"(?P<n>{NUMBER})\s*个\s*方面")]
STATED_TASKS = [
    re.compile(rf"{_COUNT}\s*(?:具体)?\s*{_TASK_NOUN}"),
    re.compile(rf"{_TASK_NOUN}\s*(?:共)?\s*{_COUNT}"),
    re.compile(rf"(?:反馈|指出|发现|交办|梳理出?)的?(?:具体)?问题\s*(?:共)?\s*{_COUNT}"),
    re.compile(
        rf"(?:反馈|指出|发现|交办|梳理出?)(?:了|的|出)?\s*(?:共)?\s*{_COUNT}\s*(?:具体)?问题"
    ),
    re.compile(rf"{_COUNT}\s*(?:具体)?问题"),
]
STATED_MEASURES = [
    re.compile(rf"{_COUNT}\s*(?:具体)?\s*整改措施"),
    re.compile(rf"整改措施\s*(?:共)?\s*{_COUNT}"),
]
# Words just before a count that make it a count of progress, not of what was identified.
PROGRESS_BEFORE = re.compile(r"已|完成|销号|剩余|未|尚|正在|到位|其中|达到|达")
STATED_CONTEXT = re.compile(r"整改|反馈|巡察|巡视")


def _make_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _range_dates(match: re.Match[str]) -> tuple[date | None, date | None]:
    """Both ends of a "2024年4月12日至7月12日" range; the second may omit year and month."""
    y1, m1, d1 = int(match["y1"]), int(match["m1"]), int(match["d1"])
    start = _make_date(y1, m1, d1)
    m2 = int(match["m2"]) if match["m2"] else m1
    d2 = int(match["d2"])
    if match["y2"]:
        return start, _make_date(int(match["y2"]), m2, d2)
    end = _make_date(y1, m2, d2)
    if start and end and end < start:  # "11月5日至1月20日" crosses the new year
        end = _make_date(y1 + 1, m2, d2)
    return start, end


def _mask_cutoffs(text: str) -> str:
    """Blank out "截至2025年6月30日" phrases so their dates are never read as facts."""
    return CUTOFF.sub(lambda m: " " * len(m[0]), text)


def _is_short_heading(line: str) -> bool:
    return len(line) <= 40 and not SENTENCE_END.search(line) and not outline_match(line)


def issuer_and_title(lines: list[str]) -> tuple[str | None, str | None]:
    """The notice's title ("关于…的通报") and the Party organisation issuing it.

    The issuer is the line above the title, or the title's own opening ("中共…党组关于…"),
    or failing both the signature at the end.
    """
    issuer = title = None
    for index, line in enumerate(lines[:8]):
        if len(line) > 80 or re.search(r"[。；;！!？?]", line) or "关于" not in line:
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if (
            not line.endswith(("通报", "公告"))
            and _is_short_heading(following)
            and "关于" not in following
            and following.endswith(("通报", "公告", "报告", "情况", "公示"))
        ):
            line += following  # a long title broken over two lines
        if not TITLE_END.search(line):
            continue
        prefix, _, rest = line.partition("关于")
        title = "关于" + rest
        if prefix.strip():
            issuer = prefix.strip()
        elif index > 0 and _is_short_heading(lines[index - 1]):
            issuer = lines[index - 1]
        break
    if title is None:  # no "关于…" title: the first line is the issuer, as printed
        first = lines[0]
        issuer = first if _is_short_heading(first) and not first.endswith("通报") else None
        second = lines[1] if len(lines) > 1 else ""
        title = second if second.endswith("通报") else (first if first.endswith("通报") else None)
    if issuer is None:
        issuer = next((line for line in reversed(lines[-4:]) if SIGNATURE.match(line)), None)
    return issuer, title


def publication_period(lines: list[str]) -> tuple[date | None, date | None]:
    for line in lines:
        for label in PUBLICATION.finditer(line):
            match = DATE_RANGE.search(_mask_cutoffs(line), label.end())
            if match:
                return _range_dates(match)
    return None, None


def inspection_period(sentences: list[str]) -> tuple[date | None, date | None]:
    """The period comes from the first sentence about the inspection carrying a date range."""
    for sentence in sentences:
        if not INSPECTION_WORDS.search(sentence) or PUBLICATION_WORDS.search(sentence):
            continue
        match = DATE_RANGE.search(_mask_cutoffs(sentence))
        if match:
            return _range_dates(match)
    return None, None


def feedback_date(sentences: list[str], year_hint: int | None) -> date | None:
    """The date of the first sentence mentioning 反馈, taken next to that word.

    Ranges in the same sentence (the inspection period) and cut-offs ("截至…") are
    ignored; a date without a year borrows the year of the inspection.
    """
    for sentence in sentences:
        anchor = sentence.find("反馈")
        if anchor < 0:
            continue
        masked = DATE_RANGE.sub(lambda m: " " * len(m[0]), _mask_cutoffs(sentence))
        dates = list(DATE.finditer(masked))
        if not dates:
            continue
        before = [m for m in dates if m.start() < anchor]
        chosen = before[-1] if before else dates[0]
        year = int(chosen["y"]) if chosen["y"] else year_hint
        if year is None:
            continue
        return _make_date(year, int(chosen["m"]), int(chosen["d"]))
    return None


def inspection_group(text: str) -> str | None:
    match = GROUP_NUMBERED.search(text) or GROUP_PLAIN.search(text)
    return match[0] if match else None


def _first_count(patterns: list[re.Pattern[str]], text: str) -> int | None:
    for pattern in patterns:
        for match in pattern.finditer(text):
            if PROGRESS_BEFORE.search(text[max(0, match.start() - 4) : match.start()]):
                continue
            value = cn_to_int(match["n"])
            if value:
                return value
    return None


def stated_totals(sentences: list[str]) -> tuple[int | None, int | None, int | None]:
    """Totals the notice states about itself, e.g. "明确了9个方面36项整改任务".

    Only sentences about the inspection and its rectification are searched (and never
    the task items themselves), so an unrelated "两个方面" is not taken for the areas.
    """
    relevant = "。".join(s for s in sentences if STATED_CONTEXT.search(s))
    areas = tasks = None
    for combined in STATED_AREAS_AND_TASKS.finditer(relevant):
        if not PROGRESS_BEFORE.search(relevant[max(0, combined.start() - 4) : combined.start()]):
            areas, tasks = cn_to_int(combined["a"]), cn_to_int(combined["n"])
            break
    if areas is None:
        areas = _first_count(STATED_AREAS, relevant)
    if tasks is None:
        tasks = _first_count(STATED_TASKS, relevant)
    return areas, tasks, _first_count(STATED_MEASURES, relevant)
