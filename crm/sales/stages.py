"""The default pipeline (OPP-2, seed 000 §3.2): seeded once, then the administrator's."""

from __future__ import annotations

from django.db import transaction

# (code, Chinese name, English name, probability %, kind, entry criteria)
DEFAULT_STAGES: list[tuple[str, str, str, int, str, str]] = [
    ("initial", "初步接触", "Initial contact", 10, "open", "已与客户关键人建立联系，确认初步意向"),
    ("needs", "需求分析", "Needs analysis", 25, "open", "已了解客户需求、预算与决策链"),
    ("proposal", "方案提交", "Proposal", 50, "open", "已向客户提交解决方案或报价"),
    ("negotiation", "商务谈判", "Negotiation", 70, "open", "客户认可方案，进入价格与条款谈判"),
    ("contract", "合同签订", "Contract signed", 100, "won", "合同已签订（成交）"),
    ("paid", "回款完成", "Paid in full", 100, "won", "合同款项已全部回款"),
    ("lost", "商机流失", "Lost", 0, "lost", "客户明确放弃或选择其他供应商"),
]


def stages_seed(*, stage_model=None) -> int:
    """Create the default stages when the pipeline is empty; never touches an edited one.

    The model argument lets the data migration pass its historical model.
    """
    from crm.core.configstate import config_changed

    model = stage_model
    if model is None:
        from crm.sales.models import Stage as model
    with transaction.atomic():
        if model.objects.exists():
            return 0
        model.objects.bulk_create(
            model(
                code=code,
                name=zh,
                name_en=en,
                position=(i + 1) * 10,
                probability=probability,
                kind=kind,
                entry_criteria=criteria,
            )
            for i, (code, zh, en, probability, kind, criteria) in enumerate(DEFAULT_STAGES)
        )
        if stage_model is None:
            config_changed()
    return len(DEFAULT_STAGES)
