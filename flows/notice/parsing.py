"""The parser's entry point: clean lines, find the ledger, read the facts, check totals."""

from flows.notice.facts import (
    feedback_date,
    inspection_group,
    inspection_period,
    issuer_and_title,
    publication_period,
    stated_totals,
)
from flows.notice.lines import clean_lines, split_sentences
from flows.notice.parsed import NotANotice, ParsedNotice
from flows.notice.structure import build_areas, find_body


def _total_warnings(notice: ParsedNotice) -> list[str]:
    """Compare what the text says about itself with what was found."""
    checks = [
        (notice.stated_areas, len(notice.areas), "个方面", "个"),
        (notice.stated_tasks, notice.task_count, "项整改任务", "项"),
        (notice.stated_measures, notice.measure_count, "条整改措施", "条"),
    ]
    return [
        f"通报载明{stated}{noun}，实际识别{found}{unit}"
        for stated, found, noun, unit in checks
        if stated is not None and stated != found
    ]


def parse_notice(text: str) -> ParsedNotice:
    """Parse a notice's text into its header facts and its area → task → measure ledger.

    Raises NotANotice when no area/task structure is found, so an import never creates
    an empty ledger.
    """
    lines = clean_lines(text)
    if not lines:
        raise NotANotice("这不是整改通报：内容为空")
    body = find_body(lines)
    areas, warnings = build_areas(body)
    if body.flattened:
        warnings.insert(0, "“（一）…”各项均为具体问题，没有方面标题，已将全部整改任务归入一个方面")
    elif body.implicit:
        warnings.insert(0, "未识别到“（一）…”形式的方面标题，已将全部整改任务归入一个方面")
    outside = [line for index, line in enumerate(lines) if index not in body.consumed]
    sentences = split_sentences(lines)
    issuer, title = issuer_and_title(lines)
    start, end = inspection_period(sentences)
    publish_from, publish_to = publication_period(lines)
    stated_areas, stated_tasks, stated_measures = stated_totals(split_sentences(outside))
    year_hint = (end or start).year if (end or start) else None
    notice = ParsedNotice(
        issuer=issuer,
        title=title,
        group=inspection_group("\n".join(lines)),
        start=start,
        end=end,
        feedback=feedback_date(sentences, year_hint),
        publish_from=publish_from,
        publish_to=publish_to,
        areas=areas,
        stated_areas=stated_areas,
        stated_tasks=stated_tasks,
        stated_measures=stated_measures,
    )
    notice.warnings = warnings + _total_warnings(notice)
    return notice
