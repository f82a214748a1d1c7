#!/usr/bin/env python
"""Add opportunities, stage histories, follow-ups and their timeline lines to a benchmark
database that bench/generate.py filled with customers (issue 6 §7).

    python bench/generate_sales.py [--opportunities-per-customer 0.5]
                                   [--followups-per-customer 3]
                                   [--database-url postgres://postgres@127.0.0.1:5432/crm_bench]
                                   [--seed 1] [--batch 20000]

For every customer that has neither opportunities nor follow-ups yet (so a re-run adds nothing
to the customers it filled), in customer id order:
- opportunities (0, 1 or 2; 0.5 on average) owned by the customer's owner, created after the
  customer, named like a real deal ("<company>2025年Q3办公设备采购"), amounts from ¥8,000 to
  ¥3,000,000 (log-uniform), an expected close date 2–6 months after creation; 55 % still open
  (spread over the four open stages, fewer the further along), 28 % won (合同签订, a tenth of
  those already 回款完成), 17 % lost with one of the seeded loss reasons;
- their stage history: one change per stage passed, from creation to the current stage, with
  the seconds spent in the previous stage, as opportunity_move_stage records it;
- follow-ups (0–6; 3 on average) by the customer's owner between the customer's creation and
  now, a third of them on one of its opportunities; the newest one of two customers in five
  plans a next step between ten days ago and two weeks ahead (so "overdue", "today" and "this
  week" all have rows), the earlier plans done;
- the customer's last/next follow-up times, and one timeline line per follow-up, stage change,
  win and loss, with the data the services write;
- numbers SJ + yyyymm + sequence by the month each opportunity was created, continuing after
  the counters, which are moved to the last value per month.

Rows are written with COPY on PostgreSQL (secondary indexes of the new tables dropped for the
load and rebuilt at the end, then VACUUM ANALYZE) and executemany on SQLite, one transaction per
batch of customers. The pipeline's stored totals are rebuilt at the end when the app keeps them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import django_setup, quoted, restore_indexes  # noqa: E402

PRODUCTS = [
    "办公设备采购",
    "ERP系统升级",
    "年度运维服务",
    "生产线自动化改造",
    "云服务器扩容",
    "安防监控项目",
    "员工培训服务",
    "数据中心建设",
    "物流管理系统",
    "营销数字化咨询",
    "网络设备更新",
    "软件许可续约",
]
SUMMARIES = [
    ("phone", "电话沟通项目进展，客户确认需求范围。", "希望下周看到详细方案。"),
    ("visit", "上门拜访采购经理，演示产品功能。", "对功能满意，关注售后响应时间。"),
    ("email", "发送报价单及产品资料。", "已收到，内部评估中。"),
    ("wechat", "微信跟进合同条款细节。", "法务在审核付款条款。"),
    ("phone", "回访使用情况，了解新的采购计划。", "明年有扩容预算。"),
    ("visit", "与技术负责人开会讨论实施计划。", "要求提供同行业案例。"),
    ("other", "参加客户年会，交流合作方向。", "关系良好。"),
]
GOALS = ["确认方案细节", "推进合同签订", "邀请参观样板客户", "了解预算审批进度", "催收首付款"]
LOST_REASONS = ["budget", "competitor_price", "needs_changed", "decision_delayed", "unreachable"]
NEW_TABLES = (
    "sales_opportunity",
    "sales_stagechange",
    "activities_followup",
    "core_timelineentry",
)


def _fields(model: Any) -> list[Any]:
    return [f for f in model._meta.concrete_fields if not f.primary_key or f.name == "id"]


class Writer:
    """Rows of several tables, written per batch: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, keep_indexes: bool, saved: Path) -> None:
        from django.db import connection

        self.pg = connection.vendor == "postgresql"
        self.keep_indexes = keep_indexes
        self.saved = saved

    def begin(self) -> None:
        from django.db import connection

        if not self.pg or self.keep_indexes:
            return
        with connection.cursor() as cur:
            cur.execute(
                """
                SELECT i.relname, pg_get_indexdef(i.oid)
                FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                WHERE x.indrelid = ANY(%s::regclass[])
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
                """,
                [list(NEW_TABLES)],
            )
            dropped = list(cur.fetchall())
            self.saved.parent.mkdir(parents=True, exist_ok=True)
            with self.saved.open("a", encoding="utf-8") as fh:
                for _name, definition in dropped:
                    fh.write(definition.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
                    fh.write(";\n")
            for name, _definition in dropped:
                cur.execute(f'DROP INDEX IF EXISTS "{name}"')
        print(f"dropped {len(dropped)} secondary indexes for the load", flush=True)

    def write(self, table: str, fields: list[Any], rows: list[tuple]) -> None:
        from django.db import connection

        if not rows:
            return
        columns = quoted([f.column for f in fields])
        with connection.cursor() as cur:
            if self.pg:
                import json

                with cur.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(
                            [
                                json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v
                                for v in row
                            ]
                        )
            else:
                marks = ", ".join(["%s"] * len(fields))
                cur.executemany(
                    f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                    [
                        [
                            f.get_db_prep_save(v, connection)
                            for f, v in zip(fields, row, strict=True)
                        ]
                        for row in rows
                    ],
                )

    def finish(self) -> None:
        from django.db import connection

        if not self.pg:
            with connection.cursor() as cur:
                cur.execute("ANALYZE")
            return
        with connection.cursor() as cur:
            for table in NEW_TABLES:
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
        restore_indexes(self.saved)
        with connection.cursor() as cur:
            cur.execute(f"VACUUM (ANALYZE) {', '.join(NEW_TABLES)}, customers_customer")


def _log_uniform(rng: random.Random, low: float, high: float) -> Decimal:
    value = math.exp(rng.uniform(math.log(low), math.log(high)))
    return Decimal(round(value / 100) * 100).quantize(Decimal("0.01"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--opportunities-per-customer", type=float, default=0.5)
    parser.add_argument("--followups-per-customer", type=float, default=3.0)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=20000, help="customers per transaction")
    parser.add_argument("--keep-indexes", action="store_true")
    args = parser.parse_args(argv)
    django_setup(args.database_url)

    from django.conf import settings
    from django.core.management import call_command
    from django.db import transaction
    from django.db.models import Max
    from django.utils import timezone

    from crm.accounts.models import User
    from crm.activities.models import FollowUp
    from crm.core.models import NumberSequence, TimelineEntry
    from crm.core.numbering import numbering_rule_get
    from crm.customers.models import Customer
    from crm.sales.models import Opportunity, Stage, StageChange

    call_command("migrate", "--noinput", verbosity=0)
    tz = timezone.get_default_timezone()
    rule = numbering_rule_get(key="opportunity")
    stages = list(Stage.objects.filter(is_active=True).order_by("position", "id"))
    open_stages = [s for s in stages if s.kind == "open"]
    won_stages = [s for s in stages if s.kind == "won"]
    lost_stage = next(s for s in stages if s.kind == "lost")
    rng = random.Random(f"sales-{args.seed}")
    names = {u.pk: u.display_name for u in User.objects.all()}
    now = timezone.now()
    counters = dict(
        NumberSequence.objects.filter(key="opportunity").values_list("period", "last_value")
    )
    next_ids = {
        model: (model.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        for model in (Opportunity, StageChange, FollowUp, TimelineEntry)
    }
    opp_fields, chg_fields = _fields(Opportunity), _fields(StageChange)
    fup_fields, tl_fields = _fields(FollowUp), _fields(TimelineEntry)
    writer = Writer(args.keep_indexes, ROOT / "bench" / "results" / "dropped-sales-indexes.sql")
    writer.begin()
    done_customers = set(
        Opportunity.objects.values_list("customer_id", flat=True).distinct().iterator()
    ) | set(FollowUp.objects.values_list("customer_id", flat=True).distinct().iterator())
    started = time.perf_counter()
    totals = {"opportunities": 0, "stage_changes": 0, "followups": 0, "timeline": 0}
    last_pk = 0
    while True:
        customers = list(
            Customer.objects.filter(pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", "owner_id", "created_at", "name", "deleted_at")[: args.batch]
        )
        if not customers:
            break
        last_pk = customers[-1][0]
        opps: list[tuple] = []
        changes: list[tuple] = []
        fups: list[tuple] = []
        lines: list[tuple] = []
        times: list[tuple] = []
        periods: dict[str, int] = {}

        def line(customer_id, kind, at, actor, module, otype, oid, data, lines=lines) -> None:
            lines.append(
                (
                    next_ids[TimelineEntry],
                    customer_id,
                    kind,
                    at,
                    actor,
                    module,
                    actor,
                    otype,
                    oid,
                    data,
                )
            )
            next_ids[TimelineEntry] += 1

        for cid, owner, created, cname, _deleted in customers:
            if cid in done_customers:
                continue
            age = max((now - created).total_seconds(), 3600)
            mine: list[tuple[int, str, dt.datetime]] = []
            n_opps = (
                rng.choices(
                    (0, 1, 2),
                    weights=(
                        1 - args.opportunities_per_customer * 0.9,
                        args.opportunities_per_customer * 0.8,
                        args.opportunities_per_customer * 0.1,
                    ),
                )[0]
                if args.opportunities_per_customer < 1.25
                else round(rng.uniform(0, 2 * args.opportunities_per_customer))
            )
            for _n in range(n_opps):
                oid = next_ids[Opportunity]
                next_ids[Opportunity] += 1
                o_created = created + dt.timedelta(seconds=age * rng.random() ** 0.7)
                local = timezone.localtime(o_created, tz)
                period = local.strftime(rule.period_format)
                counters[period] = counters.get(period, 0) + 1
                periods[period] = counters[period]
                number = f"{rule.prefix}{period}{counters[period]:0{rule.digits}d}"
                quarter = (local.month - 1) // 3 + 1
                name = f"{cname[:40]}{local.year}年Q{quarter}{rng.choice(PRODUCTS)}"
                amount = _log_uniform(rng, 8000, 3_000_000)
                roll = rng.random()
                if roll < 0.55:
                    status = "open"
                    reach = rng.choices(range(len(open_stages)), weights=(40, 28, 20, 12))[0]
                    path = open_stages[: reach + 1]
                elif roll < 0.83:
                    status = "won"
                    path = [*open_stages, won_stages[0]]
                    if rng.random() < 0.1 and len(won_stages) > 1:
                        path.append(won_stages[1])
                else:
                    status = "lost"
                    path = [*open_stages[: rng.randrange(1, len(open_stages) + 1)], lost_stage]
                # Each step takes a while; the last one ends before now.
                span = max((now - o_created).total_seconds(), 600)
                cuts = sorted(rng.random() for _ in path[1:])
                at_times = [o_created] + [o_created + dt.timedelta(seconds=span * c) for c in cuts]
                previous = None
                prev_at = o_created
                for stage, at in zip(path, at_times, strict=True):
                    changes.append(
                        (
                            next_ids[StageChange],
                            oid,
                            previous.pk if previous else None,
                            stage.pk,
                            owner,
                            at,
                            int((at - prev_at).total_seconds()) if previous else 0,
                        )
                    )
                    next_ids[StageChange] += 1
                    if previous is not None:
                        kind = {"won": "won", "lost": "lost"}.get(stage.kind, "stage_change")
                        data = {
                            "opportunity": name,
                            "number": number,
                            "from": _stage(previous),
                            "to": _stage(stage),
                        }
                        if kind == "won":
                            data.update(amount=f"{amount:.2f}", contract_no=f"HT{number[2:]}")
                        elif kind == "lost":
                            data["reason"] = "budget"
                        line(cid, kind, at, owner, "opportunities", "opportunity", oid, data)
                    previous, prev_at = stage, at
                line(
                    cid,
                    "opportunity_created",
                    o_created,
                    owner,
                    "opportunities",
                    "opportunity",
                    oid,
                    {
                        "opportunity": name,
                        "number": number,
                        "to": _stage(path[0]),
                        "amount": f"{amount:.2f}",
                    },
                )
                stage = path[-1]
                closed_at = at_times[-1] if status != "open" else None
                expected = (o_created + dt.timedelta(days=rng.randrange(60, 180))).date()
                if status == "open" and expected < now.date():
                    expected = (now + dt.timedelta(days=rng.randrange(5, 150))).date()
                probability = stage.probability
                opp = Opportunity(
                    id=oid,
                    created_at=o_created,
                    updated_at=at_times[-1],
                    version=len(path),
                    deleted_at=None,
                    deleted_by_id=None,
                    number=number,
                    name=name,
                    customer_id=cid,
                    contact_id=None,
                    owner_id=owner,
                    stage_id=stage.pk,
                    status=status,
                    amount=amount,
                    expected_close_date=expected,
                    probability=probability,
                    probability_manual=False,
                    description="",
                    competitors="",
                    source=rng.choice(["website", "referral", "trade_show", "cold_call"]),
                    contract_no=f"HT{number[2:]}" if status == "won" else "",
                    actual_amount=(amount * Decimal(rng.choice(["0.9", "0.95", "1"]))).quantize(
                        Decimal("0.01")
                    )
                    if status == "won"
                    else None,
                    closed_on=timezone.localtime(closed_at, tz).date() if closed_at else None,
                    lost_reason=rng.choice(LOST_REASONS) if status == "lost" else "",
                    lost_note="",
                    stage_entered_at=at_times[-1],
                    created_by_id=owner,
                    updated_by_id=owner,
                    pinyin="",
                    search_blob="",
                )
                _search_fields(opp, cname)
                opps.append(tuple(getattr(opp, f.attname) for f in opp_fields))
                mine.append((oid, name, o_created))
            # Follow-ups between the customer's creation and now, newest last.
            n_fups = min(6, max(0, round(rng.gauss(args.followups_per_customer, 1.4))))
            moments = sorted(
                created + dt.timedelta(seconds=age * rng.random() ** 0.6) for _ in range(n_fups)
            )
            last_id = None
            next_at = None
            for i, at in enumerate(moments):
                fid = next_ids[FollowUp]
                next_ids[FollowUp] += 1
                method, summary, feedback = rng.choice(SUMMARIES)
                opp_id = None
                candidates = [m for m in mine if m[2] <= at]
                if candidates and rng.random() < 0.33:
                    opp_id = rng.choice(candidates)[0]
                newest = i == n_fups - 1
                plan_at = None
                done_at = None
                if newest and rng.random() < 0.4:
                    plan_at = now + dt.timedelta(seconds=rng.uniform(-10 * 86400, 14 * 86400))
                    if plan_at <= at:
                        plan_at = at + dt.timedelta(hours=rng.randrange(2, 72))
                    next_at = plan_at if plan_at > now - dt.timedelta(days=3650) else None
                elif not newest and rng.random() < 0.5:
                    plan_at = at + dt.timedelta(days=rng.randrange(1, 10))
                    done_at = moments[i + 1]
                fup = FollowUp(
                    id=fid,
                    created_at=at,
                    updated_at=at,
                    version=1,
                    deleted_at=None,
                    deleted_by_id=None,
                    customer_id=cid,
                    opportunity_id=opp_id,
                    contact_id=None,
                    author_id=owner,
                    method=method,
                    occurred_at=at,
                    summary=summary,
                    feedback=feedback,
                    next_action=rng.choice(GOALS) if plan_at else "",
                    due_on=None,
                    next_at=plan_at,
                    next_method="phone" if plan_at else "",
                    next_goal=rng.choice(GOALS) if plan_at else "",
                    next_done_at=done_at,
                    next_done_by_id=None,
                    created_by_id=owner,
                    updated_by_id=owner,
                )
                fups.append(tuple(getattr(fup, f.attname) for f in fup_fields))
                line(
                    cid,
                    "followup",
                    at,
                    owner,
                    "followups",
                    "followup",
                    fid,
                    {
                        "method": method,
                        "summary": summary,
                        "author": names[owner],
                        "next_at": plan_at.isoformat() if plan_at else None,
                    },
                )
                last_id = fid
            if last_id is not None:
                times.append((cid, moments[-1], next_at))
        with transaction.atomic():
            writer.write(Opportunity._meta.db_table, opp_fields, opps)
            writer.write(StageChange._meta.db_table, chg_fields, changes)
            writer.write(FollowUp._meta.db_table, fup_fields, fups)
            writer.write(TimelineEntry._meta.db_table, tl_fields, lines)
            _customer_times(times)
            for period, value in periods.items():
                seq, _created = NumberSequence.objects.get_or_create(
                    key="opportunity", period=period
                )
                if seq.last_value < value:
                    NumberSequence.objects.filter(pk=seq.pk).update(last_value=value)
        totals["opportunities"] += len(opps)
        totals["stage_changes"] += len(changes)
        totals["followups"] += len(fups)
        totals["timeline"] += len(lines)
        print(f"customers ≤ {last_pk}: {totals} ({time.perf_counter() - started:.0f}s)", flush=True)
    writer.finish()
    _pipeline_rebuild()
    print(f"done in {time.perf_counter() - started:.0f}s: {totals}", flush=True)
    del settings
    return 0


def _stage(stage: Any) -> dict[str, Any]:
    return {"id": stage.pk, "name": stage.name, "name_en": stage.name_en}


def _search_fields(opp: Any, customer_name: str) -> None:
    """The derived search columns, computed by the sales services' own function."""
    from crm.sales.services import opportunity_search_refresh

    opportunity_search_refresh(opp)


def _customer_times(times: list[tuple]) -> None:
    """Each customer's last and next follow-up, as the follow-up services keep them."""
    from django.db import connection

    if not times:
        return
    from crm.customers.models import Customer

    rows = [
        Customer(pk=cid, last_followup_at=last, next_followup_at=nxt) for cid, last, nxt in times
    ]
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS bench_times "
                "(id bigint, l timestamptz, n timestamptz)"
            )
            cur.execute("TRUNCATE bench_times")
            with cur.cursor.copy("COPY bench_times (id, l, n) FROM STDIN") as copy:
                for row in times:
                    copy.write_row(row)
            cur.execute(
                "UPDATE customers_customer c SET last_followup_at = t.l, next_followup_at = t.n "
                "FROM bench_times t WHERE c.id = t.id"
            )
        return
    Customer.objects.bulk_update(rows, ["last_followup_at", "next_followup_at"], batch_size=2000)


def _pipeline_rebuild() -> None:
    try:
        from crm.sales.services import pipeline_totals_rebuild
    except ImportError:
        return
    started = time.perf_counter()
    pipeline_totals_rebuild()
    print(f"pipeline totals rebuilt in {time.perf_counter() - started:.0f}s", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
