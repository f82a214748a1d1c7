"""Realistic Chinese demo data: departments, the demo users of every role, 300+ customers.

The name/phone generators are shared with bench/generate.py, which writes millions of rows.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from typing import Any

from django.db import transaction

from crm.core.validators import credit_code_with_checksum

CITIES = [
    "北京",
    "上海",
    "深圳",
    "广州",
    "杭州",
    "成都",
    "武汉",
    "南京",
    "苏州",
    "西安",
    "重庆",
    "天津",
    "长沙",
    "郑州",
    "青岛",
    "厦门",
    "合肥",
    "宁波",
    "济南",
    "东莞",
    "佛山",
    "无锡",
]
CORES = [
    "华科",
    "瑞丰",
    "鼎盛",
    "新元",
    "恒通",
    "博远",
    "中联",
    "天润",
    "汇智",
    "金石",
    "云帆",
    "长青",
    "启明",
    "正泰",
    "宏达",
    "盛世",
    "东方",
    "远景",
    "海川",
    "嘉禾",
    "晨光",
    "卓越",
    "明德",
    "信诚",
    "万象",
    "永安",
    "凯旋",
    "星河",
    "锦程",
    "安信",
    "立信",
    "德胜",
    "银河",
    "创新",
    "智联",
    "同创",
    "华信",
    "光大",
    "联合",
    "蓝海",
    "青松",
    "润泽",
    "精工",
    "和泰",
]
TRADES = {
    "manufacturing": ["机械制造", "精密机械", "模具", "汽车零部件", "五金制品"],
    "it": ["科技", "软件", "信息技术", "网络科技", "数据科技"],
    "finance": ["投资", "融资租赁", "资产管理"],
    "retail": ["商贸", "百货", "贸易"],
    "education": ["教育科技", "培训"],
    "healthcare": ["医疗器械", "生物科技", "医药"],
    "construction": ["建设工程", "建筑装饰", "工程"],
    "logistics": ["物流", "供应链", "运输"],
    "energy": ["新能源", "电力设备", "能源科技"],
    "services": ["咨询", "人力资源", "会计服务"],
}
SUFFIXES = ["有限公司", "有限公司", "有限公司", "股份有限公司", "有限责任公司", "集团有限公司"]
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍鑫晨浩宇子涵欣怡梓轩"
    "雨泽思远嘉怡俊杰文博佳琪志强建国海燕晓东丽娟"
)
TITLES = [
    "总经理",
    "采购经理",
    "采购主管",
    "技术总监",
    "财务经理",
    "行政主管",
    "副总经理",
    "IT经理",
    "项目经理",
    "运营总监",
    "董事长助理",
]
MOBILE_PREFIXES = [
    "138",
    "139",
    "135",
    "136",
    "137",
    "150",
    "151",
    "152",
    "158",
    "159",
    "186",
    "187",
    "188",
    "177",
    "180",
    "181",
    "189",
    "133",
    "153",
    "199",
]
AREA_CODES = {
    "北京": "010",
    "上海": "021",
    "广州": "020",
    "深圳": "0755",
    "杭州": "0571",
    "成都": "028",
    "武汉": "027",
    "南京": "025",
    "西安": "029",
    "重庆": "023",
    "天津": "022",
    "苏州": "0512",
    "长沙": "0731",
    "郑州": "0371",
    "青岛": "0532",
    "合肥": "0551",
    "宁波": "0574",
    "济南": "0531",
    "东莞": "0769",
    "佛山": "0757",
    "无锡": "0510",
}
STREETS = [
    "中关村大街",
    "建国路",
    "南京西路",
    "深南大道",
    "天河路",
    "文三路",
    "人民南路",
    "解放大道",
    "中山路",
    "长安街",
    "科技园路",
    "高新大道",
]


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2])))


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def landline(rng: random.Random, city: str) -> str:
    code = AREA_CODES.get(city, "010")
    digits = 8
    # First digit 2-7: numbers such as 010-800... are service numbers the phone check refuses.
    return f"{code}-{rng.randrange(2, 8)}{rng.randrange(10 ** (digits - 1)):0{digits - 1}d}"


def company(rng: random.Random) -> tuple[str, str, str]:
    """(name, industry code, city)."""
    city = rng.choice(CITIES)
    industry = rng.choice(list(TRADES))
    name = f"{city}{rng.choice(CORES)}{rng.choice(CORES)}{rng.choice(TRADES[industry])}"
    return name + rng.choice(SUFFIXES), industry, city


def credit_code(rng: random.Random) -> str:
    chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    first = (
        "91" + f"{rng.randrange(110000, 659999):06d}" + "".join(rng.choice(chars) for _ in range(9))
    )
    return credit_code_with_checksum(first)


DEPARTMENTS = ["销售一部", "销售二部", "客服部"]
# username: (full name, department, role, supervisor username, superuser)
USERS: dict[str, tuple[str, str | None, str, str | None, bool]] = {
    "admin": ("系统管理员", None, "admin", None, True),
    "manager": ("王经理", "销售一部", "sales_manager", None, False),
    "rep1": ("李明", "销售一部", "sales_rep", "manager", False),
    "rep2": ("张芳", "销售一部", "sales_rep", "manager", False),
    "manager2": ("陈经理", "销售二部", "sales_manager", None, False),
    "rep3": ("刘洋", "销售二部", "sales_rep", "manager2", False),
    "service": ("赵客服", "客服部", "customer_service", None, False),
    "exec": ("周总", None, "executive", None, False),
}


@transaction.atomic
def demo_users_create(*, password: str) -> dict[str, Any]:
    from crm.accounts.models import Department, Role, User

    departments = {
        name: Department.objects.get_or_create(name=name, parent=None, defaults={"position": i})[0]
        for i, name in enumerate(DEPARTMENTS)
    }
    roles = {r.code: r for r in Role.objects.all()}
    users: dict[str, Any] = {}
    for username, (full_name, dept, role, _sup, superuser) in USERS.items():
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "full_name": full_name,
                "department": departments.get(dept or ""),
                "is_superuser": superuser,
                "is_staff": superuser,
                "email": f"{username}@demo.example.com",
            },
        )
        if created:
            user.set_password(password)
            user.save()
            user.roles.set([roles[role]])
        users[username] = user
    for username, (_n, _d, _r, sup, _s) in USERS.items():
        if sup and users[username].supervisor_id != users[sup].pk:
            users[username].supervisor = users[sup]
            users[username].save(update_fields=["supervisor"])
    return users


# Demo history: the customers are spread over this many calendar months, the current one
# included, so the dashboard, the lists' "newest first" and every later report look like a
# company that has been using the CRM for a while rather than one that started today.
HISTORY_MONTHS = 18
# New customers per month in the company's calendar: the Spring Festival (Jan/Feb) and the
# National Day week (Oct) are slow; March picks up after the holiday; November is busy.
SEASON = {
    1: 0.85,
    2: 0.45,
    3: 1.15,
    4: 1.05,
    5: 0.95,
    6: 1.0,
    7: 0.95,
    8: 0.9,
    9: 1.05,
    10: 0.75,
    11: 1.1,
    12: 1.0,
}
DEMO_EDITS = 0.15  # share of customers with a later edit (status or grade moved on)
DEMO_DELETED = 5  # customers waiting in the recycle bin
STATUS_NEXT = {"potential": "intent", "intent": "deal", "deal": "loyal"}
GRADE_UP = {"C": "B", "B": "A"}


def _month_start(year: int, month: int, tz) -> dt.datetime:
    return dt.datetime(year, month, 1, tzinfo=tz)


def demo_created_times(
    *, count: int, now: dt.datetime, rng: random.Random, months: int = HISTORY_MONTHS
) -> list[dt.datetime]:
    """`count` creation times over the last `months` calendar months, oldest first: a growth
    curve (fewer early on, more recently) times the season, on working days and hours. The
    current month gets its share only for the part of it that has passed."""
    tz = now.tzinfo
    periods = []
    year, month = now.year, now.month
    for ago in range(months):
        start = _month_start(year, month, tz)
        next_start = _month_start(year + (month == 12), month % 12 + 1, tz)
        end = min(next_start, now - dt.timedelta(minutes=5))
        share = max(0.0, (end - start) / (next_start - start))
        growth = 6 + 1.4 * (months - 1 - ago)
        periods.append((start, end, growth * SEASON[month] * share))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    periods.reverse()
    total = sum(w for _s, _e, w in periods)
    # Largest remainder, so the months add up to exactly `count`.
    exact = [count * w / total for _s, _e, w in periods]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: exact[i] - counts[i], reverse=True)[
        : count - sum(counts)
    ]:
        counts[i] += 1
    times: list[dt.datetime] = []
    for (start, end, _w), n in zip(periods, counts, strict=True):
        for _i in range(n):
            times.append(_working_time(start, end, rng))
    return sorted(times)


def _working_time(start: dt.datetime, end: dt.datetime, rng: random.Random) -> dt.datetime:
    """A random moment in [start, end), on a weekday between 9:00 and 19:00 when possible."""
    span = (end - start).total_seconds()
    moment = start + dt.timedelta(seconds=rng.random() * span)
    for _try in range(20):
        candidate = start + dt.timedelta(seconds=rng.random() * span)
        if candidate.weekday() < 5 and 9 <= candidate.hour < 19:
            return candidate
    return moment


def demo_customers_create(*, users: dict[str, Any], count: int = 320, seed: int = 2026) -> int:
    """Create customers through the real services (numbers, audit, search keys all real),
    then date them over the last 18 months.

    The services stamp everything "now" (auto_now / auto_now_add fields, the current month's
    number, the audit entry's time), and nothing in the application may write a past time,
    so the history is put in afterwards with queryset updates: created/updated times of the
    customers, their contacts and audit entries, numbers of the month each customer was
    created in (KH+yyyymm+seq, and the numbering counters set to match, so the next customer
    created this month continues the sequence), a few later edits, a few customers in the
    recycle bin and spread last follow-up times.
    """
    from django.contrib.contenttypes.models import ContentType
    from django.utils import timezone

    from crm.core.errors import DuplicateError
    from crm.customers.models import Customer
    from crm.customers.services import customer_create

    rng = random.Random(seed)
    tz = timezone.get_default_timezone()
    now = timezone.localtime(timezone.now(), tz)
    times = demo_created_times(count=count, now=now, rng=rng)
    owners = [
        users[u] for u in ("rep1", "rep1", "rep2", "rep2", "rep3", "rep3", "manager", "manager2")
    ]
    sources = [
        "website",
        "trade_show",
        "referral",
        "customer_referral",
        "cold_call",
        "social",
        "search",
    ]
    statuses = ["potential", "potential", "intent", "intent", "deal", "loyal", "lost"]
    custom_rng = random.Random(seed + 81)
    created: list[tuple[Customer, dt.datetime]] = []
    attempts = 0
    while len(created) < count and attempts < count * 3:
        attempts += 1
        individual = rng.random() < 0.08
        if individual:
            name, industry, city = person_name(rng), "other", rng.choice(CITIES)
        else:
            name, industry, city = company(rng)
        contacts = []
        for i in range(1 if individual else rng.choice([1, 2, 2, 3])):
            contacts.append(
                {
                    "name": name if individual else person_name(rng),
                    "title": "" if individual else rng.choice(TITLES),
                    "phone": mobile(rng),
                    "email": f"contact{attempts}{i}@example.com" if rng.random() < 0.5 else "",
                    "is_primary": i == 0,
                }
            )
        owner = rng.choice(owners)
        data = {
            "type": "individual" if individual else "enterprise",
            "name": name,
            "industry": industry,
            "source": rng.choice(sources),
            "grade": rng.choices(["A", "B", "C"], weights=[2, 3, 5])[0],
            "status": rng.choice(statuses),
            "owner_id": owner.pk,
            "phone": landline(rng, city) if not individual else contacts[0]["phone"],
            "email": f"info{attempts}@example.com" if rng.random() < 0.4 else "",
            "credit_code": credit_code(rng) if not individual and rng.random() < 0.6 else "",
            "address": f"{city}市{rng.choice(STREETS)}{rng.randrange(1, 999)}号",
            "background": "" if rng.random() < 0.5 else "通过行业展会结识，有长期合作意向。",
            "budget": str(rng.choice([50000, 100000, 200000, 500000, 1000000]))
            if rng.random() < 0.5
            else "",
            "custom": demo_custom_values("customers", custom_rng, individual=individual),
        }
        try:
            # The owner enters their own customer, as in a real team: the audit log then
            # shows each rep's work to their manager (the audit scope follows the actor).
            customer = customer_create(
                actor=owner, data=data, contacts=contacts, confirm_duplicates=True
            )
        except DuplicateError:
            continue
        created.append((customer, times[len(created)]))
    ct = ContentType.objects.get_for_model(Customer)
    edits = _demo_edits(created=created, users=users, now=now, rng=rng)
    deleted = _demo_deletions(created=created, users=users, now=now, rng=rng, edits=edits)
    _demo_backdate(created=created, edits=edits, deleted=deleted, now=now, rng=rng, content_type=ct)
    return len(created)


def _demo_edits(
    *, created: list[tuple[Any, dt.datetime]], users: dict[str, Any], now: dt.datetime, rng
) -> list[tuple[int, dt.datetime]]:
    """Later edits through the service: a status or grade moved on by the owner. Returns
    (customer id, time) in the order the edits were made, which is their time order."""
    from crm.customers.lifecycle import customer_lifecycle_change
    from crm.customers.services import customer_update

    by_pk = {c.pk: (c, t) for c, t in created}
    planned = []
    for customer, at in created:
        age = (now - at).total_seconds()
        if age < 3 * 86400 or rng.random() >= DEMO_EDITS:
            continue
        when = _working_time(at + dt.timedelta(days=2), now - dt.timedelta(hours=1), rng)
        planned.append((when, customer.pk))
    planned.sort()
    done = []
    for when, pk in planned:
        customer, _at = by_pk[pk]
        if customer.status in STATUS_NEXT and rng.random() < 0.7:
            # The lifecycle status moves through its own service (CUS-8); these forward
            # steps need no approval by default.
            updated, _approval = customer_lifecycle_change(
                actor=customer.owner,
                customer=customer,
                status=STATUS_NEXT[customer.status],
                version=customer.version,
            )
        elif customer.grade in GRADE_UP:
            updated = customer_update(
                actor=customer.owner,
                customer=customer,
                data={"grade": GRADE_UP[customer.grade]},
                version=customer.version,
            )
        else:
            continue
        by_pk[pk] = (updated, _at)
        done.append((pk, when))
    return done


def _demo_deletions(
    *,
    created: list[tuple[Any, dt.datetime]],
    users: dict[str, Any],
    now: dt.datetime,
    rng,
    edits: list[tuple[int, dt.datetime]],
) -> list[tuple[int, dt.datetime]]:
    """A few customers moved to the recycle bin in the last weeks (duplicates entered by
    mistake, a closed company), by the administrator."""
    from crm.customers.models import Customer
    from crm.customers.services import customer_delete

    edited = {pk for pk, _w in edits}
    candidates = [(c, t) for c, t in created if c.pk not in edited and (now - t).days > 30]
    chosen = sorted(rng.sample(candidates, min(DEMO_DELETED, len(candidates))), key=lambda x: x[1])
    planned = sorted(
        (_working_time(now - dt.timedelta(days=25), now - dt.timedelta(days=1), rng), c.pk)
        for c, _t in chosen
    )
    for _when, pk in planned:
        customer_delete(actor=users["admin"], customer=Customer.objects.get(pk=pk))
    return [(pk, when) for when, pk in planned]


def _demo_backdate(
    *,
    created: list[tuple[Any, dt.datetime]],
    edits: list[tuple[int, dt.datetime]],
    deleted: list[tuple[int, dt.datetime]],
    now: dt.datetime,
    rng,
    content_type,
) -> None:
    """Write the history: times, numbers of the right months, counters, audit times."""
    from crm.core.models import AuditEntry, NumberingRule, NumberSequence
    from crm.core.numbering import numbering_rule_get
    from crm.customers.models import Contact, Customer
    from crm.customers.services import customers_search_reindex

    rule: NumberingRule = numbering_rule_get(key="customer")
    current_period = now.strftime(rule.period_format)
    counters = dict(
        NumberSequence.objects.filter(key="customer").values_list("period", "last_value")
    )
    # The creates above took this month's numbers; give them back before renumbering.
    counters[current_period] = counters.get(current_period, 0) - len(created)
    created_at = {c.pk: t for c, t in created}
    updated_at = dict(created_at)
    for pk, when in edits:
        updated_at[pk] = max(updated_at[pk], when)
    for pk, when in deleted:
        updated_at[pk] = max(updated_at[pk], when)
    deleted_at = dict(deleted)

    customers = list(Customer.objects.filter(pk__in=created_at).order_by("pk"))
    # Through a temporary number first: a customer's new number may still be another's.
    for customer in customers:
        customer.number = f"TMP{customer.pk}"
    Customer.objects.bulk_update(customers, ["number"])
    for customer in customers:  # created in time order, so numbers rise with time
        at = created_at[customer.pk]
        period = at.strftime(rule.period_format)
        counters[period] = counters.get(period, 0) + 1
        customer.number = f"{rule.prefix}{period}{counters[period]:0{rule.digits}d}"
        customer.created_at = at
        customer.updated_at = updated_at[customer.pk]
        if customer.pk in deleted_at:
            customer.deleted_at = deleted_at[customer.pk]
        if rng.random() < 0.8 and (now - at).days >= 1:
            # Follow-ups lean towards the recent past, never before the customer existed.
            span = (now - at).total_seconds()
            customer.last_followup_at = now - dt.timedelta(seconds=span * rng.random() ** 2)
    Customer.objects.bulk_update(
        customers, ["number", "created_at", "updated_at", "deleted_at", "last_followup_at"]
    )
    for period, value in counters.items():
        NumberSequence.objects.update_or_create(
            key="customer", period=period, defaults={"last_value": max(value, 0)}
        )
    contacts = list(Contact.objects.filter(customer_id__in=created_at).only("id", "customer_id"))
    for contact in contacts:
        contact.created_at = contact.updated_at = created_at[contact.customer_id]
    Contact.objects.bulk_update(contacts, ["created_at", "updated_at"])

    numbers = {c.pk: c for c in customers}
    entries = list(
        AuditEntry.objects.filter(content_type=content_type, object_id__in=created_at).order_by(
            "id"
        )
    )
    edit_times = iter(when for _pk, when in edits)
    delete_times = dict(deleted)
    for entry in entries:
        customer = numbers[entry.object_id]
        entry.object_repr = str(customer)[:200]
        if entry.action == AuditEntry.Action.CREATE:
            entry.created_at = created_at[entry.object_id]
        elif entry.action == AuditEntry.Action.UPDATE:
            entry.created_at = next(edit_times)
        elif entry.action == AuditEntry.Action.DELETE:
            entry.created_at = delete_times[entry.object_id]
    AuditEntry.objects.bulk_update(entries, ["object_repr", "created_at"])
    # The customers' timeline lines were written at load time with this month's numbers:
    # write them again from the back-dated audit trail (what the migration does for old data).
    from crm.core.models import TimelineEntry
    from crm.customers.timeline import MODULE, timeline_backfill

    TimelineEntry.objects.filter(customer_id__in=created_at, module=MODULE).delete()
    timeline_backfill(
        audit_model=AuditEntry,
        timeline_model=TimelineEntry,
        customer_model=Customer,
        content_type_id=content_type.pk,
    )
    # The number is one of the search keys.
    customers_search_reindex()


# --- opportunities and follow-ups (issue 6) ---------------------------------------------------

DEMO_PRODUCTS = [
    "办公设备采购",
    "ERP系统升级",
    "年度运维服务",
    "生产线自动化改造",
    "云服务器扩容",
    "安防监控项目",
    "员工培训服务",
    "网络设备更新",
    "软件许可续约",
    "营销数字化咨询",
]
DEMO_FOLLOWUPS = [
    ("phone", "电话沟通项目进展，客户确认了需求范围。", "希望下周看到详细方案。", "准备方案初稿"),
    (
        "visit",
        "上门拜访采购经理，现场演示产品功能。",
        "对功能满意，关注售后响应时间。",
        "提供售后服务承诺书",
    ),
    ("email", "发送报价单及产品资料。", "已收到，内部评估中。", "电话确认评估结果"),
    ("wechat", "微信沟通合同条款细节。", "法务在审核付款条款。", "跟进法务意见"),
    ("phone", "回访使用情况，了解新的采购计划。", "明年有扩容预算。", "整理扩容方案"),
    ("visit", "与技术负责人开会讨论实施计划。", "要求提供同行业案例。", "发送案例资料"),
    ("other", "参加客户年会，交流下一年合作方向。", "关系良好，可约高层会面。", "约见总经理"),
]
DEMO_GOALS = ["确认方案细节", "推进合同签订", "邀请参观样板客户", "了解预算审批进度", "催收首付款"]
DEMO_LOST = ["budget", "competitor_price", "needs_changed", "decision_delayed", "unreachable"]


class _TimeMachine:
    """Run the real services as of a past moment: `django.utils.timezone.now` answers that
    moment, so every stamp the services and models write (auto_now fields, the audit entry,
    the month in the SJ number, "not in the future" checks) is the one a user working then
    would have left. Only the demo loader uses it, in one thread, before the server starts."""

    def __init__(self) -> None:
        from django.utils import timezone

        self._module = timezone
        self._real = timezone.now
        self.moment: dt.datetime | None = None

    def __enter__(self) -> _TimeMachine:
        self._module.now = lambda: self.moment or self._real()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._module.now = self._real


def demo_sales_create(*, users: dict[str, Any], seed: int = 2026) -> dict[str, int]:
    """Opportunities moving through the pipeline and the follow-up log of the demo customers,
    made through the real services in time order over the customers' lives.

    Each live customer gets follow-ups (three on average) from its owner, and half of them an
    opportunity that moves stage by stage and, for the older ones, ends won (contract number,
    amount) or lost (a seeded reason), with a milestone now and then; the newest follow-up of
    many customers plans a next step between a week ago and two weeks ahead, so "my
    follow-ups" has overdue, today's and this week's plans on the first start.
    """
    from django.utils import timezone

    from crm.activities.services import followup_create
    from crm.customers.models import Customer
    from crm.sales.models import Opportunity, Stage
    from crm.sales.services import (
        milestone_create,
        opportunity_close_lost,
        opportunity_close_won,
        opportunity_create,
        opportunity_move_stage,
        pipeline_totals_rebuild,
    )

    rng = random.Random(seed + 6)
    custom_rng = random.Random(seed + 82)
    real_now = timezone.now()
    open_stages = list(Stage.objects.filter(kind="open", is_active=True).order_by("position"))
    customers = list(
        Customer.objects.filter(deleted_at__isnull=True)
        .prefetch_related("contacts")
        .select_related("owner")
        .order_by("created_at")
    )
    events: list[tuple[dt.datetime, int, str, dict[str, Any]]] = []
    order = 0

    def plan(at: dt.datetime, event: str, **data: Any) -> None:
        nonlocal order
        order += 1
        events.append((at, order, event, data))

    def later(start: dt.datetime, days: float) -> dt.datetime:
        return _working_time(start, min(start + dt.timedelta(days=days), real_now), rng)

    for customer in customers:
        life = (real_now - customer.created_at).total_seconds()
        if life < 3600:
            continue
        contacts = list(customer.contacts.all())
        start = customer.created_at + dt.timedelta(minutes=30)
        # The follow-up log, oldest first; the newest may plan the next step.
        count = min(6, max(0, round(rng.gauss(3, 1.3))))
        moments = sorted(
            _working_time(start, real_now - dt.timedelta(minutes=30), rng) for _i in range(count)
        )
        for i, at in enumerate(moments):
            method, summary, feedback, action = rng.choice(DEMO_FOLLOWUPS)
            data = {
                "customer_id": customer.pk,
                "contact_id": rng.choice(contacts).pk if contacts else None,
                "method": method,
                "occurred_at": at,
                "summary": summary,
                "feedback": feedback,
                "next_action": action,
            }
            if i == count - 1 and rng.random() < 0.55:
                target = real_now + dt.timedelta(hours=rng.uniform(-7 * 24, 14 * 24))
                if target > at + dt.timedelta(hours=1):
                    data.update(
                        next_at=target.replace(minute=0, second=0, microsecond=0),
                        next_method=rng.choice(["phone", "visit", "wechat"]),
                        next_goal=rng.choice(DEMO_GOALS),
                    )
            plan(at, "followup", owner=customer.owner, data=data)
        if rng.random() >= 0.5:
            continue
        at = later(start, 60)
        local = timezone.localtime(at)
        quarter = (local.month - 1) // 3 + 1
        amount = rng.choice([38000, 56000, 88000, 120000, 180000, 260000, 450000, 800000])
        key = f"opp-{customer.pk}"
        plan(
            at,
            "opportunity",
            owner=customer.owner,
            key=key,
            data={
                "customer_id": customer.pk,
                "contact_id": contacts[0].pk if contacts else None,
                "name": f"{customer.name[:40]}{local.year}年Q{quarter}{rng.choice(DEMO_PRODUCTS)}",
                "amount": str(amount),
                "expected_close_date": (at + dt.timedelta(days=rng.randrange(45, 150))).date(),
                "source": customer.source,
                "description": "客户有明确采购计划，预算已申请。",
                "competitors": rng.choice(["", "", "用友", "金蝶", "本地集成商"]),
                "custom": demo_custom_values(
                    "opportunities", custom_rng, close=at + dt.timedelta(days=90)
                ),
            },
        )
        age_days = (real_now - at).days
        steps = min(len(open_stages) - 1, int(rng.random() * 4) if age_days > 20 else 1)
        for step in range(1, steps + 1):
            at = later(at, 18)
            plan(at, "move", owner=customer.owner, key=key, stage=open_stages[step].pk)
        if rng.random() < 0.3:
            plan(
                later(at, 10),
                "milestone",
                owner=customer.owner,
                key=key,
                kind="contract_submitted",
            )
        if age_days > 60 and rng.random() < 0.7:
            at = later(at, 30)
            if rng.random() < 0.62:
                plan(at, "won", owner=customer.owner, key=key, amount=amount)
                if rng.random() < 0.5:
                    plan(later(at, 5), "milestone", owner=customer.owner, key=key, kind="signed")
            else:
                plan(at, "lost", owner=customer.owner, key=key, reason=rng.choice(DEMO_LOST))

    events.sort(key=lambda e: (e[0], e[1]))
    opportunities: dict[str, int] = {}
    made = {"opportunities": 0, "followups": 0}
    with _TimeMachine() as machine:
        for at, _order, kind, data in events:
            machine.moment = at
            actor = data["owner"]
            if kind == "followup":
                followup_create(actor=actor, data=data["data"])
                made["followups"] += 1
                continue
            if kind == "opportunity":
                opportunity = opportunity_create(actor=actor, data=data["data"])
                opportunities[data["key"]] = opportunity.pk
                made["opportunities"] += 1
                continue
            opportunity = Opportunity.objects.get(pk=opportunities[data["key"]])
            if kind == "move":
                opportunity_move_stage(
                    actor=actor,
                    opportunity=opportunity,
                    stage=data["stage"],
                    version=opportunity.version,
                )
            elif kind == "milestone":
                milestone_create(
                    actor=actor,
                    opportunity=opportunity,
                    kind=data["kind"],
                    occurred_on=timezone.localtime(at).date(),
                    note="",
                )
            elif kind == "won":
                opportunity_close_won(
                    actor=actor,
                    opportunity=opportunity,
                    contract_no=f"HT{opportunity.number[2:]}",
                    actual_amount=str(data["amount"]),
                    version=opportunity.version,
                )
            elif kind == "lost":
                opportunity_close_lost(
                    actor=actor,
                    opportunity=opportunity,
                    lost_reason=data["reason"],
                    lost_note="客户选择了其他方案。",
                    version=opportunity.version,
                )
    pipeline_totals_rebuild()
    return made


# Custom fields an administrator of the demo company defined (issue 8 §1), through the real
# service; part of the demo records carry values (their own random stream: the rest of the
# demo stays as it was).
DEMO_CUSTOM_FIELDS: list[dict[str, Any]] = [
    {
        "module": "customers",
        "key": "company_size",
        "label": "企业规模",
        "label_en": "Company size",
        "type": "choice",
        "show_in_list": True,
        "help": "按员工人数。",
        "options": [
            {"code": "lt50", "label": "少于50人", "label_en": "Under 50"},
            {"code": "50_200", "label": "50-200人", "label_en": "50-200"},
            {"code": "200_1000", "label": "200-1000人", "label_en": "200-1000"},
            {"code": "gt1000", "label": "1000人以上", "label_en": "Over 1000"},
        ],
    },
    {
        "module": "customers",
        "key": "annual_revenue",
        "label": "年营业额(万元)",
        "label_en": "Annual revenue (10k yuan)",
        "type": "decimal",
        "min_value": "0",
        "help": "上一财年，单位万元。",
    },
    {
        "module": "customers",
        "key": "wechat",
        "label": "微信号",
        "label_en": "WeChat ID",
        "type": "text",
    },
    {
        "module": "leads",
        "key": "products",
        "label": "意向产品",
        "label_en": "Products of interest",
        "type": "multichoice",
        "show_in_list": True,
        "options": [
            {"code": "crm", "label": "CRM系统", "label_en": "CRM"},
            {"code": "call_center", "label": "呼叫中心", "label_en": "Call centre"},
            {"code": "analytics", "label": "数据分析", "label_en": "Analytics"},
            {"code": "mobile", "label": "移动办公", "label_en": "Mobile office"},
        ],
    },
    {
        "module": "opportunities",
        "key": "sign_quarter",
        "label": "预计签约季度",
        "label_en": "Expected signing quarter",
        "type": "choice",
        "show_in_list": True,
        "options": [
            {"code": "q1", "label": "第一季度", "label_en": "Q1"},
            {"code": "q2", "label": "第二季度", "label_en": "Q2"},
            {"code": "q3", "label": "第三季度", "label_en": "Q3"},
            {"code": "q4", "label": "第四季度", "label_en": "Q4"},
        ],
    },
]


def demo_custom_fields_create(*, users: dict[str, Any]) -> int:
    from crm.core.customfields_services import custom_field_save

    for data in DEMO_CUSTOM_FIELDS:
        custom_field_save(actor=users["admin"], data=data)
    return len(DEMO_CUSTOM_FIELDS)


def demo_custom_values(module: str, rng: random.Random, **hints: Any) -> dict[str, Any]:
    """Values for part of a module's demo records (the others stay empty, as in real use)."""
    custom: dict[str, Any] = {}
    if module == "customers":
        if not hints.get("individual") and rng.random() < 0.7:
            custom["company_size"] = rng.choices(
                ["lt50", "50_200", "200_1000", "gt1000"], weights=[4, 4, 2, 1]
            )[0]
            if rng.random() < 0.6:
                scale = {"lt50": 800, "50_200": 5000, "200_1000": 30000, "gt1000": 200000}
                revenue = rng.uniform(0.3, 1.5) * scale[custom["company_size"]]
                custom["annual_revenue"] = f"{revenue:.2f}"
        if rng.random() < 0.35:
            custom["wechat"] = f"wx_{rng.randrange(10**6, 10**7)}"
    elif module == "leads":
        if rng.random() < 0.6:
            products = ["crm", "call_center", "analytics", "mobile"]
            custom["products"] = rng.sample(products, rng.choice([1, 1, 2, 3]))
    elif module == "opportunities":
        close = hints.get("close")
        if close is not None and rng.random() < 0.75:
            custom["sign_quarter"] = f"q{(close.month - 1) // 3 + 1}"
    return custom


@transaction.atomic
def demo_load(*, password: str, customers: int = 320) -> dict[str, Any]:
    users = demo_users_create(password=password)
    custom_fields = demo_custom_fields_create(users=users)
    count = demo_customers_create(users=users, count=customers)
    sales = demo_sales_create(users=users)
    leads = demo_leads_create(users=users)
    approvals = demo_approvals_create(users=users)
    clocks = demo_clocks_create(users=users)
    duplicates = demo_duplicates_create(users=users)
    imports = demo_imports_create(users=users)
    return {
        "users": list(users),
        "custom_fields": custom_fields,
        "customers": count,
        **sales,
        **leads,
        **approvals,
        **clocks,
        **duplicates,
        **imports,
    }


def demo_approvals_create(*, users: dict[str, Any]) -> dict[str, int]:
    """Two lifecycle requests through the real services (CUS-8): rep1 asks to mark a deal
    customer lost (pending: the manager's "waiting for me" and nav badge), rep2 asked to mark
    a loyal customer lost and the manager rejected it with a comment."""
    from crm.core.approvals import approval_reject
    from crm.customers.lifecycle import customer_lifecycle_change
    from crm.customers.models import Customer

    made = 0
    for rep, status, reason, note, answer in (
        ("rep1", "deal", "competitor", "客户选择了竞品的整体方案，合同不再续签。", None),
        (
            "rep2",
            "loyal",
            "no_response",
            "连续三个月联系不上采购负责人。",
            "上周刚续约，再跟进一下。",
        ),
    ):
        customer = (
            Customer.objects.filter(owner=users[rep], status=status, deleted_at__isnull=True)
            .order_by("id")
            .first()
        )
        if customer is None:
            continue
        _customer, approval = customer_lifecycle_change(
            actor=users[rep],
            customer=customer,
            status="lost",
            reason=reason,
            note=note,
            version=customer.version,
        )
        if approval is None:
            continue
        made += 1
        if answer:
            approval_reject(actor=users["manager"], approval=approval, comment=answer)
    return {"approvals": made}


DEMO_LEAD_NEEDS = [
    "想替换现有的Excel客户台账，统一管理销售过程。",
    "销售团队二十人左右，需要商机和回款管理。",
    "了解移动端跟进和公海规则，计划下季度上线。",
    "总部和分公司需要按部门分权限查看客户。",
    "客服部门需要工单和回访提醒。",
    "希望和企业微信打通，统一通讯录。",
]
# source, share, grade weights (A, B, C): a web form brings more A leads than a cold list.
DEMO_LEAD_SOURCES = [
    ("web_form", 30, (3, 4, 3)),
    ("trade_show", 20, (2, 5, 3)),
    ("referral", 12, (4, 4, 2)),
    ("salon", 10, (2, 5, 3)),
    ("search", 12, (1, 4, 5)),
    ("social", 8, (1, 3, 6)),
    ("import", 8, (1, 3, 6)),
]
DEMO_REGIONS = ["east", "east", "east", "north", "south", "central", "southwest", "northeast"]


def demo_leads_create(*, users: dict[str, Any], count: int = 150, seed: int = 2026) -> dict:
    """Leads over the last 18 months through the real services, in time order: assignment
    rules an administrator set up at the start, leads arriving from every channel (the web
    form and trade show ones assigned by the rules, the reps' own ones owned by them, a
    bought list left unassigned for the manager to hand out), first contacts mostly within
    the SLA and some late, then conversions (some with an opportunity), disqualifications
    with a reason and leads still being worked. The newest ones are still new, so the list
    shows on-time, due-soon and breached badges on the first start."""
    from django.utils import timezone

    from crm.activities.services import followup_create
    from crm.core.errors import AppError
    from crm.leads.assignment import rule_create
    from crm.leads.conversion import lead_convert, lead_disqualify
    from crm.leads.models import Lead, LeadStatus
    from crm.leads.services import lead_create
    from crm.leads.webforms import web_form_create, web_form_submit

    rng = random.Random(seed + 7)
    custom_rng = random.Random(seed + 83)
    tz = timezone.get_default_timezone()
    real_now = timezone.localtime(timezone.now(), tz)
    admin, manager = users["admin"], users["manager"]
    team1 = users["rep1"].department
    # Three arrived today and wait for their first call (on time, due soon on the list).
    fresh = [real_now - dt.timedelta(hours=h) for h in (21.5, 5, 1.5)]
    times = demo_created_times(count=count - len(fresh), now=real_now, rng=rng) + fresh
    made = {"leads": 0, "converted": 0, "disqualified": 0}
    events: list[tuple[dt.datetime, int, str, dict[str, Any]]] = []
    order = 0

    def plan(at: dt.datetime, event: str, **data: Any) -> None:
        nonlocal order
        order += 1
        events.append((min(at, real_now - dt.timedelta(minutes=1)), order, event, data))

    for i, at in enumerate(times):
        source = rng.choices(
            [s for s, _w, _g in DEMO_LEAD_SOURCES], weights=[w for _s, w, _g in DEMO_LEAD_SOURCES]
        )[0]
        if at in fresh:
            source = "web_form"
        grades = next(g for s, _w, g in DEMO_LEAD_SOURCES if s == source)
        grade = rng.choices(["A", "B", "C"], weights=grades)[0]
        name, industry, _city = company(rng)
        creator = admin
        owner = None
        if source in ("referral", "salon", "social"):
            creator = rng.choice([users["rep1"], users["rep2"], users["rep3"]])
            owner = creator
        data = {
            "company": name,
            "name": person_name(rng),
            "title": rng.choice(TITLES),
            "phone": mobile(rng),
            "email": f"lead{i}@example.com" if rng.random() < 0.6 else "",
            "source": source,
            "grade": grade,
            "region": rng.choice(DEMO_REGIONS),
            "requirement": rng.choice(DEMO_LEAD_NEEDS),
            "budget": str(rng.choice([30000, 80000, 150000, 300000])) if rng.random() < 0.5 else "",
        }
        if owner is not None:
            data["owner_id"] = owner.pk
        key = f"lead-{i}"
        if source == "web_form":
            # A visitor fills in one of the site's two forms: the trial request is an A lead.
            form_key = "trial" if rng.random() < 0.35 or at == fresh[0] else "contact"
            grade = "A" if form_key == "trial" else "B"
            plan(at, "submit", key=key, form=form_key, data=data, industry=industry)
        else:
            data["custom"] = demo_custom_values("leads", custom_rng)
            plan(at, "lead", key=key, actor=creator, data=data, industry=industry)
        age = (real_now - at).total_seconds() / 86400
        if age < 0.3 or at in fresh:
            continue  # just arrived: still new
        # The first contact: an A lead within hours mostly, a few late; some never.
        if rng.random() < (0.55 if age < 3 else 0.92):
            hours = rng.choice([1, 2, 3, 5, 8, 20, 30, 60]) * (1 if grade == "A" else 1.6)
            first = at + dt.timedelta(hours=hours)
            if first < real_now:
                plan(first, "followup", key=key, n=0)
                if age > 20 and rng.random() < 0.6:
                    plan(first + dt.timedelta(days=rng.uniform(3, 12)), "followup", key=key, n=1)
        else:
            continue
        if age < 14:
            continue
        roll = rng.random()
        decided = at + dt.timedelta(days=rng.uniform(7, min(age - 1, 40)))
        if roll < 0.32:
            plan(decided, "convert", key=key, opportunity=rng.random() < 0.6, industry=industry)
        elif roll < 0.52:
            plan(
                decided,
                "disqualify",
                key=key,
                reason=rng.choice(["no_need", "no_budget", "unreachable", "competitor_customer"]),
            )

    events.sort(key=lambda e: (e[0], e[1]))
    leads: dict[str, int] = {}
    with _TimeMachine() as machine:
        machine.moment = times[0] - dt.timedelta(days=3)
        forms = {
            "contact": web_form_create(
                actor=admin,
                data={
                    "name": "官网咨询表单",
                    "fields": ["company", "name", "title", "phone", "email", "requirement"],
                    "required": ["company", "name", "phone"],
                    "source": "web_form",
                    "grade": "B",
                    "thank_you": "感谢您的咨询！我们的顾问会在一个工作日内与您联系。",
                },
            ),
            "trial": web_form_create(
                actor=admin,
                data={
                    "name": "产品试用申请",
                    "fields": ["company", "name", "title", "phone", "email", "region", "budget"],
                    "required": ["company", "name", "phone", "region"],
                    "source": "web_form",
                    "grade": "A",
                    "thank_you": "试用申请已收到，顾问会在24小时内为您开通试用账号。",
                },
            ),
        }
        rule_create(
            actor=admin,
            data={
                "name": "官网表单A类 → 销售一部轮流",
                "match_source": "web_form",
                "match_grade": "A",
                "target": "round_robin",
                "department_id": team1.pk,
            },
        )
        rule_create(
            actor=admin,
            data={
                "name": "华北、东北 → 刘洋",
                "match_region": "north",
                "target": "user",
                "user_id": users["rep3"].pk,
            },
        )
        rule_create(
            actor=admin,
            data={
                "name": "展会线索 → 张芳",
                "match_source": "trade_show",
                "target": "user",
                "user_id": users["rep2"].pk,
            },
        )
        rule_create(
            actor=admin,
            data={
                "name": "其他官网表单 → 销售一部轮流",
                "match_source": "web_form",
                "target": "round_robin",
                "department_id": team1.pk,
            },
        )
        for at, _order, kind, data in events:
            machine.moment = at
            if kind == "submit":
                form = forms[data["form"]]
                fields = {k: v for k, v in data["data"].items() if k in form.fields}
                lead = web_form_submit(form=form, data=fields, ip=None, at=at, token_required=False)
                leads[data["key"]] = lead.pk
                made["leads"] += 1
                continue
            if kind == "lead":
                lead = lead_create(actor=data["actor"], data=data["data"], confirm_duplicates=True)
                leads[data["key"]] = lead.pk
                made["leads"] += 1
                continue
            lead = Lead.objects.filter(pk=leads.get(data["key"])).first()
            if lead is None or lead.status in (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED):
                continue
            actor = lead.owner or manager
            try:
                if kind == "followup":
                    method, summary, feedback, action = rng.choice(DEMO_FOLLOWUPS)
                    followup_create(
                        actor=actor,
                        data={
                            "lead_id": lead.pk,
                            "method": "phone" if data["n"] == 0 else method,
                            "occurred_at": at,
                            "summary": "首次电话沟通，确认需求和预算。"
                            if data["n"] == 0
                            else summary,
                            "feedback": feedback,
                            "next_action": action,
                        },
                    )
                elif kind == "convert":
                    opportunity = None
                    if data["opportunity"]:
                        opportunity = {
                            "name": f"{lead.company[:40]}CRM项目",
                            "amount": str(lead.budget or rng.choice([60000, 120000, 200000])),
                            "expected_close_date": (at + dt.timedelta(days=60)).date(),
                        }
                    lead_convert(
                        actor=actor,
                        lead=lead,
                        customer={"industry": data["industry"]},
                        opportunity=opportunity,
                        confirm_duplicates=True,
                    )
                    made["converted"] += 1
                elif kind == "disqualify":
                    lead_disqualify(
                        actor=actor, lead=lead, reason=data["reason"], note="电话沟通后确认。"
                    )
                    made["disqualified"] += 1
            except AppError:
                continue  # a refusal a real user would also have met; the history goes on
    return made


def demo_clocks_create(*, users: dict[str, Any], seed: int = 2026) -> dict[str, int]:
    """The last weeks of a team that works its book, with the clocks running (FUP-3, CUS-10,
    issue 7 §4): recent follow-ups on most live customers (more on A than on C), the sweeps
    run as the worker would have run them, so customers nobody worked went back to the public
    pool on their day with the notice before it, two pool customers claimed back, one
    released by hand with a reason; notices older than three days were read."""
    from django.utils import timezone

    from crm.activities.services import followup_create
    from crm.core.errors import AppError
    from crm.core.sweeps import sweeps_run_now
    from crm.customers.models import Customer
    from crm.customers.pool import customer_claim, customer_release
    from crm.notify.models import Notification

    rng = random.Random(seed + 8)
    real_now = timezone.now()
    share = {"A": 0.85, "B": 0.7, "C": 0.5}
    events: list[tuple[dt.datetime, int, str, dict[str, Any]]] = []
    customers = list(
        Customer.objects.filter(deleted_at__isnull=True, owner__isnull=False)
        .exclude(status="lost")
        .select_related("owner")
        .prefetch_related("contacts")
    )
    for i, customer in enumerate(customers):
        if rng.random() >= share.get(customer.grade, 0.5):
            continue
        if customer.created_at > real_now - dt.timedelta(days=1):
            continue
        start = max(customer.created_at, real_now - dt.timedelta(days=12))
        at = _working_time(start, real_now - dt.timedelta(hours=2), rng)
        events.append((at, i, "followup", {"customer": customer}))
    for days in (45, 31, 21, 14, 7, 3, 1):
        events.append((real_now - dt.timedelta(days=days, hours=-2), 0, "sweep", {}))
    events.append((real_now - dt.timedelta(days=25), 1, "claim", {"user": users["rep3"]}))
    events.append((real_now - dt.timedelta(days=18), 1, "claim", {"user": users["rep2"]}))
    events.append((real_now - dt.timedelta(days=9), 1, "release", {"user": users["rep1"]}))
    events.sort(key=lambda e: (e[0], e[1]))
    made = {"recent_followups": 0, "claims": 0, "releases": 0}
    with _TimeMachine() as machine:
        for at, _order, kind, data in events:
            machine.moment = at
            try:
                if kind == "followup":
                    customer = data["customer"]
                    contacts = list(customer.contacts.all())
                    method, summary, feedback, action = rng.choice(DEMO_FOLLOWUPS)
                    followup_create(
                        actor=customer.owner,
                        data={
                            "customer_id": customer.pk,
                            "contact_id": contacts[0].pk if contacts else None,
                            "method": method,
                            "occurred_at": at,
                            "summary": summary,
                            "feedback": feedback,
                            "next_action": action,
                        },
                    )
                    made["recent_followups"] += 1
                elif kind == "sweep":
                    sweeps_run_now(now=at)
                elif kind == "claim":
                    pooled = Customer.objects.filter(
                        owner__isnull=True, deleted_at__isnull=True
                    ).order_by("pool_entered_at", "id")
                    target = pooled.exclude(pool_moves__user=data["user"]).first()
                    if target is not None:
                        customer_claim(actor=data["user"], customer=target)
                        made["claims"] += 1
                elif kind == "release":
                    target = (
                        Customer.objects.filter(
                            owner=data["user"], deleted_at__isnull=True, status="potential"
                        )
                        .order_by("last_followup_at", "id")
                        .first()
                    )
                    if target is not None:
                        customer_release(
                            actor=data["user"],
                            customer=target,
                            reason="多次联系无回应，暂无采购计划，放回公海。",
                        )
                        made["releases"] += 1
            except AppError:
                continue
    sweeps_run_now(now=real_now)
    read_before = real_now - dt.timedelta(days=3)
    Notification.objects.filter(created_at__lt=read_before, is_read=False).update(
        is_read=True, read_at=read_before
    )
    return made


# Duplicates the way a team makes them (CUS-6, issue 8 §4): (who, name, type, phone, email,
# address), two of each pair entered by different people on different days. The phone, email
# and an individual's name only warn, so each was saved anyway, as a busy rep would.
DEMO_DUPLICATE_CUSTOMERS = [
    (
        (
            "rep1",
            "杭州云帆信息技术有限公司",
            "enterprise",
            "0571-8888 6601",
            "",
            "杭州市文三路 90 号",
        ),
        ("rep2", "云帆信息（杭州）有限公司", "enterprise", "057188886601", "", ""),
    ),
    (
        (
            "rep1",
            "宁波海曙港务物流有限公司",
            "enterprise",
            "0574-87001234",
            "info@hsgw.example.cn",
            "",
        ),
        ("manager", "海曙港务物流（宁波）有限公司", "enterprise", "", "INFO@hsgw.example.cn", ""),
    ),
    (
        ("rep2", "王建国", "individual", "139 5711 2233", "", "杭州市西湖区"),
        ("rep1", "王建国", "individual", "+86 139 5711 2233", "", ""),
    ),
]
DEMO_DUPLICATE_CONTACTS = ["陈立新", "孙敏", "赵海涛", "钱伟", "林芳", "吴涛", "郑磊", "何静"]
# Already merged by the manager: the tombstone's number and URL lead to the survivor.
DEMO_MERGED_CUSTOMERS = (
    ("rep2", "绍兴越程纺织有限公司", "enterprise", "0575-85123456", "", "绍兴市柯桥区"),
    ("rep2", "越程纺织（绍兴）有限公司", "enterprise", "0575 8512 3456", "", ""),
)
# A lead entered from the trade show and again from the web form by another rep.
DEMO_DUPLICATE_LEADS = (
    ("rep1", "苏州启明光电科技有限公司", "周启明", "13862001122", "zhou@qmgd.example.cn"),
    ("rep2", "苏州启明光电科技有限公司", "周先生", "138 6200 1122", "ZHOU@qmgd.example.cn"),
)


def demo_duplicates_create(*, users: dict[str, Any]) -> dict[str, int]:
    """A few believable duplicate pairs, so the possible-duplicates pages show groups on first
    start, and one pair the manager already merged (all through the real services)."""
    from django.utils import timezone

    from crm.core.errors import AppError
    from crm.customers.merge import customer_merge
    from crm.customers.services import customer_create
    from crm.leads.services import lead_create

    real_now = timezone.now()
    contact_seq = itertools.count()
    made = {"duplicate_customers": 0, "duplicate_leads": 0, "merged_customers": 0}

    def enter(row: tuple[str, str, str, str, str, str]) -> Any:
        who, name, kind, phone, email, address = row
        actor = users[who]
        n = next(contact_seq)
        contact = {
            "name": name if kind == "individual" else DEMO_DUPLICATE_CONTACTS[n],
            "title": "" if kind == "individual" else "采购经理",
            "phone": f"1390571{n:04d}",
            "is_primary": True,
        }
        return customer_create(
            actor=actor,
            data={
                "type": kind,
                "name": name,
                "industry": "manufacturing" if kind == "enterprise" else "other",
                "source": "trade_show" if who == "rep1" else "referral",
                "grade": "B",
                "status": "potential",
                "owner_id": actor.pk,
                "phone": phone,
                "email": email,
                "address": address,
            },
            contacts=[contact],
            confirm_duplicates=True,
        )

    with _TimeMachine() as machine:
        for days, pair in enumerate(DEMO_DUPLICATE_CUSTOMERS, start=1):
            for hours, row in ((30, pair[0]), (4, pair[1])):
                machine.moment = real_now - dt.timedelta(days=days, hours=hours)
                try:
                    enter(row)
                    made["duplicate_customers"] += 1
                except AppError:
                    continue
        try:
            machine.moment = real_now - dt.timedelta(days=6)
            first = enter(DEMO_MERGED_CUSTOMERS[0])
            machine.moment = real_now - dt.timedelta(days=5)
            second = enter(DEMO_MERGED_CUSTOMERS[1])
            machine.moment = real_now - dt.timedelta(days=2)
            customer_merge(
                actor=users["manager"],
                customer=first,
                from_id=second.pk,
                keep={},
                version=first.version,
            )
            made["merged_customers"] += 1
        except AppError:
            pass
        for hours, (who, company, person, phone, email) in zip(
            (50, 26), DEMO_DUPLICATE_LEADS, strict=True
        ):
            machine.moment = real_now - dt.timedelta(hours=hours)
            try:
                lead_create(
                    actor=users[who],
                    data={
                        "company": company,
                        "name": person,
                        "phone": phone,
                        "email": email,
                        "source": "trade_show" if who == "rep1" else "website",
                        "grade": "A",
                        "region": "east",
                        "requirement": "产线数据采集与客户管理一体化方案",
                        "owner_id": users[who].pk,
                    },
                    confirm_duplicates=True,
                )
                made["duplicate_leads"] += 1
            except AppError:
                continue
    return made


DEMO_TRADE_SHOW = [
    ("杭州云栖智造科技有限公司", "周海", "13905710101", "zhouhai@yunqi.example.com", "A"),
    ("宁波港联物流有限公司", "孙倩", "13905710102", "", "B"),
    ("绍兴织锦纺织有限公司", "钱磊", "", "qianlei@zhijin.example.com", "B"),
    ("嘉兴禾丰食品有限公司", "吴静", "13905710104", "", "C"),
    ("湖州绿源环保设备有限公司", "郑浩", "13905710105", "zhenghao@lvyuan.example.com", "A"),
    ("台州精工模具有限公司", "冯涛", "13905710106", "", "B"),
    ("金华方圆五金制品有限公司", "陈晨", "", "", "B"),  # neither phone nor email: rejected
    ("温州瓯越电气有限公司", "褚明", "13905710108", "", "S"),  # no grade S: rejected
    ("丽水青田石材有限公司", "卫芳", "13905710109", "weifang@qingtian.example.com", "C"),
    ("衢州华星化工有限公司", "蒋勇", "13905710110", "", "B"),
]


def demo_imports_create(*, users: dict[str, Any]) -> dict[str, int]:
    """Two finished imports in the history, through the real engine at past moments: rep1's
    trade-show lead list (two rows rejected, with their error file) and the manager's
    re-import of known customers (all matched and skipped, one new row without a contact
    rejected)."""
    import io

    import openpyxl
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from crm.customers.models import Customer
    from crm.dataio.imports import import_job_run_now, import_job_start

    def xlsx(header: list[str], rows: list[list[Any]]) -> bytes:
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()

    real_now = timezone.now()
    made = {"imports": 0}
    with _TimeMachine() as machine:
        machine.moment = real_now - dt.timedelta(days=3, hours=5)
        rows = [[c, n, p, e, g, "trade_show", "展会现场登记"] for c, n, p, e, g in DEMO_TRADE_SHOW]
        content = xlsx(["公司", "联系人", "电话", "邮箱", "等级", "来源", "备注"], rows)
        job = import_job_start(
            actor=users["rep1"],
            module_key="leads",
            upload=SimpleUploadedFile("2026杭州工业展-名片.xlsx", content),
            run=False,
        )
        import_job_run_now(job.pk)
        made["imports"] += 1
        machine.moment = real_now - dt.timedelta(days=1, hours=2)
        known = list(
            Customer.objects.filter(owner__department=users["manager"].department, deleted_at=None)
            .order_by("id")
            .values_list("name", "industry")[:6]
        )
        rows = [[name, industry, "B", "", ""] for name, industry in known]
        rows.append(["杭州新客户示例有限公司", "manufacturing", "B", "", ""])
        content = xlsx(["名称", "行业", "等级", "联系人姓名", "联系人电话"], rows)
        job = import_job_start(
            actor=users["manager"],
            module_key="customers",
            upload=SimpleUploadedFile("老客户名单-复核.xlsx", content),
            match=["name"],
            run=False,
        )
        import_job_run_now(job.pk)
        made["imports"] += 1
    return made
