"""Configurable lists (SYS-1): industries, sources, customer statuses, loss reasons ...

Seeded defaults come from REQUIREMENTS.md; administrators edit them in Settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from crm.core.audit import audit_record, diff
from crm.core.configstate import config_changed, config_section, config_section_register
from crm.core.errors import PermissionDeniedError, ValidationFailed
from crm.core.models import AuditEntry, DictionaryItem
from crm.core.scope import user_can

KINDS = {
    "industry": _("Industries"),
    "source": _("Customer sources"),
    "customer_status": _("Customer statuses"),
    "loss_reason": _("Loss reasons"),
    "opportunity_lost_reason": _("Opportunity loss reasons"),
    "milestone": _("Opportunity milestones"),
    "followup_method": _("Follow-up methods"),
    "lead_disqualify_reason": _("Lead disqualification reasons"),
    "region": _("Regions"),
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
        ("web_form", "官网表单", "Website form"),
        ("salon", "线下沙龙", "Offline salon"),
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
    # Why a customer was lost (CUS-8; issue 7 §5).
    "loss_reason": [
        ("price_high", "价格过高", "Price too high"),
        ("competitor", "竞品获胜", "Competitor won"),
        ("needs_changed", "需求变化", "Needs changed"),
        ("no_response", "长期无响应", "No response for a long time"),
        ("other", "其他", "Other"),
    ],
    # Why an opportunity was lost (OPP-3; issue 6 §1).
    "opportunity_lost_reason": [
        ("budget", "预算不足", "Insufficient budget"),
        ("competitor_price", "竞品低价", "Competitor's lower price"),
        ("needs_changed", "需求变化", "Needs changed"),
        ("decision_delayed", "决策延期", "Decision postponed"),
        ("unreachable", "联系不上", "Could not be reached"),
        ("other", "其他", "Other"),
    ],
    # Key milestones marked on an opportunity's timeline (OPP-5).
    "milestone": [
        ("contract_submitted", "提交合同", "Contract submitted"),
        ("first_payment", "收到首付款", "First payment received"),
        ("signed", "完成签约", "Contract signed"),
    ],
    # How a follow-up was made (FUP-1).
    "followup_method": [
        ("phone", "电话", "Phone"),
        ("visit", "拜访", "Visit"),
        ("email", "邮件", "Email"),
        ("wechat", "微信", "WeChat"),
        ("other", "其他", "Other"),
    ],
    # Why a lead was disqualified (LEAD-4; issue 7 §1).
    "lead_disqualify_reason": [
        ("no_need", "无需求", "No need"),
        ("no_budget", "无预算", "No budget"),
        ("unreachable", "联系不上", "Could not be reached"),
        ("competitor_customer", "竞品客户", "A competitor's customer"),
        ("duplicate", "重复线索", "Duplicate lead"),
        ("other", "其他", "Other"),
    ],
    # Sales regions, matched by the lead assignment rules (issue 7 §1).
    "region": [
        ("north", "华北", "North China"),
        ("east", "华东", "East China"),
        ("south", "华南", "South China"),
        ("central", "华中", "Central China"),
        ("southwest", "西南", "Southwest China"),
        ("northwest", "西北", "Northwest China"),
        ("northeast", "东北", "Northeast China"),
        ("overseas", "海外", "Overseas"),
    ],
}


@dataclass(frozen=True)
class DictEntry:
    """One entry as readers see it: a plain value shared by the whole process (read-only)."""

    pk: int
    kind: str
    code: str
    label: str
    label_en: str
    position: int
    is_active: bool

    @property
    def id(self) -> int:
        return self.pk

    @property
    def display_label(self) -> str:
        return self.label_en if _english() and self.label_en else self.label

    def __str__(self) -> str:
        return self.display_label


@dataclass(frozen=True)
class _Dictionaries:
    by_kind: dict[str, tuple[DictEntry, ...]]
    # (kind, code) -> label, per interface language: one dict lookup per label on a page.
    labels_zh: dict[tuple[str, str], str]
    labels_en: dict[tuple[str, str], str]


def _english() -> bool:
    return (get_language() or "zh-hans").lower().startswith("en")


def _load() -> _Dictionaries:
    by_kind: dict[str, list[DictEntry]] = {}
    for row in DictionaryItem.objects.order_by("kind", "position", "id").values_list(
        "pk", "kind", "code", "label", "label_en", "position", "is_active"
    ):
        entry = DictEntry(*row)
        by_kind.setdefault(entry.kind, []).append(entry)
    entries = [e for items in by_kind.values() for e in items]
    return _Dictionaries(
        by_kind={kind: tuple(items) for kind, items in by_kind.items()},
        labels_zh={(e.kind, e.code): e.label for e in entries},
        labels_en={(e.kind, e.code): e.label_en or e.label for e in entries},
    )


config_section_register("dictionaries", _load)


def dictionaries_seed() -> None:
    """Create missing default entries; never overwrites what an administrator changed."""
    with transaction.atomic():
        for kind, rows in SEED.items():
            existing = set(DictionaryItem.objects.filter(kind=kind).values_list("code", flat=True))
            DictionaryItem.objects.bulk_create(
                DictionaryItem(kind=kind, code=code, label=zh, label_en=en, position=i * 10)
                for i, (code, zh, en) in enumerate(rows)
                if code not in existing
            )
        config_changed()  # bulk_create sends no signals


def dictionaries_clear_cache() -> None:
    """Make every process read the lists again (after writing them other than through the
    services, e.g. with QuerySet.update)."""
    config_changed()


def _dictionaries() -> _Dictionaries:
    return config_section("dictionaries")


def dictionary_items(kind: str, *, include_inactive: bool = False) -> list[DictEntry]:
    items = _dictionaries().by_kind.get(kind, ())
    return list(items) if include_inactive else [i for i in items if i.is_active]


def dictionary_choices(kind: str) -> list[tuple[str, str]]:
    return [(i.code, i.display_label) for i in dictionary_items(kind)]


def dictionary_labels() -> dict[tuple[str, str], str]:
    """Every label in the current language by (kind, code): for pages that show many."""
    d = _dictionaries()
    return d.labels_en if _english() else d.labels_zh


def dictionary_label(kind: str, code: str | None) -> str:
    if not code:
        return ""
    return dictionary_labels().get((kind, code), code)


def dictionary_is_valid(kind: str, code: str) -> bool:
    return any(i.code == code for i in dictionary_items(kind))


# --- writes (Settings → Lists) ----------------------------------------------------------------

CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def _require_configure(actor: Any) -> None:
    if not user_can(actor, "settings", "configure"):
        raise PermissionDeniedError()


def _item_snapshot(item: DictionaryItem) -> dict[str, Any]:
    return {
        "code": item.code,
        "label": item.label,
        "label_en": item.label_en,
        "position": item.position,
        "is_active": item.is_active,
    }


def _custom_field_kind(kind: str) -> bool:
    """The options of a choice custom field are a list too: `cf_<module>_<key>`."""
    from crm.core.customfields import CHOICE_TYPES, custom_modules
    from crm.core.models import CustomField

    return any(
        kind.startswith(f"cf_{module}_")
        and CustomField.objects.filter(
            module=module, key=kind.removeprefix(f"cf_{module}_"), type__in=CHOICE_TYPES
        ).exists()
        for module in custom_modules()
    )


@transaction.atomic
def dictionary_item_save(
    *, actor: Any, kind: str, data: dict[str, Any], item: DictionaryItem | None = None
) -> DictionaryItem:
    """Add or edit one entry of a configurable list (SYS-1).

    Codes are what records store, so a code is fixed once created and unique within its list;
    labels and positions may change freely.
    """
    _require_configure(actor)
    if kind not in KINDS and not _custom_field_kind(kind):
        raise ValidationFailed(fields={"kind": [_("Choose a list from the settings page.")]})
    if item is not None and item.kind != kind:
        raise ValidationFailed(fields={"kind": [_("This entry belongs to another list.")]})
    errors: dict[str, list[str]] = {}
    code = str(data.get("code") or "").strip()
    if item is None:
        if not code:
            errors["code"] = [_("Enter a code.")]
        elif not CODE_PATTERN.match(code):
            errors["code"] = [
                _(
                    "Use up to 40 lower-case letters, digits, hyphens and underscores, "
                    "starting with a letter or digit."
                )
            ]
        elif DictionaryItem.objects.filter(kind=kind, code=code).exists():
            errors["code"] = [_("This code is already used in this list.")]
    elif code and code != item.code:
        errors["code"] = [_("A code cannot be changed once created; records store it.")]
    label = str(data.get("label") or "").strip()
    if not label:
        errors["label"] = [_("Enter the Chinese label.")]
    elif len(label) > 80:
        errors["label"] = [_("Use at most 80 characters.")]
    elif (
        DictionaryItem.objects.filter(kind=kind, label=label)
        .exclude(pk=getattr(item, "pk", None))
        .exists()
    ):
        errors["label"] = [_("Another entry in this list already has this label.")]
    label_en = str(data.get("label_en") or "").strip()
    if len(label_en) > 80:
        errors["label_en"] = [_("Use at most 80 characters.")]
    position = data.get("position")
    if position in (None, ""):
        if item is not None:
            position = item.position
        else:
            last = DictionaryItem.objects.filter(kind=kind).aggregate(m=Max("position"))["m"]
            position = 0 if last is None else last + 10
    else:
        try:
            position = int(position)
            if not 0 <= position <= 1_000_000:
                raise ValueError
        except (TypeError, ValueError):
            errors["position"] = [_("Enter a whole number from 0 to 1000000.")]
    if errors:
        raise ValidationFailed(fields=errors)
    before = _item_snapshot(item) if item is not None else {}
    if item is None:
        item = DictionaryItem(kind=kind, code=code)
    item.label = label
    item.label_en = label_en
    item.position = position
    if "is_active" in data:
        item.is_active = bool(data["is_active"])
    item.save()
    audit_record(
        actor=actor,
        action=AuditEntry.Action.UPDATE if before else AuditEntry.Action.CREATE,
        instance=item,
        object_repr=f"{kind}: {item.label}",
        changes=diff(before, _item_snapshot(item)),
    )
    config_changed()
    return item


@transaction.atomic
def dictionary_item_deactivate(*, actor: Any, item: DictionaryItem) -> DictionaryItem:
    """Hide an entry from choices; records that use it keep showing its label."""
    return _dictionary_item_set_active(actor=actor, item=item, active=False)


@transaction.atomic
def dictionary_item_reactivate(*, actor: Any, item: DictionaryItem) -> DictionaryItem:
    return _dictionary_item_set_active(actor=actor, item=item, active=True)


def _dictionary_item_set_active(
    *, actor: Any, item: DictionaryItem, active: bool
) -> DictionaryItem:
    _require_configure(actor)
    if item.is_active == active:
        return item
    item.is_active = active
    item.save(update_fields=["is_active"])
    audit_record(
        actor=actor,
        action=AuditEntry.Action.UPDATE if active else AuditEntry.Action.DEACTIVATE,
        instance=item,
        object_repr=f"{item.kind}: {item.label}",
        changes=[{"field": "is_active", "before": not active, "after": active}],
    )
    config_changed()
    return item
