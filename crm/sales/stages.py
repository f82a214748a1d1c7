"""The default pipeline (OPP-2, seed 000 §3.2): seeded once, then the administrator's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import get_language

from crm.core.configstate import config_section, config_section_register

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


# --- the pipeline as every request reads it ----------------------------------------------------


@dataclass(frozen=True)
class StageInfo:
    """One stage as readers see it: a plain value shared by the whole process (read-only)."""

    id: int
    code: str
    name: str
    name_en: str
    position: int
    probability: int
    kind: str
    entry_criteria: str
    is_active: bool

    @property
    def pk(self) -> int:
        return self.id

    @property
    def display_name(self) -> str:
        lang = (get_language() or "zh-hans").lower()
        if lang.startswith("en") and self.name_en:
            return self.name_en
        return self.name

    @property
    def is_open(self) -> bool:
        return self.kind == "open"

    def __str__(self) -> str:
        return self.display_name


def _stages_load() -> tuple[StageInfo, ...]:
    from crm.sales.models import Stage

    return tuple(
        StageInfo(*row)
        for row in Stage.objects.order_by("position", "id").values_list(
            "id",
            "code",
            "name",
            "name_en",
            "position",
            "probability",
            "kind",
            "entry_criteria",
            "is_active",
        )
    )


# Stages are read on nearly every page of the module (the kanban's columns, every card's
# stage name, the stage path): parsed once per process and kept fresh by the configuration
# stamp, which every stage write bumps (services, and config_models_register in apps.py).
config_section_register("stages", _stages_load)


def stages_all(*, include_retired: bool = True) -> list[StageInfo]:
    """Every stage in pipeline order (retired ones too unless told otherwise)."""
    stages = config_section("stages")
    return [s for s in stages if include_retired or s.is_active]


def stage_info(stage_id: Any) -> StageInfo | None:
    return next((s for s in config_section("stages") if s.id == stage_id), None)


def stages_by_id() -> dict[int, StageInfo]:
    return {s.id: s for s in config_section("stages")}


def stages_open(*, include_retired: bool = False) -> list[StageInfo]:
    return [s for s in stages_all(include_retired=include_retired) if s.kind == "open"]


def stage_first(kind: str) -> StageInfo | None:
    """The first active stage of a kind by position: where new opportunities start (open),
    where a win lands (won), where a loss lands (lost)."""
    return next((s for s in stages_all(include_retired=False) if s.kind == kind), None)
