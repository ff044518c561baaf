"""Read a published rectification notice (整改通报) or feedback document into a ledger.

A notice is free prose exported from a word processor, copied from a portal or printed
to PDF, so the parser works line by line. Everything here is a pure function of the
file's bytes or text; nothing touches the database.

Input: .txt in UTF-8 (BOM or not), GB18030 or UTF-16 with a BOM; .docx read paragraph by
paragraph in order, tables row by row (a ledger table 序号|方面|问题|整改措施 becomes the
same outline as prose), Word's automatic list numbers written out, tracked insertions
kept and deletions dropped. Word leftovers ("[bookmark: …]"), a portal's furniture
("来源：… 发布时间：… 【字体：大 中 小】 打印"), page numbers and lines hard-wrapped at
one width (pdftotext) are cleaned away first.

How the outline is read (decided from published practice):

- Numbered lines form an outline: "一、" > "（一）" > "1." > "（1）" > "①", whatever
  brackets, dots and digit widths are used (（一）/(一), 1./1．/1、, （１）/(1)).
- The rectification part is the "一、" section whose heading speaks of 整改…情况 or of the
  problems found ("二、巡察整改落实情况", "一、巡察发现的主要问题"). Its "（一）"
  headings are the areas (方面). Without such a section, either the "一、" headings are
  the areas ("一、关于…方面", at least two), or there is no "一、" level at all and the
  "（一）" headings after the title and introduction are the areas. "（一）" headings
  that are themselves problems ("（一）关于…的问题。整改情况：…") become the tasks of one
  area, and "1.关于…方面" items holding problems as sub-items become the areas.
- A task is the finest numbered problem item under an area: "1." items, or their "（1）"
  sub-items when those are problems (four levels). Sub-items are problems when one of
  them reads like one: it has a title frame ("在…方面", "关于…的问题"), an "整改情况："
  label, its own "一是…" steps, or its first sentence ends like a finding ("…不到位",
  "…有差距", "…问题"). Otherwise — the usual practice — "（1）", "①" (and, under a
  "（一）" problem, "1.") lines under an item are its measures, one per line.
- A task's measures are its "一是/二是…" steps (inline or one per line; a step keeps its
  whole text, headline sentence included), else its "（1）…（2）…", "①…②…", "1.…2.…"
  (one per line) or "第一，…第二，…" steps, else the text after its title (after an
  "整改情况：" label), else the item itself. Ledger fields under an item ("责任单位：",
  "整改时限：") are not measures. Titles drop the numbering and the "在…方面" /
  "关于“…”的问题" frame; a line break also ends a title.
- Dates: the inspection period is the first date range in a sentence about the
  inspection; a second date may omit the year (and month), and one earlier than the first
  crosses into the next year. "截至2025年6月底" cut-offs are never taken for dates.
- Stated totals are read only outside the task items, from phrases about what was
  identified ("明确了9个方面36项整改任务", "反馈问题12个", "制定整改措施40条"), never from
  progress ("已完成整改10个"). A difference from what was found is a warning.
"""

from flows.notice.docx_text import read_docx_text
from flows.notice.facts import GROUP_NUMBERED, GROUP_PLAIN
from flows.notice.parsed import NotANotice, ParsedArea, ParsedNotice, ParsedTask, notice_summary
from flows.notice.parsing import parse_notice
from flows.notice.reading import (
    OLE_MAGIC,
    decode_notice,
    read_notice_bytes,
    read_notice_file,
    read_notice_text,
)

__all__ = [
    "GROUP_NUMBERED",
    "GROUP_PLAIN",
    "OLE_MAGIC",
    "NotANotice",
    "ParsedArea",
    "ParsedNotice",
    "ParsedTask",
    "decode_notice",
    "notice_summary",
    "parse_notice",
    "read_docx_text",
    "read_notice_bytes",
    "read_notice_file",
    "read_notice_text",
]
