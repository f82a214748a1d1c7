#!/usr/bin/env python
"""Add leads (issue 7 §1, §3) and the customers' clock fields (§3, §4, §6) to a benchmark
database that bench/generate.py and bench/generate_sales.py filled.

    python bench/generate_leads.py [--leads 300000] [--seed 1] [--batch 10000]
                                   [--swept-hours-ago 24] [--pool-share 0.004]
                                   [--database-url postgres://postgres@127.0.0.1:5432/crm_bench]

Leads, written as the application would have written them:
- numbers XS + yyyymm + sequence by the month each lead arrived (Asia/Shanghai), continuing
  after what the database holds, with core NumberSequence moved in the same transaction as
  each batch (as generate.py does for customers);
- created over the past 18 months, more in recent months, plus a dense last month (15 %);
  grades A/B/C 2:4.5:3.5; the customers' source dictionary; a region from the company's city;
- 85 % owned by the generator's demo owners (rep1, rep2, rep3, manager, manager2 in the
  customers' proportions), 15 % unassigned (still new, or disqualified as duplicates);
- statuses from what happened to each lead: first contact after a delay (mostly inside the
  grade's SLA, a fifth late, a few never), then qualified, converted or disqualified more often
  the older the lead is; each disqualification with a reason of the dictionary;
- first_contact_due_at from crm.leads.clocks.lead_first_contact_due (from the grade's SLA
  setting), first_contacted_at = the first follow-up, sla_state from
  crm.leads.clocks.lead_sla_state_at as of the last sweep (see --swept-hours-ago) and at once
  for what settled it later (creation, the first contact), the reminder and breach notice
  markers of the notices that sweep would have sent;
- follow-ups on leads (activities FollowUp, lead set, customer empty): the first contact of
  every contacted lead, and a later one for most open leads (1.3 per contacted lead), so that
  the lead cadence clock (last_followup_at, followup_overdue_since) has rows both inside and
  past it;
- converted leads link to an existing customer of the same owner created when the lead was
  converted (its name, primary contact and source become the lead's), to its primary contact
  and, for half of those that have one, to its first opportunity; their follow-ups carry the
  customer and its contact too, with their lines and a "lead_converted" line on its timeline
  (as crm.leads.conversion.lead_convert does);
- derived keys company_key / phone_digits / email_key / pinyin / search_blob computed as
  crm/customers computes them for customers (name_key, digits_only, pinyin_initials,
  name_fold): crm.leads.services.lead_search_values when it exists, else the same recipe.

The customers' clocks (once per customer: skipped for customers whose clocks are set), so
that the sweeps of issue 7 meet a harsh but realistic archive:
- owned_since: deal and loyal customers (never returned to the pool) since creation; the
  others since a claim or transfer within the last 88 days (older ones would have been
  returned by the default "no won opportunity for 90 days" rule), or since creation;
- last_won_at from their won opportunities, status_changed_at, lost_reason for lost ones;
- a follow-up by the owner for most customers: 80 % inside their grade's cadence, the rest
  past it (a non-protected customer by less than the pool's follow-up days, so it is still
  owned), 8 % of deal/loyal customers dormant (no follow-up for 95–400 days), unless the log
  already has a later one; each a FollowUp row with its timeline line, so last_followup_at /
  next_followup_at / last_activity_at say what the log says;
- a public pool of --pool-share of the customers (owner empty; returned by the follow-up rule
  or released with a reason, from 10 minutes to 60 days ago), each with its PoolMove;
- followup_overdue_since, dormant_since and pool_notice_at as of the last sweep;
- the follow-up plan reminders (issue 6) that sweep sent for the plans of the last 8 days,
  as notifications with its own dedup keys (marked read).

"The last sweep": every stored clock state is what a sweep --swept-hours-ago hours ago would
have left (default 24: the worker was down for a day), so the first `crm sweep` after this
script catches up a day of breaches, overdue customers, pool notices and returns, and the
second has nothing left to send. Settings (SLA hours, cadences, pool rules, dormant days) are
read from the database, so a changed setting gives a matching archive.

Re-running resumes an interrupted run: leads are topped up to --leads, and customers whose
clocks are set are left alone (--leads 0 only sets the clocks; --no-customer-clocks only adds
leads).

Writes: COPY on PostgreSQL (the leads table's secondary indexes dropped for a large load and
rebuilt at the end; the big follow-up and timeline tables keep theirs; customers updated from
a temporary table per batch), executemany / bulk_update on SQLite; one transaction per batch;
then VACUUM ANALYZE (ANALYZE on SQLite).
"""

from __future__ import annotations

import argparse
import bisect
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

from bench.generate import (  # noqa: E402
    OWNER_WEIGHTS,
    REQUIREMENTS,
    SOURCES,
    django_setup,
    enterprise_names,
    landline,
    mobile,
    quoted,
    restore_indexes,
    weighted,
)
from bench.generate_sales import GOALS, SUMMARIES  # noqa: E402

DAY = 86400.0
HOUR = 3600.0
MONTHS = 18
RECENT_SHARE = 0.15  # leads of the last 30 days on top of the 18-month spread
LEAD_GRADES = [("A", 20), ("B", 45), ("C", 35)]
UNASSIGNED = 0.15
NEVER_CONTACTED = 0.06  # owned leads nobody called
CITY_REGION = {
    "北京": "north",
    "天津": "north",
    "上海": "east",
    "杭州": "east",
    "南京": "east",
    "苏州": "east",
    "青岛": "east",
    "厦门": "east",
    "合肥": "east",
    "宁波": "east",
    "济南": "east",
    "无锡": "east",
    "深圳": "south",
    "广州": "south",
    "东莞": "south",
    "佛山": "south",
    "武汉": "central",
    "长沙": "central",
    "郑州": "central",
    "成都": "southwest",
    "重庆": "southwest",
    "西安": "northwest",
}
LEAD_SUMMARIES = [
    ("phone", "首次电话联系，了解基本需求。", "对产品有兴趣，希望收到资料。"),
    ("phone", "电话沟通采购计划和预算。", "预算在审批中，下月有结果。"),
    ("wechat", "添加微信，发送产品介绍和案例。", "已查看资料，约下周详谈。"),
    ("email", "邮件发送报价和方案概要。", "内部评估中。"),
    ("visit", "上门拜访，演示产品。", "决策人参与，反馈积极。"),
    ("phone", "回访确认需求是否明确。", "暂未确定，季度末再联系。"),
]
LEAD_GOALS = ["发送方案资料", "约见决策人", "确认预算", "安排产品演示", "确认采购时间"]
NOTES = ["展会上交换名片。", "官网留言咨询价格。", "老客户介绍，需尽快联系。", "对移动端很感兴趣。"]
DISQUALIFY_CONTACTED = [
    ("no_need", 35),
    ("no_budget", 25),
    ("competitor_customer", 15),
    ("unreachable", 10),
    ("other", 10),
    ("duplicate", 5),
]
DISQUALIFY_UNCONTACTED = [("unreachable", 50), ("duplicate", 35), ("other", 15)]
LOSS_REASONS = ["price_high", "competitor", "needs_changed", "no_response", "other"]
RELEASE_REASONS = [
    "客户暂无采购计划，释放到公海。",
    "联系人离职，暂时无法跟进。",
    "区域调整，释放给其他同事。",
]


def _fields(model: Any) -> list[Any]:
    return list(model._meta.concrete_fields)


def _row(obj: Any, fields: list[Any]) -> tuple:
    return tuple(getattr(obj, f.attname) for f in fields)


def _dt(ts: float | None) -> dt.datetime | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC)


def _ts(value: dt.datetime | None) -> float | None:
    return None if value is None else value.timestamp()


class Writer:
    """Rows of several tables per batch: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self) -> None:
        from django.db import connection

        self.pg = connection.vendor == "postgresql"

    def write(self, table: str, fields: list[Any], rows: list[tuple]) -> None:
        import json

        from django.db import connection

        if not rows:
            return
        columns = quoted([f.column for f in fields])
        with connection.cursor() as cur:
            if self.pg:
                with cur.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(
                            [
                                json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v
                                for v in row
                            ]
                        )
                return
            marks = ", ".join(["%s"] * len(fields))
            cur.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                [
                    [f.get_db_prep_save(v, connection) for f, v in zip(fields, row, strict=True)]
                    for row in rows
                ],
            )

    def serial_reset(self, tables: list[str]) -> None:
        from django.db import connection

        if not self.pg:
            return
        with connection.cursor() as cur:
            for table in tables:
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )


def drop_indexes(table: str, saved: Path) -> int:
    """PostgreSQL: drop `table`'s secondary indexes, their definitions saved first."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT i.relname, pg_get_indexdef(i.oid)
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            WHERE x.indrelid = %s::regclass
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
            """,
            [table],
        )
        dropped = list(cur.fetchall())
        saved.parent.mkdir(parents=True, exist_ok=True)
        with saved.open("a", encoding="utf-8") as fh:
            for _name, definition in dropped:
                fh.write(definition.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
                fh.write(";\n")
        for name, _definition in dropped:
            cur.execute(f'DROP INDEX IF EXISTS "{name}"')
    return len(dropped)


# --- derived keys -----------------------------------------------------------------------------


def lead_keys_fill(lead: Any) -> None:
    """company_key, phone_digits, email_key, pinyin, search_blob: the leads service's own
    function when it has one, else the customers' recipe applied to the lead's fields."""
    try:
        from crm.leads import services as lead_services
    except ImportError:
        lead_services = None
    for name in ("lead_search_values", "lead_keys"):
        func = getattr(lead_services, name, None) if lead_services else None
        if func is not None:
            for field, value in func(lead).items():
                setattr(lead, field, value)
            return
    func = getattr(lead_services, "lead_search_fields_refresh", None) if lead_services else None
    if func is not None:
        func(lead, save=False)
        return
    from crm.core.text import name_fold, name_key, pinyin_initials
    from crm.core.validators import digits_only

    phone_digits = digits_only(lead.phone)
    email_key = (lead.email or "").lower()
    pinyin = pinyin_initials(lead.company)[:100]
    parts = [
        name_fold(lead.company),
        (lead.number or "").lower(),
        pinyin,
        name_fold(lead.name),
        pinyin_initials(lead.name),
        phone_digits,
        name_fold(lead.phone),
        email_key,
    ]
    lead.company_key = name_key(lead.company)[:100]
    lead.phone_digits = phone_digits
    lead.email_key = email_key
    lead.pinyin = pinyin
    lead.search_blob = " | ".join(dict.fromkeys(p for p in parts if p))


# --- leads ------------------------------------------------------------------------------------


def lead_times(rng: random.Random, count: int, now: float) -> list[float]:
    span = MONTHS * 30.44 * DAY
    recent = round(count * RECENT_SHARE)
    spread = [now - span + span * (rng.random() ** 0.7) for _ in range(count - recent)]
    dense = [now - 30 * DAY * rng.random() for _ in range(recent)]
    return sorted(spread + dense)


class Customers:
    """Live enterprise customers per owner by creation time: what a conversion created."""

    def __init__(self, used: set[int]) -> None:
        from crm.customers.models import Customer

        self.by_owner: dict[int, tuple[list[float], list[int]]] = {}
        rows = (
            Customer.objects.filter(deleted_at__isnull=True, owner__isnull=False, type="enterprise")
            .order_by("owner_id", "created_at", "id")
            .values_list("owner_id", "created_at", "id")
            .iterator(chunk_size=50000)
        )
        for owner, created, cid in rows:
            times, ids = self.by_owner.setdefault(owner, ([], []))
            times.append(created.timestamp())
            ids.append(cid)
        self.used = used

    def near(self, owner: int, at: float, limit: float) -> tuple[int, float] | None:
        """The first unused customer of `owner` created at `at` or within `limit` after."""
        times, ids = self.by_owner.get(owner, ([], []))
        i = bisect.bisect_left(times, at)
        while i < len(times) and times[i] <= at + limit:
            if ids[i] not in self.used:
                self.used.add(ids[i])
                return ids[i], times[i]
            i += 1
        return None


def plan_leads(args: argparse.Namespace, ctx: dict[str, Any]) -> list[dict[str, Any]]:
    """Every lead's story as numbers and times (main process, deterministic by seed)."""
    from zoneinfo import ZoneInfo

    from django.conf import settings
    from django.db.models import Max

    from crm.core.models import NumberSequence
    from crm.core.numbering import numbering_rule_get
    from crm.leads.models import Lead

    rng = random.Random(f"leads-plan-{args.seed}")
    rule = numbering_rule_get(key="lead")
    tz = ZoneInfo(settings.TIME_ZONE)
    now = ctx["now"]
    last: dict[str, int] = dict(
        NumberSequence.objects.filter(key="lead").values_list("period", "last_value")
    )
    for number in Lead.objects.values_list("number", flat=True).iterator(chunk_size=20000):
        body = number[len(rule.prefix) :]
        if body[6:].isdigit():
            last[body[:6]] = max(last.get(body[:6], 0), int(body[6:]))
    first_id = (Lead.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    sla_hours = ctx["sla_hours"]
    owners = ctx["owners"]
    plans = []
    for i, created in enumerate(lead_times(rng, args.leads, now)):
        period = dt.datetime.fromtimestamp(created, tz).strftime(rule.period_format)
        last[period] = last.get(period, 0) + 1
        p: dict[str, Any] = {
            "id": first_id + i,
            "created": created,
            "number": f"{rule.prefix}{period}{last[period]:0{rule.digits}d}",
            "period": period,
            "seq": last[period],
            "grade": weighted(rng, LEAD_GRADES),
            "owner": weighted(rng, owners) if rng.random() >= UNASSIGNED else None,
            "status": "new",
            "contacted": None,
            "closed": None,
            "fups": [],
            "reason": "",
            "before": "",
        }
        age = now - created
        if p["owner"] is None:
            # Unassigned: waiting for someone to assign it, or thrown out as a duplicate.
            if age > 3 * DAY and rng.random() < 0.2:
                p["status"] = "disqualified"
                p["reason"] = weighted(rng, [("duplicate", 70), ("other", 30)])
                p["closed"] = created + rng.uniform(HOUR, min(age, 20 * DAY))
                p["before"] = "new"
            plans.append(p)
            continue
        p["assigned"] = created + rng.uniform(60, 1800)
        hours = sla_hours.get(p["grade"])
        window = float(hours) * HOUR if hours else 36 * HOUR
        if rng.random() < 0.8:
            delay = window * rng.uniform(0.03, 0.95)
        else:
            delay = window * (1 + rng.expovariate(1.2))
        contact = created + delay
        if contact >= now or rng.random() < NEVER_CONTACTED:
            if age > 7 * DAY and rng.random() < 0.35:
                p["status"] = "disqualified"
                p["reason"] = weighted(rng, DISQUALIFY_UNCONTACTED)
                p["closed"] = created + rng.uniform(2 * DAY, min(age, 30 * DAY))
                p["before"] = "new"
            plans.append(p)
            continue
        p["contacted"] = contact
        p["fups"].append(contact)
        after = now - contact
        closed_share = 0.10 + 0.60 * (1 - math.exp(-after / (60 * DAY)))
        if after > DAY and rng.random() < closed_share:
            close = contact + rng.uniform(DAY, min(after, 60 * DAY))
            if rng.random() < 0.3:
                p["fups"].append(contact + (close - contact) * rng.uniform(0.2, 0.9))
            if rng.random() < 0.35:
                p["status"] = "converted"
                p["closed"] = close
            else:
                p["status"] = "disqualified"
                p["reason"] = weighted(rng, DISQUALIFY_CONTACTED)
                p["closed"] = close
                p["before"] = "qualified" if rng.random() < 0.3 else "contacted"
        else:
            qualified = rng.random() < 0.35 * (1 - math.exp(-after / (10 * DAY)))
            p["status"] = "qualified" if qualified else "contacted"
            cadence = (ctx["lead_cadence"].get(p["grade"]) or 30) * DAY
            if after > DAY and rng.random() < 0.65:
                # Worked since: a recent follow-up, mostly inside the lead's cadence.
                p["fups"].append(max(contact + HOUR, now - rng.uniform(0, 1.2 * cadence)))
        plans.append(p)
    return plans


def build_leads(
    plans: list[dict[str, Any]], ctx: dict[str, Any], rng: random.Random
) -> tuple[list[tuple], list[tuple], list[tuple], dict[str, int]]:
    """Lead, follow-up and timeline rows for one batch of plans."""
    from crm import demo
    from crm.activities.models import FollowUp
    from crm.core.models import TimelineEntry
    from crm.customers.models import Contact, Customer
    from crm.leads.clocks import lead_first_contact_due
    from crm.leads.models import Lead
    from crm.sales.models import Opportunity

    now, swept = ctx["now"], ctx["swept"]
    soon = float(ctx["due_soon_hours"]) * HOUR
    # Conversions: the customer each converted lead became, and what is needed of it.
    converted: dict[int, tuple[int, float]] = {}
    for p in plans:
        if p["status"] != "converted":
            continue
        found = ctx["customers"].near(p["owner"], p["closed"], 5 * DAY)
        if found is None:  # no customer of that owner arrived then: still being qualified
            p["status"], p["closed"] = "qualified", None
        else:
            converted[p["id"]] = found
    cids = [c for c, _t in converted.values()]
    customers = {
        c["id"]: c
        for c in Customer.objects.filter(pk__in=cids).values("id", "name", "source", "email")
    }
    contacts = {
        c["customer_id"]: c
        for c in Contact.objects.filter(customer_id__in=cids, is_primary=True).values(
            "id", "customer_id", "name", "title", "phone", "email"
        )
    }
    first_opps: dict[int, int] = {}
    for cid, oid in (
        Opportunity.objects.filter(customer_id__in=cids, deleted_at__isnull=True)
        .order_by("customer_id", "id")
        .values_list("customer_id", "id")
    ):
        first_opps.setdefault(cid, oid)
    fresh = iter(enterprise_names(rng, len(plans), ctx["taken"]))
    lead_fields, fup_fields, tl_fields = ctx["lead_fields"], ctx["fup_fields"], ctx["tl_fields"]
    leads: list[tuple] = []
    fups: list[tuple] = []
    lines: list[tuple] = []
    periods: dict[str, int] = {}
    for p in plans:
        created = p["created"]
        owner = p["owner"]
        core, _industry, city = next(fresh)
        company = core + rng.choice(demo.SUFFIXES)
        person = demo.person_name(rng)
        title = rng.choice(demo.TITLES)
        phone = mobile(rng) if rng.random() < 0.85 else landline(rng, city)
        email = f"lead{p['id']}@example.com" if rng.random() < 0.5 else ""
        source = weighted(rng, SOURCES)
        customer_id = contact_id = opportunity_id = None
        if p["id"] in converted:
            customer_id, at = converted[p["id"]]
            p["closed"] = at
            customer = customers[customer_id]
            company, source = customer["name"], customer["source"] or source
            contact = contacts.get(customer_id)
            if contact:
                contact_id = contact["id"]
                person, phone = contact["name"], contact["phone"] or phone
                title = contact["title"] or title
                email = contact["email"] or customer["email"] or email
            city = company[:2]
            if customer_id in first_opps and rng.random() < 0.5:
                opportunity_id = first_opps[customer_id]
        elif rng.random() < 0.03:
            # Someone already a customer asks again: the duplicate check shows the match.
            company = ctx["customer_names"][rng.randrange(len(ctx["customer_names"]))]
            city = company[:2]
        region = CITY_REGION.get(city, "") if rng.random() < 0.9 else rng.choice(["overseas", ""])
        events = [created] + [t for t in (p.get("assigned"), p["contacted"], p["closed"]) if t]
        lead = Lead(
            id=p["id"],
            created_at=_dt(created),
            updated_at=_dt(max(events + p["fups"])),
            version=len(events),
            deleted_at=None,
            deleted_by_id=None,
            number=p["number"],
            company=company,
            name=person,
            title=title if rng.random() < 0.7 else "",
            phone=phone,
            email=email,
            source=source,
            grade=p["grade"],
            status=p["status"],
            owner_id=owner,
            assigned_at=_dt(p.get("assigned")),
            region=region,
            requirement=rng.choice(REQUIREMENTS) if rng.random() < 0.6 else "",
            budget=Decimal(rng.choice([20000, 50000, 100000, 300000, 800000]))
            if rng.random() < 0.4
            else None,
            notes=rng.choice(NOTES) if rng.random() < 0.2 else "",
            web_form_id=None,
            first_contacted_at=_dt(p["contacted"]),
            converted_customer_id=customer_id,
            converted_contact_id=contact_id,
            converted_opportunity_id=opportunity_id,
            converted_at=_dt(p["closed"]) if customer_id else None,
            converted_by_id=owner if customer_id else None,
            disqualify_reason=p["reason"],
            disqualify_note="",
            disqualified_at=_dt(p["closed"]) if p["status"] == "disqualified" else None,
            status_before_disqualify=p["before"],
            created_by_id=(None if source in ("website", "web_form") else (owner or ctx["admin"])),
            updated_by_id=owner or ctx["admin"],
        )
        lead.first_contact_due_at = lead_first_contact_due(grade=lead.grade, start=lead.created_at)
        _lead_clocks(lead, p, now=now, swept=swept, soon=soon, ctx=ctx)
        if rng.random() < 0.005:
            lead.deleted_at = lead.updated_at + dt.timedelta(hours=rng.randrange(1, 72))
            lead.deleted_by_id = ctx["admin"]
            if lead.deleted_at.timestamp() > now:
                lead.deleted_at = _dt(now - 60)
        lead_keys_fill(lead)
        leads.append(_row(lead, lead_fields))
        periods[p["period"]] = max(periods.get(p["period"], 0), p["seq"])
        if customer_id:
            tid = ctx["next_ids"]["tl"]
            ctx["next_ids"]["tl"] += 1
            converted_line = TimelineEntry(
                id=tid,
                customer_id=customer_id,
                kind="lead_converted",
                at=lead.converted_at,
                actor_id=owner,
                module="customers",
                owner_id=owner,
                object_type="lead",
                object_id=lead.pk,
                data={"number": lead.number, "company": lead.company, "name": lead.name},
            )
            lines.append(_row(converted_line, tl_fields))
        open_lead = p["status"] in ("contacted", "qualified")
        for n, at in enumerate(sorted(p["fups"])):
            method, summary, feedback = LEAD_SUMMARIES[0 if n == 0 else rng.randrange(1, 6)]
            newest = n == len(p["fups"]) - 1
            plan_at = None
            if newest and open_lead and rng.random() < 0.4:
                plan_at = _dt(at + rng.uniform(DAY, 10 * DAY))
            fid = ctx["next_ids"]["fup"]
            ctx["next_ids"]["fup"] += 1
            fup = FollowUp(
                id=fid,
                created_at=_dt(at),
                updated_at=_dt(at),
                version=1,
                customer_id=customer_id,
                lead_id=p["id"],
                opportunity_id=None,
                # The conversion hands the lead's follow-ups to the customer and its contact.
                contact_id=contact_id,
                author_id=owner,
                method=method,
                occurred_at=_dt(at),
                summary=summary,
                feedback=feedback,
                next_action=rng.choice(LEAD_GOALS) if plan_at else "",
                next_at=plan_at,
                next_method="phone" if plan_at else "",
                next_goal=rng.choice(LEAD_GOALS) if plan_at else "",
                created_by_id=owner,
                updated_by_id=owner,
            )
            fups.append(_row(fup, fup_fields))
            if customer_id:
                # The conversion hangs the lead's follow-ups on the customer's timeline.
                line = _timeline(ctx, customer_id, owner, fid, at, method, summary, plan_at)
                lines.append(_row(line, tl_fields))
    return leads, fups, lines, periods


def _timeline(
    ctx: dict[str, Any],
    customer_id: int,
    owner: int,
    fid: int,
    at: float,
    method: str,
    summary: str,
    plan_at: dt.datetime | None,
) -> Any:
    from crm.core.models import TimelineEntry

    tid = ctx["next_ids"]["tl"]
    ctx["next_ids"]["tl"] += 1
    return TimelineEntry(
        id=tid,
        customer_id=customer_id,
        kind="followup",
        at=_dt(at),
        actor_id=owner,
        module="followups",
        owner_id=owner,
        object_type="followup",
        object_id=fid,
        data={
            "method": method,
            "summary": summary,
            "author": ctx["names"][owner],
            "next_at": plan_at.isoformat() if plan_at else None,
        },
    )


def _lead_clocks(
    lead: Any, p: dict[str, Any], *, now: float, swept: float, soon: float, ctx: dict[str, Any]
) -> None:
    """The SLA state and the notices the sweep of `swept` left, and the cadence clock."""
    from crm.leads.clocks import lead_sla_state_at

    due = _ts(lead.first_contact_due_at)
    contacted = p["contacted"]
    closed = p["closed"] if p["status"] == "disqualified" else None
    # As of the last sweep, or of the action that settled it since (creation, the first
    # contact, a disqualification or conversion: the lead's final fields say which).
    lead.sla_state = lead_sla_state_at(lead=lead, now=_dt(max(swept, p["created"])))
    status = lead.status
    if due is not None:

        def open_at(t: float) -> bool:
            return (contacted is None or contacted > t) and (closed is None or closed > t)

        remind = max(due - soon, p["created"]) + 120
        if remind <= swept and open_at(remind) and remind < due:
            lead.sla_reminded_at = _dt(remind)
        breach = due + 120
        if breach <= swept and open_at(due):
            lead.sla_breach_notified_at = _dt(breach)
    if p["fups"]:
        last = max(p["fups"])
        lead.last_followup_at = _dt(last)
        cadence = ctx["lead_cadence"].get(lead.grade)
        if status in ("contacted", "qualified") and cadence:
            overdue = last + float(cadence) * DAY
            if overdue <= swept:
                lead.followup_overdue_since = _dt(overdue)


def leads_generate(args: argparse.Namespace, ctx: dict[str, Any]) -> dict[str, int]:
    from django.db import transaction
    from django.db.models import Max

    from crm.activities.models import FollowUp
    from crm.core.models import NumberSequence, TimelineEntry
    from crm.customers.models import Customer
    from crm.leads.models import Lead

    started = time.perf_counter()
    used = set(
        Lead.objects.filter(converted_customer__isnull=False).values_list(
            "converted_customer_id", flat=True
        )
    )
    ctx["customers"] = Customers(used)
    ctx["taken"] = set(
        Customer.objects.filter(type="enterprise").values_list("name_key", flat=True).iterator()
    ) | set(Lead.objects.values_list("company_key", flat=True).iterator())
    ctx["customer_names"] = list(
        Customer.objects.filter(deleted_at__isnull=True, type="enterprise")
        .order_by("id")
        .values_list("name", flat=True)[:20000]
    )
    ctx["next_ids"] = {
        "fup": (FollowUp.objects.aggregate(m=Max("id"))["m"] or 0) + 1,
        "tl": (TimelineEntry.objects.aggregate(m=Max("id"))["m"] or 0) + 1,
    }
    plans = plan_leads(args, ctx)
    print(f"planned {len(plans):,} leads in {time.perf_counter() - started:.1f}s", flush=True)
    writer = ctx["writer"]
    saved = ROOT / "bench" / "results" / f".dropped-lead-indexes-{ctx['dbname']}.sql"
    if writer.pg and saved.exists():  # left by an interrupted run
        restore_indexes(saved)
    if writer.pg and len(plans) >= 20000 and not args.keep_indexes:
        print(f"dropped {drop_indexes('leads_lead', saved)} lead indexes for the load", flush=True)
    totals = {"leads": 0, "lead follow-ups": 0, "timeline lines": 0}
    rng = random.Random(f"leads-rows-{args.seed}")
    load = time.perf_counter()
    try:
        for start in range(0, len(plans), args.batch):
            batch = plans[start : start + args.batch]
            leads, fups, lines, periods = build_leads(batch, ctx, rng)
            with transaction.atomic():
                writer.write("leads_lead", ctx["lead_fields"], leads)
                writer.write(FollowUp._meta.db_table, ctx["fup_fields"], fups)
                writer.write(TimelineEntry._meta.db_table, ctx["tl_fields"], lines)
                for period, value in periods.items():
                    seq, _new = NumberSequence.objects.select_for_update().get_or_create(
                        key="lead", period=period
                    )
                    if seq.last_value < value:
                        NumberSequence.objects.filter(pk=seq.pk).update(last_value=value)
            totals["leads"] += len(leads)
            totals["lead follow-ups"] += len(fups)
            totals["timeline lines"] += len(lines)
            elapsed = time.perf_counter() - load
            print(
                f"  {totals['leads']:>9,} leads {totals['lead follow-ups']:>9,} follow-ups "
                f"{elapsed:7.1f}s {totals['leads'] / elapsed:7,.0f} leads/s",
                flush=True,
            )
    finally:
        writer.serial_reset(["leads_lead", FollowUp._meta.db_table, TimelineEntry._meta.db_table])
        if writer.pg:
            restore_indexes(saved)
    print(f"leads done in {time.perf_counter() - started:.1f}s: {totals}", flush=True)
    return totals


# --- customers' clocks ------------------------------------------------------------------------


def customers_clocks(args: argparse.Namespace, ctx: dict[str, Any]) -> dict[str, int]:
    from django.db import connection, transaction
    from django.db.models import Max

    from crm.activities.models import FollowUp
    from crm.core.models import TimelineEntry
    from crm.customers.models import Customer, PoolMove
    from crm.sales.models import Opportunity

    started = time.perf_counter()
    rng = random.Random(f"clocks-{args.seed}")
    now, swept = ctx["now"], ctx["swept"]
    rules = ctx["pool_rules"]
    protected = set(rules.get("protected_statuses") or [])
    notice = float(rules.get("notice_days") or 0) * DAY
    dormant_after = float(ctx["dormant_days"]) * DAY
    cadences = ctx["customer_cadence"]
    won: dict[int, float] = {}
    changed: dict[int, float] = {}
    for cid, status, updated in (
        Opportunity.objects.filter(deleted_at__isnull=True)
        .values_list("customer_id", "status", "updated_at")
        .iterator(chunk_size=50000)
    ):
        t = updated.timestamp()
        if t > changed.get(cid, 0):
            changed[cid] = t
        if status == "won" and t > won.get(cid, 0):
            won[cid] = t
    print(f"opportunity times read in {time.perf_counter() - started:.1f}s", flush=True)
    ctx["next_ids"] = {
        "fup": (FollowUp.objects.aggregate(m=Max("id"))["m"] or 0) + 1,
        "tl": (TimelineEntry.objects.aggregate(m=Max("id"))["m"] or 0) + 1,
    }
    fup_fields, tl_fields = ctx["fup_fields"], ctx["tl_fields"]
    move_fields = [f for f in PoolMove._meta.concrete_fields if f.name != "id"]
    columns = [
        "owner_id",
        "owned_since",
        "last_won_at",
        "last_activity_at",
        "last_followup_at",
        "next_followup_at",
        "followup_overdue_since",
        "dormant_since",
        "pool_entered_at",
        "pool_notice_at",
        "status_changed_at",
        "lost_reason",
    ]
    live = Customer.objects.filter(owned_since__isnull=True, pool_entered_at__isnull=True)
    pool_share = args.pool_share / 0.7  # of the customers that may return (not deal/loyal)
    totals = dict.fromkeys(
        ("customers", "follow-ups", "overdue", "dormant", "pool", "pool notices", "due now"), 0
    )
    writer = ctx["writer"]
    last_pk = 0
    while True:
        batch = list(
            live.filter(pk__gt=last_pk)
            .order_by("pk")
            .values_list(
                "pk",
                "owner_id",
                "grade",
                "status",
                "created_at",
                "deleted_at",
                "last_followup_at",
                "next_followup_at",
            )[: args.batch]
        )
        if not batch:
            break
        last_pk = batch[-1][0]
        updates: list[tuple] = []
        fups: list[tuple] = []
        lines: list[tuple] = []
        moves: list[tuple] = []
        for cid, owner, grade, status, created_dt, deleted, lastf_dt, next_dt in batch:
            created = created_dt.timestamp()
            lastf = _ts(lastf_dt)
            nxt = _ts(next_dt)
            age = now - created
            is_protected = status in protected
            changed_at = None
            lost_reason = ""
            if status != "potential":
                changed_at = created + age * rng.uniform(0.1, 0.9)
                if status == "lost":
                    lost_reason = rng.choice(LOSS_REASONS)
            row = {
                "owner_id": owner,
                "owned_since": created,
                "last_won_at": won.get(cid),
                "status_changed_at": changed_at,
                "lost_reason": lost_reason,
                "pool_entered_at": None,
                "pool_notice_at": None,
                "followup_overdue_since": None,
                "dormant_since": None,
            }
            if deleted is not None or owner is None:
                row["last_activity_at"] = max(
                    [t for t in (lastf, changed.get(cid)) if t] or [None], key=lambda t: t or 0
                )
                row.update(last_followup_at=lastf, next_followup_at=nxt)
                updates.append((cid, row))
                continue
            fd = (rules.get("followup_days") or {}).get(grade)
            cadence = cadences.get(grade)
            cadence_s = float(cadence) * DAY if cadence else 14 * DAY
            target = None
            to_pool = (
                rules.get("enabled")
                and not is_protected
                and fd
                and age > float(fd) * DAY + 2 * DAY
                and rng.random() < pool_share
            )
            if to_pool:
                entered = swept - rng.uniform(600, min(60 * DAY, age - float(fd) * DAY - DAY))
                release = rng.random() < 0.15
                if not release:
                    target = entered - float(fd) * DAY - rng.uniform(0, 300)
                moves.append(
                    _row(
                        PoolMove(
                            customer_id=cid,
                            kind="release" if release else "return",
                            user_id=owner,
                            actor_id=owner if release else None,
                            reason=rng.choice(RELEASE_REASONS) if release else "",
                            at=_dt(entered),
                        ),
                        move_fields,
                    )
                )
                row.update(
                    owner_id=None,
                    owned_since=None,
                    pool_entered_at=entered,
                    pool_notice_at=None,  # a return clears it, as pool_return_sweep does
                )
                totals["pool"] += 1
            else:
                if not is_protected and age > 88 * DAY:
                    row["owned_since"] = now - rng.uniform(HOUR, 88 * DAY)
                r = rng.random()
                if r < 0.80:
                    target = now - rng.uniform(0, cadence_s)
                elif r < 0.92 or not is_protected:
                    top = float(fd) * DAY if (fd and not is_protected) else 85 * DAY
                    target = now - rng.uniform(cadence_s, max(cadence_s, top - HOUR))
                else:
                    target = now - rng.uniform(95 * DAY, 400 * DAY)
            plan_at = None
            if target is not None and target > created + 600 and (lastf is None or target > lastf):
                method, summary, feedback = rng.choice(SUMMARIES)
                if row["owner_id"] and rng.random() < 0.35:
                    plan_at = _dt(target + rng.uniform(DAY, max(1.5 * DAY, cadence_s)))
                fid = ctx["next_ids"]["fup"]
                ctx["next_ids"]["fup"] += 1
                fups.append(
                    _row(
                        FollowUp(
                            id=fid,
                            created_at=_dt(target),
                            updated_at=_dt(target),
                            version=1,
                            customer_id=cid,
                            author_id=owner,
                            method=method,
                            occurred_at=_dt(target),
                            summary=summary,
                            feedback=feedback,
                            next_action=rng.choice(GOALS) if plan_at else "",
                            next_at=plan_at,
                            next_method="phone" if plan_at else "",
                            next_goal=rng.choice(GOALS) if plan_at else "",
                            created_by_id=owner,
                            updated_by_id=owner,
                        ),
                        fup_fields,
                    )
                )
                lines.append(
                    _row(
                        _timeline(ctx, cid, owner, fid, target, method, summary, plan_at), tl_fields
                    )
                )
                lastf = target
                if plan_at is not None:
                    nxt = min(nxt or math.inf, plan_at.timestamp())
                totals["follow-ups"] += 1
            activity = max([t for t in (lastf, changed.get(cid)) if t] or [0]) or None
            row.update(last_followup_at=lastf, next_followup_at=nxt, last_activity_at=activity)
            dormant = (activity or created) + dormant_after
            if dormant <= swept:
                row["dormant_since"] = dormant
                totals["dormant"] += 1
            if row["owner_id"] is not None:
                base = lastf if lastf is not None else row["owned_since"]
                if cadence:
                    overdue = base + float(cadence) * DAY
                    if overdue <= swept:
                        row["followup_overdue_since"] = overdue
                        totals["overdue"] += 1
                if rules.get("enabled") and not is_protected:
                    deadlines = []
                    since = row["owned_since"]
                    if fd:
                        deadlines.append(max(lastf or created, since) + float(fd) * DAY)
                    wd = (rules.get("won_days") or {}).get(grade)
                    if wd:
                        deadlines.append(
                            max(row["last_won_at"] or created, since) + float(wd) * DAY
                        )
                    if deadlines:
                        deadline = min(deadlines)
                        if deadline <= swept:
                            totals["due now"] += 1
                        elif deadline - notice <= swept:
                            row["pool_notice_at"] = max(deadline - notice, created) + 120
                            totals["pool notices"] += 1
            updates.append((cid, row))
        with transaction.atomic():
            writer.write(FollowUp._meta.db_table, fup_fields, fups)
            writer.write(TimelineEntry._meta.db_table, tl_fields, lines)
            writer.write(PoolMove._meta.db_table, move_fields, moves)
            _customers_update(updates, columns, connection)
        totals["customers"] += len(batch)
        print(
            f"  customers ≤ {last_pk}: {totals} ({time.perf_counter() - started:.0f}s)",
            flush=True,
        )
    writer.serial_reset([FollowUp._meta.db_table, TimelineEntry._meta.db_table])
    print(f"customer clocks done in {time.perf_counter() - started:.1f}s: {totals}", flush=True)
    return totals


# --- the reminders the last sweep sent ------------------------------------------------------


def reminders_mark(args: argparse.Namespace, ctx: dict[str, Any]) -> int:
    """The follow-up plan reminders (crm.activities followup_reminders, issue 6) that the sweep
    of --swept-hours-ago would have sent for the plans of the last days: "due soon" and
    "overdue" notifications with the sweep's own dedup keys, so the first sweep after this
    script reminds only of what fell due since, as a running worker would."""
    from django.db import connection, transaction
    from django.urls import reverse
    from django.utils import translation

    from crm.activities.models import PLAN_OPEN, FollowUp
    from crm.activities.services import (
        OVERDUE_REMINDER_WINDOW,
        _reminder_text,
        reminder_dedup_key,
    )
    from crm.core.config import setting_get
    from crm.notify.models import Notification

    started = time.perf_counter()
    swept = _dt(ctx["swept"])
    ahead = dt.timedelta(minutes=int(setting_get("followup_reminder_minutes")))
    rows = (
        FollowUp.objects.filter(
            PLAN_OPEN,
            next_at__lte=swept + ahead,
            next_at__gt=swept - OVERDUE_REMINDER_WINDOW - dt.timedelta(days=1),
            author__is_active=True,
            customer__deleted_at__isnull=True,
            lead__deleted_at__isnull=True,
        )
        .select_related("author", "customer", "lead")
        .only(
            "id",
            "next_at",
            "next_method",
            "next_goal",
            "author",
            "customer__id",
            "customer__name",
            "lead__id",
            "lead__company",
        )
        .order_by("next_at", "id")
    )
    fields = [f for f in Notification._meta.concrete_fields if f.name != "id"]
    columns = quoted([f.column for f in fields])
    create = reverse("activities:create")
    written = 0
    batch: list[tuple] = []

    def flush() -> None:
        if not batch:
            return
        with transaction.atomic(), connection.cursor() as cur:
            if connection.vendor == "postgresql":
                cur.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS bench_notes AS "
                    f"SELECT {columns} FROM notify_notification WITH NO DATA"
                )
                cur.execute("TRUNCATE bench_notes")
                with cur.cursor.copy(f"COPY bench_notes ({columns}) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
                cur.execute(
                    f"INSERT INTO notify_notification ({columns}) SELECT {columns} "
                    "FROM bench_notes ON CONFLICT DO NOTHING"
                )
            else:
                marks = ", ".join(["%s"] * len(fields))
                cur.executemany(
                    f"INSERT OR IGNORE INTO notify_notification ({columns}) VALUES ({marks})",
                    [
                        [f.get_db_prep_save(v, connection) for f, v in zip(fields, r, strict=True)]
                        for r in batch
                    ],
                )
        batch.clear()

    with translation.override(settings_language()):
        for followup in rows.iterator(chunk_size=2000):
            stages = []
            if followup.next_at - ahead <= swept:
                stages.append(("soon", followup.next_at - ahead))
            if followup.next_at <= swept:
                stages.append(("overdue", followup.next_at))
            for stage, at in stages:
                note = Notification(
                    recipient_id=followup.author_id,
                    kind="followup_overdue" if stage == "overdue" else "followup_due",
                    text=_reminder_text(followup, overdue=stage == "overdue")[:500],
                    link=f"{create}?plan={followup.pk}",
                    is_read=True,
                    read_at=at + dt.timedelta(hours=2),
                    created_at=at + dt.timedelta(minutes=2),
                    dedup_key=reminder_dedup_key(followup, stage)[:200],
                )
                batch.append(_row(note, fields))
                written += 1
            if len(batch) >= 20000:
                flush()
    flush()
    print(
        f"plan reminders already sent: {written:,} in {time.perf_counter() - started:.1f}s",
        flush=True,
    )
    return written


def settings_language() -> str:
    from django.conf import settings

    return settings.LANGUAGE_CODE


TIMES = {
    "owned_since",
    "last_won_at",
    "last_activity_at",
    "last_followup_at",
    "next_followup_at",
    "followup_overdue_since",
    "dormant_since",
    "pool_entered_at",
    "pool_notice_at",
    "status_changed_at",
}


def _customers_update(updates: list[tuple[int, dict]], columns: list[str], connection: Any) -> None:
    if not updates:
        return
    rows = [
        (cid, *[(_dt(row[c]) if c in TIMES else row[c]) for c in columns]) for cid, row in updates
    ]
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS bench_clocks (id bigint, owner_id bigint, "
                + ", ".join(f"{c} timestamptz" for c in columns[1:-1])
                + ", lost_reason varchar(40))"
            )
            cur.execute("TRUNCATE bench_clocks")
            with cur.cursor.copy(
                f"COPY bench_clocks (id, {', '.join(columns)}) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(
                "UPDATE customers_customer c SET "
                + ", ".join(f"{col} = t.{col}" for col in columns)
                + " FROM bench_clocks t WHERE c.id = t.id"
            )
        return
    with connection.cursor() as cur:
        cur.executemany(
            "UPDATE customers_customer SET "
            + ", ".join(f"{col} = %s" for col in columns)
            + " WHERE id = %s",
            [
                [
                    connection.ops.adapt_datetimefield_value(v) if isinstance(v, dt.datetime) else v
                    for v in (*row[1:], row[0])
                ]
                for row in rows
            ],
        )


# --- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument(
        "--leads", type=int, default=300000, help="leads wanted in all (a re-run tops up)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=10000)
    parser.add_argument(
        "--swept-hours-ago",
        type=float,
        default=24.0,
        help="the stored clock states are those of a sweep this long ago (default 24)",
    )
    parser.add_argument(
        "--pool-share", type=float, default=0.004, help="customers in the public pool"
    )
    parser.add_argument("--no-customer-clocks", action="store_true")
    parser.add_argument("--keep-indexes", action="store_true")
    parser.add_argument("--password", default=os.environ.get("CRM_DEMO_PASSWORD", "crm-demo-2026"))
    args = parser.parse_args(argv)
    django_setup(args.database_url)

    from django.core.management import call_command
    from django.db import connection

    from crm import demo
    from crm.accounts.models import User
    from crm.activities.models import FollowUp
    from crm.core.config import setting_get
    from crm.core.models import TimelineEntry
    from crm.leads.models import Lead

    started = time.perf_counter()
    dbname = Path(str(connection.settings_dict["NAME"])).name
    print(f"database: {connection.vendor} {dbname}", flush=True)
    call_command("migrate", "--noinput", verbosity=0)
    users = demo.demo_users_create(password=args.password)
    now = time.time()
    ctx: dict[str, Any] = {
        "now": now,
        "swept": now - args.swept_hours_ago * HOUR,
        "dbname": dbname,
        "writer": Writer(),
        "owners": [(users[u].pk, w) for u, w in OWNER_WEIGHTS.items()],
        "admin": users["admin"].pk,
        "names": {u.pk: u.display_name for u in User.objects.all()},
        "sla_hours": setting_get("lead_sla_hours"),
        "due_soon_hours": setting_get("lead_sla_due_soon_hours"),
        "lead_cadence": setting_get("lead_cadence_days"),
        "customer_cadence": setting_get("customer_cadence_days"),
        "pool_rules": setting_get("pool_rules"),
        "dormant_days": setting_get("dormant_days"),
        "lead_fields": _fields(Lead),
        "fup_fields": _fields(FollowUp),
        "tl_fields": _fields(TimelineEntry),
    }
    # --leads is the total wanted: a re-run (after an interruption) only tops it up.
    have = Lead.objects.count()
    args.leads = max(0, args.leads - have)
    if have:
        print(f"{have:,} leads already there: adding {args.leads:,}", flush=True)
    if args.leads:
        leads_generate(args, ctx)
    if not args.no_customer_clocks:
        customers_clocks(args, ctx)
        reminders_mark(args, ctx)
    step = time.perf_counter()
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                "VACUUM (ANALYZE) leads_lead, customers_customer, customers_poolmove, "
                "activities_followup, core_timelineentry"
            )
        else:
            cur.execute("ANALYZE")
    print(f"analyze: {time.perf_counter() - step:.1f}s", flush=True)
    print(
        f"done: {Lead.objects.count():,} leads, {FollowUp.objects.count():,} follow-ups in the "
        f"database; this run took {time.perf_counter() - started:.1f}s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
