"""Reading one numbered item: is it a problem or a measure, its title and its measures.

Titles lose their "在…方面" / "关于…的问题" frame; measures are the item's "一是…",
"（1）…", "①…", "1.…" or "第一，…" steps, else its prose, else the item itself.
"""

import re

from flows.notice.lines import CIRCLED, NUMBER, SENTENCE_END
from flows.notice.outline import Node
from flows.notice.parsed import ParsedTask

# Title frames: "在…方面" (optionally "…的方面", "…方面存在的问题") and "关于“…”的问题".
IN_ASPECT_FRAME = re.compile(
    r"^在(?P<title>.+?)(?:的)?方面(?:存在的?问题|的问题)?(?=[。，,：:；;！!？?\s]|$)"
)
ABOUT_FRAME = re.compile(
    r"^(?:关于|针对)(?P<title>.+?)(?:方面)?(?:存在的?|的)?问题(?:的?整改(?:落实|进展)?情况)?$"
)
ABOUT_ASPECT_FRAME = re.compile(r"^关于(?P<title>.+?)方面$")
# "整改情况：" and its kin introduce the measures after a problem statement.
MEASURES_LABEL = re.compile(
    r"(?:整改落实情况|整改进展情况|整改完成情况|整改情况|整改措施|整改进展|落实情况|整改结果)\s*[：:]"
)
# Ledger fields written under an item: who answers for it and by when, not measures.
FIELD_LINE = re.compile(
    r"^(?:责任领导|分管领导|责任单位|责任部门|责任科室|牵头单位|牵头部门|配合单位|配合部门|"
    r"协办单位|责任人|整改时限|完成时限|整改期限|时限要求|整改目标)\s*[：:]"
)
# How a finding ends, as opposed to a measure ("…不到位", "…有差距", "…的问题").
FINDING_END = re.compile(
    r"(?:不到位|不够\w{0,6}|不足|不力|乏力|缺失|缺位|差距|滞后|薄弱|欠缺|短板|漏洞|偏差|"
    r"隐患|弱化|虚化|淡化|不\w{1,3}|问题)$"
)
TRAILING_PUNCT = re.compile(r"[\s，,；;：:、]+$")
TITLE_MAX = 200

# Step markers "一是", "二是" … "三十是", generated in order so they can be found in order.
_CN_ONES = "一二三四五六七八九"
CN_ORDINALS: list[str] = [
    *_CN_ONES,
    "十",
    *(f"十{c}" for c in _CN_ONES),
    "二十",
    *(f"二十{c}" for c in _CN_ONES),
    "三十",
]
# A step marker counts only at the start or right after punctuation/space, so "统一是"
# or "十一是" never pass for "一是".
STEP_BOUNDARY = set("。；;，,：:！!？?\n \t")
# Marker families for measures, tried in this order; the first that occurs often enough
# gives the measures. "1." steps count only at the start of a line.
LINE_START = set("\n")
STEP_FAMILIES: list[tuple[list[list[str]], int, set[str]]] = [
    ([[f"{ordinal}是"] for ordinal in CN_ORDINALS], 1, STEP_BOUNDARY),
    ([[f"（{i}）", f"({i})", f"（{i})", f"({i}）"] for i in range(1, 31)], 2, STEP_BOUNDARY),
    ([[chr(0x2460 + i)] for i in range(20)], 2, STEP_BOUNDARY),
    ([[f"{i}.", f"{i}．", f"{i}、"] for i in range(1, 31)], 2, LINE_START),
    ([[f"第{o}，", f"第{o},", f"第{o}、"] for o in CN_ORDINALS], 2, STEP_BOUNDARY),
]


def looks_like_finding(node: Node) -> bool:
    """Whether a sub-item states a problem (so it is a task) rather than a measure."""
    if node.children:
        return True
    text = node.text
    first_line = node.lines[0]
    if IN_ASPECT_FRAME.match(first_line) or MEASURES_LABEL.search(text):
        return True
    if _step_positions(text):
        return True
    sentence = TRAILING_PUNCT.sub("", re.split(r"[。；;！!？?：:]", first_line)[0]).strip()
    return bool(ABOUT_FRAME.match(sentence)) or bool(FINDING_END.search(sentence))


def children_are_measures(node: Node) -> bool:
    if all(child.level == CIRCLED for child in node.children):
        return True
    return not any(looks_like_finding(child) for child in node.children)


def _step_positions(text: str) -> list[tuple[int, int]]:
    """(marker start, text start) of each step of the first marker family that applies."""
    for markers, minimum, boundary in STEP_FAMILIES:
        positions = _find_in_order(text, markers, boundary)
        if len(positions) >= minimum:
            return positions
    return []


def _find_in_order(
    text: str, markers: list[list[str]], boundary: set[str]
) -> list[tuple[int, int]]:
    """Markers found strictly in order, each at a boundary and not inside a number."""
    positions: list[tuple[int, int]] = []
    cursor = 0
    for alternatives in markers:
        best, best_marker = -1, ""
        for marker in alternatives:
            index = text.find(marker, cursor)
            while index >= 0:
                after = index + len(marker)
                at_boundary = index == 0 or text[index - 1] in boundary
                if at_boundary and not (marker[-1] == "." and text[after : after + 1].isdigit()):
                    break
                index = text.find(marker, index + 1)
            if index >= 0 and (best < 0 or index < best):
                best, best_marker = index, marker
        if best < 0:
            break
        positions.append((best, best + len(best_marker)))
        cursor = best + len(best_marker)
    return positions


def _tidy(fragment: str) -> str:
    """Join wrapped lines and drop separators left between steps, keeping a final 。."""
    return TRAILING_PUNCT.sub("", fragment.replace("\n", "").strip()).strip()


def _unquote(title: str) -> str:
    if title.startswith("“") and title.endswith("”") and title.count("“") == 1:
        return title[1:-1].strip()
    if title.startswith('"') and title.endswith('"') and title.count('"') == 2:
        return title[1:-1].strip()
    return title


def _strip_frame(sentence: str) -> str:
    framed = IN_ASPECT_FRAME.match(sentence)
    if framed and framed.end() == len(sentence):
        return framed["title"].strip()
    about = ABOUT_FRAME.match(sentence) or ABOUT_ASPECT_FRAME.match(sentence)
    if about:
        return _unquote(about["title"].strip())
    return sentence


def _task_title(head: str) -> tuple[str, str]:
    """Split an item's opening into (title without frame, remaining prose).

    The title is the "在…方面" frame's content, or the first sentence (a line break ends
    it too); an "整改情况：" label ends the problem statement and starts the prose.
    """
    label = MEASURES_LABEL.search(head)
    statement, after_label = (head[: label.start()], head[label.end() :]) if label else (head, None)
    statement = statement.strip()
    framed = IN_ASPECT_FRAME.match(statement)
    if framed:
        rest = statement[framed.end() :]
        title, rest = framed["title"].strip(), rest[1:] if rest else ""
    else:
        end = SENTENCE_END.search(statement)
        sentence, rest = (
            (statement[: end.start()], statement[end.end() :]) if end else (statement, "")
        )
        title = _strip_frame(TRAILING_PUNCT.sub("", sentence).strip())
    if after_label is not None:
        rest = after_label
    return title, rest


def parse_task(node: Node, number: int) -> tuple[ParsedTask, list[str]]:
    """A task's measures are its numbered steps, or its prose, or the item itself."""
    text = "\n".join(line for line in node.lines if not FIELD_LINE.match(line))
    steps = _step_positions(text)
    head = text[: steps[0][0]] if steps else text
    title, rest = _task_title(head.strip())
    notes: list[str] = []
    if steps:
        bounds = [*(start for start, _ in steps[1:]), len(text)]
        measures = [_tidy(text[begin:stop]) for (_, begin), stop in zip(steps, bounds, strict=True)]
    else:
        measures = [_tidy(rest)] if _tidy(rest) else [_tidy(text)]
    if len(title) > TITLE_MAX:
        short = re.split(r"[，,、]", title, maxsplit=1)[0]
        title = short if 4 <= len(short) <= TITLE_MAX else title[:TITLE_MAX]
        notes.append(f"第{number}项的标题过长，已截取为“{title}”")
    if not title:
        title = f"第{number}项整改任务"
        notes.append(f"第{number}项未识别到问题标题，已命名为“{title}”")
    return ParsedTask(number, title, [m for m in measures if m]), notes


def area_title(text: str) -> str:
    """An area heading sometimes runs on into prose; keep its first sentence, unframed."""
    head = re.split(r"[。：:；;！!？?\n]", text, maxsplit=1)[0]
    head = re.sub(rf"[（(]\s*(?:共)?\s*{NUMBER}\s*[个项条]\s*(?:问题|任务)?\s*[）)]$", "", head)
    title = _strip_frame(TRAILING_PUNCT.sub("", head).strip())
    return title[:TITLE_MAX]
