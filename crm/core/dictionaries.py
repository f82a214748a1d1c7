"""Configurable lists (SYS-1): industries, sources, customer statuses, loss reasons ...

Seeded defaults come from REQUIREMENTS.md; administrators edit them in Settings.
"""

from __future__ import annotations

from django.core.cache import cache
from django.utils.translation import gettext_lazy as _

from crm.core.models import DictionaryItem

KINDS = {
    "industry": _("Industries"),
    "source": _("Customer sources"),
    "customer_status": _("Customer statuses"),
    "loss_reason": _("Loss reasons"),
}

# (code, Chinese label, English label)
SEED: dict[str, list[tuple[str, str, str]]] = {
    "industry": [
        ("manufacturing", "制造业", "Manufacturing"),
        ("it", "信息技术", "Information technology"),
        ("finance", "金融", "Finance"),
        ("retail", "零售", "Retail"),
        ("education", "教育", "Education"),
        ("healthcare", "医疗健康", "Healthcare"),
        ("construction", "建筑工程", "Construction"),
        ("logistics", "物流运输", "Logistics"),
        ("energy", "能源", "Energy"),
        ("government", "政府及公共事业", "Government and public sector"),
        ("services", "专业服务", "Professional services"),
        ("other", "其他", "Other"),
    ],
    "source": [
        ("website", "官网注册", "Website sign-up"),
        ("trade_show", "展会", "Trade show"),
        ("referral", "转介绍", "Referral"),
        ("customer_referral", "老客户推荐", "Existing customer referral"),
        ("cold_call", "电话拜访", "Cold call"),
        ("social", "社交媒体", "Social media"),
        ("search", "搜索引擎", "Search engine"),
        ("import", "数据导入", "Import"),
        ("other", "其他", "Other"),
    ],
    "customer_status": [
        ("potential", "潜在", "Potential"),
        ("intent", "意向", "Intent"),
        ("deal", "成交", "Deal"),
        ("loyal", "老客户", "Loyal"),
        ("lost", "流失", "Lost"),
    ],
    "loss_reason": [
        ("budget", "预算不足", "Insufficient budget"),
        ("competitor_price", "竞品低价", "Competitor's lower price"),
        ("competitor", "竞争对手赢单", "Competitor won"),
        ("needs_changed", "需求变化", "Needs changed"),
        ("other", "其他", "Other"),
    ],
}
CACHE_KEY = "crm:dictionaries:v1"


def dictionaries_seed() -> None:
    """Create missing default entries; never overwrites what an administrator changed."""
    for kind, rows in SEED.items():
        existing = set(DictionaryItem.objects.filter(kind=kind).values_list("code", flat=True))
        DictionaryItem.objects.bulk_create(
            DictionaryItem(kind=kind, code=code, label=zh, label_en=en, position=i * 10)
            for i, (code, zh, en) in enumerate(rows)
            if code not in existing
        )
    dictionaries_clear_cache()


def dictionaries_clear_cache() -> None:
    cache.delete(CACHE_KEY)


def _all_items() -> list[DictionaryItem]:
    items = cache.get(CACHE_KEY)
    if items is None:
        items = list(DictionaryItem.objects.order_by("kind", "position", "id"))
        cache.set(CACHE_KEY, items, 300)
    return items


def dictionary_items(kind: str, *, include_inactive: bool = False) -> list[DictionaryItem]:
    return [i for i in _all_items() if i.kind == kind and (include_inactive or i.is_active)]


def dictionary_choices(kind: str) -> list[tuple[str, str]]:
    return [(i.code, i.display_label) for i in dictionary_items(kind)]


def dictionary_label(kind: str, code: str | None) -> str:
    if not code:
        return ""
    for item in _all_items():
        if item.kind == kind and item.code == code:
            return item.display_label
    return code


def dictionary_is_valid(kind: str, code: str) -> bool:
    return any(i.code == code for i in dictionary_items(kind))
