"""Text keys for duplicate checks and search (CUS-6, customer search)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from pypinyin import Style, lazy_pinyin

# Longest first, so "股份有限公司" is taken before "有限公司".
COMPANY_SUFFIXES = sorted(
    [
        "股份有限公司",
        "有限责任公司",
        "集团有限公司",
        "集团股份有限公司",
        "有限公司",
        "集团公司",
        "集团",
        "公司",
        "分公司",
        "工作室",
        "合伙企业",
        "事务所",
        "厂",
        "商行",
        "经营部",
        "co.,ltd.",
        "co.,ltd",
        "co. ltd.",
        "co.ltd",
        "company limited",
        "co., limited",
        "limited",
        "ltd.",
        "ltd",
        "inc.",
        "inc",
        "corporation",
        "corp.",
        "corp",
        "llc",
        "gmbh",
        "group",
    ],
    key=len,
    reverse=True,
)
_PUNCT_CHARS = r"\s\-_.,，。、·・'\"“”‘’()（）\[\]【】&/"
_PUNCT = re.compile(f"[{_PUNCT_CHARS}]+")
_SEP = f"[{_PUNCT_CHARS}]*"


def _compact(value: str) -> str:
    return _PUNCT.sub("", value)


def _suffix_pattern(compact: str) -> re.Pattern[str]:
    """Match a suffix at the end of a folded name, spaces and punctuation allowed anywhere in it
    ('co., ltd.', 'co.ltd', '有限 公司', '（有限公司）'). A Latin suffix must start a word, so
    'Zinc' does not end in 'inc'."""
    boundary = r"(?<![a-z0-9])" if compact.isascii() else ""
    return re.compile(boundary + _SEP.join(re.escape(ch) for ch in compact) + _SEP + "$")


_SUFFIX_PATTERNS = [
    (compact, _suffix_pattern(compact))
    for compact in sorted({_compact(s) for s in COMPANY_SUFFIXES}, key=len, reverse=True)
]


def name_fold(value: str) -> str:
    """Full/half width, case and white space folded: 'ＡＢＣ 科技' -> 'abc科技'."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", value or "")).lower()


def name_split(value: str) -> tuple[str, str]:
    """Split a company name into (core, suffix), both folded and free of punctuation.

    '北京华科 有限责任公司' -> ('北京华科', '有限责任公司'): the legal-form suffix is kept apart so
    that '华科有限公司' and '华科公司' are recognised as the same company.
    """
    folded = unicodedata.normalize("NFKC", value or "").lower().strip()
    for compact, pattern in _SUFFIX_PATTERNS:
        match = pattern.search(folded)
        if match:
            core = _compact(folded[: match.start()])
            if core:
                return core, compact
    return _compact(folded), ""


def name_key(value: str) -> str:
    """The key duplicate checks compare: the core name without its legal-form suffix."""
    core, _suffix = name_split(value)
    return core or name_fold(value)


def pinyin_initials(value: str) -> str:
    """'北京华科技术' -> 'bjhkjs'; letters and digits in the name are kept as they are."""
    parts = lazy_pinyin(
        unicodedata.normalize("NFKC", value or ""),
        style=Style.FIRST_LETTER,
        errors=lambda chars: list(chars),
    )
    return "".join(ch for ch in "".join(parts).lower() if ch.isalnum())


def ngrams(text: str, n: int) -> list[str]:
    return [text[i : i + n] for i in range(len(text) - n + 1)]


# The three kinds of token, found the same way in stored text and in queries.
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_DIGIT_RUN = re.compile(r"[0-9]+")
_WORD_RUN = re.compile(r"[a-z0-9]+")


def search_document(parts: list[str]) -> str:
    """Tokens for the full-text index behind search, from the folded texts a search matches.

    The index only narrows the rows; the exact check is "the folded query is contained in one
    of the parts". So the tokens are chosen such that every substring of every part yields
    query tokens (see `search_query_tokens`) that are all present here:
    - every Chinese character and every pair of neighbouring characters (PostgreSQL's text
      search does not split Chinese; a 1-character query hits a character, longer ones hit
      all their pairs);
    - 4-digit windows of every digit run, as 'd1234' (phone digits, number fragments);
    - every suffix of every Latin/digit word that still holds a letter, as 'wabc', so that a
      query word starting anywhere in the word (pinyin initials 'hk' in 'bjhk', 'wei' in
      'zhangwei') is a prefix match. The 'w'/'d' marks keep PostgreSQL's parser from reading
      tokens such as '1e5' as numbers.
    """
    tokens: set[str] = set()
    for part in parts:
        for run in _CJK_RUN.findall(part):
            tokens.update(run)
            tokens.update(ngrams(run, 2))
        for run in _DIGIT_RUN.findall(part):
            tokens.update("d" + gram for gram in ngrams(run, 4))
        for run in _WORD_RUN.findall(part):
            letters = [i for i, ch in enumerate(run) if not ch.isdigit()]
            if letters:
                tokens.update("w" + run[i:] for i in range(letters[-1] + 1))
    return " ".join(sorted(tokens))


def search_tokens(*, names: list[str], digits: list[str], codes: list[str]) -> str:
    """Index tokens for names (folded and as pinyin initials), digit strings and codes."""
    parts = [name_fold(n) for n in names] + [pinyin_initials(n) for n in names]
    parts += [d for d in digits if d] + [name_fold(c) for c in codes if c]
    return search_document(parts)


def search_query_tokens(query: str) -> tuple[list[str], list[str], list[str]]:
    """The tokens a query must match, as (chinese, digit, word) lists.

    Chinese: the run itself when it is one character, else its pairs; digits: 'd' + every
    4-digit window of runs of 4 or more digits (shorter runs give no token); words: runs of
    Latin letters and digits holding a letter, bare (the index holds them as 'w' + suffix,
    matched as a prefix). A query without any token (e.g. '12') must be answered by a scan.
    """
    folded = name_fold(query)
    chinese: list[str] = []
    for run in _CJK_RUN.findall(folded):
        chinese.extend([run] if len(run) == 1 else ngrams(run, 2))
    digit_tokens = [
        "d" + gram for run in _DIGIT_RUN.findall(folded) if len(run) >= 4 for gram in ngrams(run, 4)
    ]
    words = [w for w in _WORD_RUN.findall(folded) if not w.isdigit()]
    return list(dict.fromkeys(chinese)), list(dict.fromkeys(digit_tokens)), words


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def typed_text(value: Any) -> str:
    """Text a user typed, trimmed, without control characters: they are invisible on screen,
    and PostgreSQL refuses NUL outright, which would turn a typo into a server error. Every
    service cleans its text fields with it."""
    return "" if value is None else _CONTROL_CHARS.sub("", str(value)).strip()
