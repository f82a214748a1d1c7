"""Text keys behind duplicate checks (CUS-6) and customer search.

Hypothesis tests run without a deadline: the first example pays for loading the pinyin
dictionaries / phone metadata, which a loaded CI machine may take seconds for.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.core.text import (
    name_fold,
    name_key,
    name_split,
    pinyin_initials,
    search_document,
    search_query_tokens,
    search_tokens,
)


def test_name_fold_folds_width_case_and_spaces():
    assert name_fold("ＡＢＣ 科技\u3000Ｃｏ") == "abc科技co"
    assert name_fold("  Huake  Tech ") == "huaketech"


@pytest.mark.parametrize(
    "variant",
    [
        "华科技术有限公司",
        "华科技术 有限责任公司",
        "华科技术有限责任公司",
        "华科技术股份有限公司",
        "华科技术公司",
        "华科技术（有限公司）",
        "华科 技术 有限 公司",
        "华科技术",
    ],
)
def test_legal_form_variants_of_one_company_share_a_key(variant):
    assert name_key(variant) == "华科技术"


@pytest.mark.parametrize(
    "variant",
    ["ＨＵＡＫＥ科技有限公司", "Huake科技有限公司", "HUAKE 科技 有限公司", "huake科技公司"],
)
def test_full_width_case_and_space_variants_share_a_key(variant):
    assert name_key(variant) == "huake科技"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("华科技术有限公司", "北京华科技术有限公司"),  # a region prefix is part of the name
        ("华科技术有限公司", "华科技术有限公司北京分公司"),  # a branch is its own customer
        ("华科技术有限公司", "ＨＵＡ华科技术公司"),
        ("华科技术有限公司", "华科科技有限公司"),
    ],
)
def test_different_companies_keep_different_keys(a, b):
    assert name_key(a) != name_key(b)


@pytest.mark.parametrize(
    ("name", "core", "suffix"),
    [
        ("北京华科 有限责任公司", "北京华科", "有限责任公司"),
        ("华科集团股份有限公司", "华科", "集团股份有限公司"),
        ("华科技术（有限公司）", "华科技术", "有限公司"),
        ("华科电子厂", "华科电子", "厂"),
        ("Acme Co., Ltd.", "acme", "coltd"),
        ("ACME CO.,LTD", "acme", "coltd"),
        ("Acme Inc.", "acme", "inc"),
        ("Huawei Technologies Co.,Ltd.", "huaweitechnologies", "coltd"),
        # a Latin suffix must be a word of its own
        ("Zinc", "zinc", ""),
        ("Megacorp", "megacorp", ""),
        # a name that is only a suffix keeps something to compare
        ("公司", "公司", ""),
    ],
)
def test_name_split_keeps_the_suffix_apart_from_the_core(name, core, suffix):
    assert name_split(name) == (core, suffix)


@pytest.mark.parametrize(
    ("name", "initials"),
    [
        ("北京华科技术有限公司", "bjhkjsyxgs"),
        ("重庆银行", "cqyh"),  # polyphones read in context: 重 chóng, 行 háng
        ("长沙银行股份有限公司", "csyhgfyxgs"),
        ("张三", "zs"),
        ("华为Technologies", "hwtechnologies"),
        ("ＡＢＣ科技", "abckj"),
        ("", ""),
    ],
)
def test_pinyin_initials(name, initials):
    assert pinyin_initials(name) == initials


# --- search tokens --------------------------------------------------------------------------


def test_query_tokens_of_chinese_fragments():
    assert search_query_tokens("华") == (["华"], [], [])
    assert search_query_tokens("华科") == (["华科"], [], [])
    assert search_query_tokens("北京华科") == (["北京", "京华", "华科"], [], [])


def test_query_tokens_of_digits_need_four_of_them():
    assert search_query_tokens("12") == ([], [], [])
    assert search_query_tokens("5678") == ([], ["d5678"], [])
    assert search_query_tokens("138 1234") == ([], ["d1381", "d3812", "d8123", "d1234"], [])


def test_query_tokens_of_words_and_numbers():
    assert search_query_tokens("BJHK") == ([], [], ["bjhk"])
    chinese, digits, words = search_query_tokens("KH20260501")
    assert chinese == []
    assert digits == ["d2026", "d0260", "d2605", "d6050", "d0501"]
    assert words == ["kh20260501"]


def test_the_document_holds_characters_pairs_digit_windows_and_initials():
    document = search_tokens(
        names=["北京华科技术有限公司"], digits=["13812345678"], codes=["KH2026050001"]
    ).split()
    assert {"华", "华科", "北京"} <= set(document)
    assert {"d1381", "d5678", "d0001"} <= set(document)
    # every suffix of the initials, so any run of them is a prefix of a token
    assert {"wbjhkjsyxgs", "whkjsyxgs", "wgs"} <= set(document)
    assert "wkh2026050001" in document
    # a pure digit tail never becomes a word token; digits have their own windows
    assert "w2026050001" not in document


def _covered(query: str, parts: list[str]) -> bool:
    """Would the index find a record with these parts for this query?"""
    document = set(search_document(parts).split())
    chinese, digits, words = search_query_tokens(query)
    return all(t in document for t in chinese + digits) and all(
        any(d.startswith("w" + w) for d in document) for w in words
    )


part_text = st.text(
    alphabet=st.sampled_from("北京华科技术有限公司abcxyz0123456789-.@"), min_size=1, max_size=24
)


@settings(deadline=None)
@given(st.lists(part_text, min_size=1, max_size=4), st.data())
def test_every_substring_of_the_searched_text_is_found_through_the_index(parts, data):
    # Given the texts a search matches (the exact check is "query is contained in a part")
    parts = [name_fold(p) for p in parts]
    part = data.draw(st.sampled_from(parts))
    start = data.draw(st.integers(min_value=0, max_value=len(part) - 1))
    end = data.draw(st.integers(min_value=start + 1, max_value=len(part)))
    # when the query is any fragment of one of them
    query = part[start:end]
    # then every token the query needs is in the index document: the index never drops a row
    assert _covered(query, parts)


def test_the_document_only_holds_tokens_postgresql_parses_as_one_word():
    document = search_document(["华科1e5abc", "zhang.wei@example.com", "kh2026050001"])
    assert all(re.fullmatch(r"[a-z0-9]+|[\u3400-\u9fff]+", t) for t in document.split())
    assert all(t[0] in "wd" for t in document.split() if t.isascii())
