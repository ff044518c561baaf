"""Numbered lines nested into a tree, and the text split into its "一、" sections.

The closing (contacts, signature, date) ends the last section, so no task absorbs it.
"""

import re
from dataclasses import dataclass, field

from flows.notice.lines import AREA, SIGNATURE, TOP, outline_match

# The closing lines after the last section: invitation to comment, contacts, signature.
CLOSING_LINE = re.compile(
    r"^(?:欢迎|如有意见|公开期限|公示期|公示时间|公开时间|联系电话|联系方式|邮政信箱|"
    r"通信地址|通讯地址|电子邮箱|来信地址|举报电话|附件[：:])"
)
NEXT_STEPS = re.compile(r"^(?:下一步|下步|今后)|下一步工作|工作打算|工作计划")
BARE_DATE = re.compile(r"^\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日$")


@dataclass
class Node:
    level: int
    number: int
    lines: list[str]  # its own line (number stripped) and continuation lines
    raw: list[str]  # the same lines as written, number included
    indices: list[int]
    children: list["Node"] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def all_indices(self) -> list[int]:
        return self.indices + [i for child in self.children for i in child.all_indices()]

    def all_raw(self) -> list[str]:
        return self.raw + [line for child in self.children for line in child.all_raw()]


def build_outline(lines: list[tuple[int, str]], *, stop_at_next_steps: bool = False) -> list[Node]:
    """Nest numbered lines by level; unnumbered lines continue the deepest open item.

    Lines before the first numbered one (a section's introduction) belong to no item.
    """
    roots: list[Node] = []
    stack: list[Node] = []
    for index, line in lines:
        found = outline_match(line)
        if stop_at_next_steps and _ends_body(line, found):
            break
        if found is None or found[0] == TOP:
            if stack:
                stack[-1].lines.append(line)
                stack[-1].raw.append(line)
                stack[-1].indices.append(index)
            continue
        level, number, text = found
        node = Node(level, number, [text], [line], [index])
        while stack and stack[-1].level >= level:
            stack.pop()
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)
    return roots


def _ends_body(line: str, found: tuple[int, int, str] | None) -> bool:
    """Where a notice without "一、" sections turns to its next steps."""
    if found is None:
        return bool(re.match(r"^(?:下一步|下步|今后)", line))
    return found[0] <= AREA and bool(NEXT_STEPS.search(found[2]))


@dataclass
class _Section:
    heading: str
    number: int
    lines: list[tuple[int, str]]


def split_sections(lines: list[str]) -> tuple[list[tuple[int, str]], list[_Section]]:
    """The preamble and the "一、" sections; closing lines and the signature end them."""
    preamble: list[tuple[int, str]] = []
    sections: list[_Section] = []
    closed = False
    tail = len(lines) - 4
    for index, line in enumerate(lines):
        found = outline_match(line)
        if found and found[0] == TOP:
            sections.append(_Section(found[2], found[1], []))
            closed = False
        elif CLOSING_LINE.match(line) or (
            index >= tail and (SIGNATURE.match(line) or BARE_DATE.match(line))
        ):
            closed = True  # swallow the closing so no task absorbs it
        elif closed:
            continue
        elif sections:
            sections[-1].lines.append((index, line))
        else:
            preamble.append((index, line))
    return preamble, sections
