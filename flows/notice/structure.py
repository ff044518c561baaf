"""Where the ledger is in a notice and how it divides: sections → areas → tasks.

The rectification section's "（一）" headings, or "一、" areas, or the "（一）" headings
of a notice without sections; each area's tasks are its finest numbered problem items.
"""

import re
from dataclasses import dataclass, field

from flows.notice.items import (
    ABOUT_FRAME,
    area_title,
    children_are_measures,
    looks_like_finding,
    parse_task,
)
from flows.notice.lines import AREA, INSPECTION_WORDS, TOP, int_to_cn
from flows.notice.outline import Node, build_outline, split_sections
from flows.notice.parsed import NotANotice, ParsedArea, ParsedTask

# The "一、" section that reports the rectification, or the problems found.
SECTION_WORDS = re.compile(
    r"整改.{0,6}情况|问题整改|整改进展|反馈问题|主要问题|发现的问题|存在的问题|问题清单"
)
# A "一、" heading that names an area ("一、关于…方面的问题"), not a section of the notice.
AREA_LIKE_HEADING = re.compile(r"方面")
# "一、" sections that are never areas when the "一、" headings are the areas.
NOT_AREA_WORDS = re.compile(
    r"主体责任|组织领导|总体情况|基本情况|工作开展|下一步|打算|工作计划|意见建议|整改要求|"
    r"工作要求|思想认识|主要做法|工作成效|整改成效|有关要求"
)


@dataclass
class _Body:
    """The areas found, as nodes, and whether they were made up or taken from "一、"."""

    areas: list[Node]
    implicit: bool = False
    flattened: bool = False  # the "（一）" headings were problems, not areas
    top_level: bool = False
    consumed: set[int] = field(default_factory=set)


def _areas_from_region(roots: list[Node], title: str, *, drop_leading_empty: bool) -> _Body | None:
    """Group a region's roots into areas; None when the region holds no tasks.

    Areas are the "（一）" nodes. Items before any of them go into one made-up area,
    unless they are themselves areas ("1.关于…方面" holding its problems as sub-items).
    "（一）" headings with nothing under them that read like problems are tasks of one
    made-up area ("（一）关于…的问题。整改情况：…" straight under the section).
    """
    areas: list[Node] = []
    loose: list[Node] = []
    for node in roots:
        if node.level == AREA:
            areas.append(node)
        elif areas:
            areas[-1].children.append(node)
        else:
            loose.append(node)
    implicit = False
    if loose:
        if not areas and any(n.children and not children_are_measures(n) for n in loose):
            areas = loose
        else:
            implicit = True
            areas.insert(0, Node(AREA, 1, [title], [title], [], loose))
    if not any(area.children for area in areas):
        findings = [area for area in areas if looks_like_finding(area)]
        if areas and 2 * len(findings) >= len(areas):
            made_up = Node(AREA, 1, [title], [title], [], areas)
            return _Body([made_up], implicit=True, flattened=True)
        return None
    if drop_leading_empty:
        while areas and not areas[0].children:
            areas.pop(0)
    return _Body(areas, implicit=implicit)


def find_body(lines: list[str]) -> _Body:
    """Where the ledger is: a rectification section, "一、" areas, or the whole text."""
    preamble, sections = split_sections(lines)
    text = "\n".join(lines)
    looks_like_notice = "整改" in text and bool(INSPECTION_WORDS.search(text))
    fallback: _Body | None = None
    for section in sections:
        heading = section.heading
        if not SECTION_WORDS.search(heading) or AREA_LIKE_HEADING.search(heading):
            continue
        if "整改" not in heading and not looks_like_notice:
            continue
        body = _areas_from_region(build_outline(section.lines), heading, drop_leading_empty=False)
        if body is not None and not body.implicit:
            return body
        fallback = fallback or body
    if fallback is not None:
        return fallback
    if looks_like_notice:
        candidates = [
            (section, roots)
            for section in sections
            if not NOT_AREA_WORDS.search(section.heading)
            and (roots := build_outline(section.lines))
            and _holds_problems(section.heading, roots)
        ]
        if len(candidates) >= 2:
            areas = [
                Node(TOP, section.number, [section.heading], [section.heading], [], roots)
                for section, roots in candidates
            ]
            return _Body(areas, top_level=True)
        if len(candidates) == 1:
            section, roots = candidates[0]
            body = _areas_from_region(roots, section.heading, drop_leading_empty=False)
            if body is not None:
                return body
        body = _areas_from_region(
            build_outline(preamble, stop_at_next_steps=True), "整改任务", drop_leading_empty=True
        )
        if body is not None:
            return body
    named = [s.heading for s in sections if SECTION_WORDS.search(s.heading) and "整改" in s.heading]
    if named:
        raise NotANotice(f"这不是整改通报：“{named[0]}”部分中没有识别到“1.…”形式的整改任务")
    if not looks_like_notice:
        raise NotANotice(
            "这不是整改通报：全文没有同时出现“巡察/巡视”和“整改”，"
            "也没有“整改落实情况”一类的部分标题"
        )
    raise NotANotice(
        "这不是整改通报：没有找到“（一）…”方面和“1.…”整改任务，"
        "也没有“整改落实情况”一类的部分标题（如“二、巡察整改落实情况”）"
    )


def _holds_problems(heading: str, roots: list[Node]) -> bool:
    """Whether a "一、" section is an area: named like one, or listing problems.

    Sections such as "一、提高政治站位，扛牢整改责任" list what was done, not problems.
    """
    if AREA_LIKE_HEADING.search(heading) or ABOUT_FRAME.match(heading):
        return True
    findings = [node for node in roots if looks_like_finding(node)]
    return 2 * len(findings) >= len(roots)


@dataclass
class _TaskNode:
    node: Node
    direct: bool  # a child of its area, not a sub-item found deeper


def _task_nodes(
    area: Node, gaps: list[tuple[Node | None, list[int]]], continued_from: int
) -> list[_TaskNode]:
    """The finest numbered problem items under an area, in order.

    Items are numbered from 1 in each area, or on from the previous area's last one
    (some notices number their problems once through the whole text).
    """
    tasks: list[_TaskNode] = []

    def walk(nodes: list[Node], parent: Node | None, direct: bool) -> None:
        numbers = [node.number for node in nodes]
        firsts = (1, continued_from + 1) if parent is None else (1,)
        if not any(numbers == list(range(f, f + len(numbers))) for f in firsts):
            gaps.append((parent, numbers))
        for node in nodes:
            if not node.children:
                tasks.append(_TaskNode(node, direct))
            elif children_are_measures(node):
                merged = node.all_raw()
                node.lines = [node.lines[0], *merged[1:]]
                node.children = []
                tasks.append(_TaskNode(node, direct))
            else:
                walk(node.children, node, direct=False)

    walk(area.children, None, direct=True)
    return tasks


def build_areas(body: _Body) -> tuple[list[ParsedArea], list[str]]:
    areas: list[ParsedArea] = []
    warnings: list[str] = []
    numbers = [node.number for node in body.areas]
    if not body.implicit and numbers:
        expected = list(range(numbers[0], numbers[0] + len(numbers)))
        if numbers != expected or (not body.top_level and numbers[0] != 1):
            listed = "、".join(int_to_cn(n) if n else "?" for n in numbers)
            warnings.append(f"方面编号不连续：{listed}，可能有方面未识别")
    last_number = 0
    for position, node in enumerate(body.areas, start=1):
        title = area_title(node.text)
        label = f"第{position}个方面“{title}”"
        gaps: list[tuple[Node | None, list[int]]] = []
        body.consumed.update(i for child in node.children for i in child.all_indices())
        task_nodes = _task_nodes(node, gaps, continued_from=last_number)
        for parent, found in gaps:
            listed = "、".join(str(n) for n in found)
            where = label if parent is None else f"{label}第{parent.number}项下"
            noun = "任务" if parent is None else "子项"
            warnings.append(f"{where}的{noun}编号不连续：{listed}，可能有{noun}未识别")
        own_numbers = [t.node.number for t in task_nodes]
        keep = all(t.direct for t in task_nodes) and len(set(own_numbers)) == len(own_numbers)
        tasks: list[ParsedTask] = []
        for index, task_node in enumerate(task_nodes, start=1):
            number = task_node.node.number if keep else index
            task, notes = parse_task(task_node.node, number)
            tasks.append(task)
            warnings.extend(f"{label}{note}" for note in notes)
            last_number = task.number
        if not tasks:
            warnings.append(f"{label}下未识别到整改任务")
        for task in tasks:
            if not task.measures:
                warnings.append(f"{label}第{task.number}项“{task.title}”未识别到整改措施")
        areas.append(ParsedArea(position, title, tasks))
    return areas, warnings
