"""The line markup between the notice template and the Word writer.

A rendered notice template is plain text, one paragraph per line. A line may start with a
mark saying what the paragraph is; the Word writer gives each kind its GB/T 9704 look:

    #title 文字        标题（2号小标宋，居中）；标题有两行就写两行 #title
    #heading1 文字     一级标题“一、”（3号黑体）
    #heading2 文字     二级标题“（一）”（3号楷体）
    #heading3 文字     三级标题“1.”（3号仿宋）
    #para 文字         正文（3号仿宋，首行缩进二字）；不带标记的行也是正文
    #signature 文字    发文机关署名（右对齐）
    #date 文字         成文日期（右对齐，首字比署名首字右移二字）
    #blank             空一行

In a heading, " || " ends the heading words and starts ordinary text in the same
paragraph, as in "（一）深化思想认识，扛牢政治责任。|| 局党组第一时间…": the words before
it take the heading's font, the words after it the body's. Empty lines are ignored, so the
template may space its logic freely.
"""

from dataclasses import dataclass
from enum import StrEnum

from models.errors import BadInput


class Kind(StrEnum):
    TITLE = "title"
    HEADING1 = "heading1"
    HEADING2 = "heading2"
    HEADING3 = "heading3"
    PARA = "para"
    SIGNATURE = "signature"
    DATE = "date"
    BLANK = "blank"


RUN_IN = "||"


@dataclass(frozen=True)
class Block:
    """One paragraph of the notice: its kind, its words, and body words run in after them."""

    kind: Kind
    text: str
    rest: str = ""

    @property
    def full_text(self) -> str:
        return self.text + self.rest


def parse_blocks(rendered: str) -> list[Block]:
    """Turn rendered template text into blocks; an unknown mark is a clear error."""
    blocks: list[Block] = []
    for number, raw in enumerate(rendered.splitlines(), start=1):
        line = raw.strip()  # also drops full-width spaces typed as indentation
        if not line:
            continue
        if not line.startswith("#"):
            blocks.append(Block(Kind.PARA, line))
            continue
        mark, _, text = line[1:].partition(" ")
        try:
            kind = Kind(mark)
        except ValueError:
            known = "、".join(f"#{k.value}" for k in Kind)
            raise BadInput(
                f"输出的第{number}行“{line[:30]}”以未知标记“#{mark}”开头（可用的标记：{known}）"
            ) from None
        text = text.strip()
        if kind == Kind.BLANK:
            blocks.append(Block(kind, ""))
        elif kind in (Kind.HEADING1, Kind.HEADING2, Kind.HEADING3) and RUN_IN in text:
            head, _, rest = text.partition(RUN_IN)
            blocks.append(Block(kind, head.strip(), rest.strip()))
        else:
            blocks.append(Block(kind, text))
    return blocks
