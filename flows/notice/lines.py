"""A notice's text as clean lines, and the shapes of line every later stage recognises.

Cleaning drops word-processor leftovers, portal furniture and page numbers, and rejoins
lines hard-wrapped at one width. The shared patterns are the Chinese numerals, the outline
numbering ("一、" > "（一）" > "1." > "（1）" > "①") and a few line shapes (sentence ends,
titles, signatures, words about the inspection).
"""

import re
import unicodedata

CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"两": 2, "〇": 0}
CN_NUMBER = "[零〇一二两三四五六七八九十百]+"
NUMBER = rf"(?:\d+|{CN_NUMBER})"
CN_ORDINAL = "[一二三四五六七八九十]+"

# Word-processor leftovers that survive a docx→text export: "[bookmark: OLE_LINK5]",
# pandoc's "[]{#_Hlk123 .anchor}".
WORD_LEFTOVER = re.compile(
    r"\[\s*(?:bookmark|footnoteRef|endnoteRef|commentRef)\s*:[^\]]*\]|\[\]\{#[^}]*\}",
    re.IGNORECASE,
)
FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
INVISIBLE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
# A portal page's furniture around the text: metadata, breadcrumbs, print/close links.
PORTAL_LINE = re.compile(
    r"(?:^|\s)(?:来源|信息来源|发布时间|发布日期|发文日期|更新时间|浏览次数|阅读次数|访问次数|点击数|"
    r"点击量|浏览量|阅读量|责任编辑|编辑|作者|索引号|当前位置|您当前的位置|您的位置|字体|字号)"
    r"\s*[：:]"
    r"|【\s*(?:字体|字号|打印|关闭|大|中|小|分享|收藏)"
    r"|^(?:打印|关闭|打印本页|关闭窗口|分享到|上一篇|下一篇|扫一扫)\s*(?:[：:]|$)"
    r"|首页\s*[>＞»/]"
)
# Page numbers left by a PDF or print export: "- 2 -", "— 3 —", "第 4 页", "5/12".
PAGE_NUMBER = re.compile(
    r"^[-—–－\s]*(?:第\s*)?\d{1,3}\s*页?(?:\s*/\s*共?\s*\d{1,3}\s*页?)?[-—–－\s]*$"
)
# Where a line broken by a fixed-width export (pdftotext, a mail client) may be rejoined:
# lines ending like this are complete.
COMPLETE_LINE_END = re.compile(r"[。：:；;！!？?][”」』）)]?$")
STEP_START = re.compile(rf"^{CN_ORDINAL}是")

# The outline levels: "一、" > "（一）" > "1." > "（1）" > "①".
TOP, AREA, ITEM, SUB, CIRCLED = range(5)
LEVEL_PATTERNS: list[tuple[int, re.Pattern[str]]] = [
    (TOP, re.compile(rf"^(?P<num>{CN_ORDINAL})\s*[、.．，,]\s*(?P<text>.*)$")),
    (AREA, re.compile(rf"^[（(]\s*(?P<num>{CN_ORDINAL})\s*[）)]\s*[、.．]?\s*(?P<text>.*)$")),
    # "(?!\d)" keeps "1.5万元" out.
    (ITEM, re.compile(r"^(?P<num>\d{1,3})\s*[.．、](?!\d)\s*(?P<text>.*)$")),
    (SUB, re.compile(r"^[（(]\s*(?P<num>\d{1,3})\s*[）)]\s*[、.．]?\s*(?P<text>.*)$")),
    (CIRCLED, re.compile(r"^(?P<num>[\u2460-\u2473])\s*(?P<text>.*)$")),
]
# Words without which a document with no rectification section is not taken for a notice.
INSPECTION_WORDS = re.compile(r"巡察|巡视")
# The signature closing a notice: the issuing Party organisation or inspection group.
SIGNATURE = re.compile(
    r"^(?:中共)?[\u4e00-\u9fff（）()]{2,40}(?:党组|党委|党工委|党总支|党支部|委员会|巡察组|巡视组)$"
)
# Where a sentence, or a title's first sentence, ends; and how a notice's title ends.
SENTENCE_END = re.compile(r"[。：:；;！!？?\n]")
TITLE_END = re.compile(r"(?:通报|公告|公示|报告|情况|反馈意见|说明)$")


def cn_to_int(token: str) -> int | None:
    """Turn "36" or "三十六"/"九"/"一百二十六" into an int; None when it is not a number."""
    if token.isdigit():
        return int(token)
    total, current = 0, 0
    for char in token:
        if char in CN_DIGITS:
            current = CN_DIGITS[char]
        elif char == "十":
            total += (current or 1) * 10
            current = 0
        elif char == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


def int_to_cn(value: int) -> str:
    """1 → 一, 12 → 十二, 36 → 三十六 (up to 99, enough for headings)."""
    digits = "零一二三四五六七八九"
    if value < 10:
        return digits[value]
    tens, ones = divmod(value, 10)
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")


def outline_match(line: str) -> tuple[int, int, str] | None:
    for level, pattern in LEVEL_PATTERNS:
        match = pattern.match(line)
        if match:
            token = match["num"]
            number = ord(token) - 0x2460 + 1 if level == CIRCLED else (cn_to_int(token) or 0)
            return level, number, match["text"].strip()
    return None


def clean_lines(text: str) -> list[str]:
    """Trimmed non-empty lines without word-processor leftovers or portal furniture."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    text = WORD_LEFTOVER.sub("", text)
    text = INVISIBLE.sub("", text).translate(FULLWIDTH_DIGITS)
    lines = (line.replace("\u3000", " ").replace("\xa0", " ").strip() for line in text.split("\n"))
    kept = [line for line in lines if line and not _is_portal_line(line)]
    return _unwrap([line for line in kept if not PAGE_NUMBER.match(line)])


def _unwrap(lines: list[str]) -> list[str]:
    """Rejoin paragraphs that a fixed-width export broke into lines of one width.

    Only when the text is clearly wrapped: the long lines nearly all stop at one width
    (the widest), mid-sentence. Then a line of about that width that does not end a
    sentence is joined to the next, unless the next starts a numbered item or a step.
    """
    widths = sorted(_display_width(line) for line in lines)
    long = [line for line in lines if _display_width(line) >= 30]
    if len(long) < 5:
        return lines
    width = widths[int(0.95 * (len(widths) - 1))]
    cut = [
        line
        for line in long
        if _display_width(line) >= 0.8 * width and not COMPLETE_LINE_END.search(line)
    ]
    if len(cut) < max(5, 0.4 * len(long)):
        return lines
    joined: list[str] = []
    for line in lines:
        previous = joined[-1] if joined else ""
        if (
            previous
            and _display_width(previous) >= 0.8 * width
            and not COMPLETE_LINE_END.search(previous)
            and not ("关于" in previous and TITLE_END.search(previous))
            and not outline_match(line)
            and not STEP_START.match(line)
        ):
            joined[-1] = previous + line
        else:
            joined.append(line)
    return joined


def _display_width(line: str) -> int:
    """Columns a line takes in print: Chinese characters are two, Latin letters and digits one."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def _is_portal_line(line: str) -> bool:
    return bool(PORTAL_LINE.search(line)) and not line.endswith("。") and len(line) < 200


def split_sentences(lines: list[str]) -> list[str]:
    return [s for line in lines for s in re.split(r"[。！？!?]", line) if s]
