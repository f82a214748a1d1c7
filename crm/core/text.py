"""Text keys for duplicate checks and search (CUS-6, customer search)."""

from __future__ import annotations

import re
import unicodedata

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
_PUNCT = re.compile(r"[\s\-_.,，。、·・'\"“”‘’()（）\[\]【】&/]+")


def name_fold(value: str) -> str:
    """Full/half width, case and white space folded: 'ＡＢＣ 科技' -> 'abc科技'."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", value or "")).lower()


def name_split(value: str) -> tuple[str, str]:
    """Split a company name into (core, suffix), both folded and free of punctuation.

    '北京华科 有限责任公司' -> ('北京华科', '有限责任公司'): the legal-form suffix is kept apart so
    that '华科有限公司' and '华科公司' are recognised as the same company.
    """
    folded = unicodedata.normalize("NFKC", value or "").lower().strip()
    suffix = ""
    compact = re.sub(r"\s+", " ", folded)
    for candidate in COMPANY_SUFFIXES:
        if compact.endswith(candidate) and len(compact) > len(candidate):
            suffix = candidate
            compact = compact[: -len(candidate)]
            break
    core = _PUNCT.sub("", compact)
    return core, _PUNCT.sub("", suffix)


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


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def ngrams(text: str, n: int) -> list[str]:
    return [text[i : i + n] for i in range(len(text) - n + 1)]


def search_tokens(*, names: list[str], digits: list[str], codes: list[str]) -> str:
    """Tokens for the full-text index behind customer search.

    PostgreSQL's text search does not split Chinese, so the document holds every Chinese
    character and every pair of neighbouring characters (search for 1 or 2 characters hits a
    token, longer fragments hit all their pairs), 4-digit windows of phone numbers, every suffix
    of the pinyin initials (so any run of initials is a prefix match) and the numbers as words.
    """
    tokens: set[str] = set()
    for name in names:
        folded = name_fold(name)
        cjk_runs = re.findall(r"[\u3400-\u9fff\uf900-\ufaff]+", folded)
        for run in cjk_runs:
            tokens.update(run)
            tokens.update(ngrams(run, 2))
        for word in re.findall(r"[a-z0-9]+", folded):
            tokens.add(word)
        initials = pinyin_initials(name)
        tokens.update("py" + initials[i:] for i in range(len(initials)))
    for number in digits:
        tokens.update("d" + gram for gram in ngrams(number, 4))
    for code in codes:
        if code:
            tokens.add(name_fold(code))
    return " ".join(sorted(tokens))


def search_query_tokens(query: str) -> tuple[list[str], list[str], list[str]]:
    """The tokens a query must match, as (chinese, digit, other) token lists."""
    folded = name_fold(query)
    chinese: list[str] = []
    for run in re.findall(r"[\u3400-\u9fff\uf900-\ufaff]+", folded):
        chinese.extend([run] if len(run) == 1 else ngrams(run, 2))
    digit_runs = re.findall(r"\d+", folded)
    digit_tokens = ["d" + g for run in digit_runs if len(run) >= 4 for g in ngrams(run, 4)]
    words = [w for w in re.findall(r"[a-z0-9]+", folded) if not w.isdigit()]
    return chinese, digit_tokens, words
