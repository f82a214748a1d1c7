#!/usr/bin/env python
"""Generate realistic customer archives at any size (100k, 1M, ...) for the benchmark.

    python bench/generate.py --customers 100000 [--contacts-per-customer 2]
                             [--database-url postgres://postgres@127.0.0.1:5432/crm_bench]
                             [--seed 1] [--workers 2] [--batch 5000]

What it writes, and why it is faithful to what the app itself would have written:
- the demo organisation (crm.demo.demo_users_create: departments, admin, managers, reps, ...);
- N customers spread over owners, types, grades, industries, sources, statuses and a created_at
  over the past 3 years (denser in recent months, as a growing business is), about 1 % of them
  in the recycle bin; each with contacts (one primary) built with crm/demo.py's generators;
- every derived column (name_key, phone_digits, email_key, pinyin, search_blob,
  search_document) computed by the real crm.customers.services.customer_search_fields_refresh,
  so search finds generated rows exactly as it finds rows created through the service;
- numbers KH + yyyymm + sequence in created_at order per month (Asia/Shanghai), continuing
  from what is already in the database, and core NumberSequence moved to the last value per
  period so later creates continue the sequence without a gap or a clash;
- enterprise names unique by their duplicate key (the real service blocks duplicates): a city,
  two brand words and a trade, drawn without replacement from ~15M combinations.

Speed: pypinyin is the cost (about 0.4 ms per customer), so the rows are built by --workers
processes while the main process writes them: on PostgreSQL with COPY (psycopg 3), after
dropping the secondary indexes of the two tables (rebuilt at the end with a large
maintenance_work_mem, then VACUUM ANALYZE); on SQLite with executemany in one transaction per
batch. Every batch commits together with its NumberSequence update, so an interrupted run leaves
a consistent archive and a re-run simply adds more customers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
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

# Brand words besides crm.demo.CORES: two of them plus a city and a trade make a company name;
# the longer list keeps 1M names unique by duplicate key without looking mechanical.
# A word list reads better as one string than as a hundred quoted items.
EXTRA_CORES = (  # noqa: SIM905
    "佳禾 博瑞 盈科 华瑞 鑫源 泰和 恒信 达元 福瑞 瑞达 中科 英杰 新锐 天成 合力 聚能 "
    "德信 仁和 万通 金辉 华腾 远航 鸿运 宏图 兴业 昌盛 伟业 景程 祥云 瑞祥 华夏 新纪 "
    "浩宇 腾飞 鼎泰 易通 众合 开元 九州 长城 富邦 国泰 金桥 海纳 百川 弘毅 志诚 中天 "
    "东旭 亿达 伟创 优品 普华 美嘉 诺德 康泰 安泰 华康 天宇 晟达 恒达 丰源 宇通 驰远 "
    "昊天 思源 卓信 联创 鼎力 上品 悦达 冠华 同心 致远 铭泰 永兴 展鹏 润华 泽昌 鹏程 "
    "君安 华联 恒泰 金鼎 宏远 奥特 科瑞 信达 诚信 华美 锐思 天恒 嘉信 德润 立达 凯瑞"
).split()

SOURCES = [
    ("website", 18),
    ("trade_show", 10),
    ("referral", 14),
    ("customer_referral", 10),
    ("cold_call", 16),
    ("social", 10),
    ("search", 14),
    ("import", 6),
    ("other", 2),
]
STATUSES = [("potential", 35), ("intent", 25), ("deal", 18), ("loyal", 12), ("lost", 10)]
GRADES = [("A", 2), ("B", 3), ("C", 5)]
# Owners as in crm.demo: reps hold most customers, managers some.
OWNER_WEIGHTS = {"rep1": 2, "rep2": 2, "rep3": 2, "manager": 1, "manager2": 1}
BACKGROUNDS = [
    "通过行业展会结识，有长期合作意向。",
    "老客户推荐，对价格敏感，重视售后服务。",
    "官网注册试用，技术负责人主导选型。",
    "年度框架采购，需走招投标流程。",
    "曾使用竞品，合同明年到期，可重点跟进。",
]
REQUIREMENTS = [
    "希望替换现有系统，统一管理客户和订单。",
    "需要移动端随时查看客户资料。",
    "关注数据安全与权限分级。",
    "计划下季度启动采购，预算待审批。",
]
YEARS = 3
_CTX: dict[str, Any] = {}


def django_setup(database_url: str | None) -> None:
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    import django

    django.setup()


def weighted(rng: random.Random, pairs: list[tuple[Any, int]]) -> Any:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def valid_phone(make: Any) -> str:
    """A number from `make()` that the service's validator accepts as it is: crm.demo's
    generators make the odd number phonenumbers rejects (landlines starting 800), which the
    service would never have stored."""
    from django.core.exceptions import ValidationError

    from crm.core.validators import phone_normalize

    for _attempt in range(50):
        number = make()
        try:
            if phone_normalize(number) == number:
                return number
        except ValidationError:
            continue
    raise RuntimeError("no valid phone number generated")


def mobile(rng: random.Random) -> str:
    from crm import demo

    return valid_phone(lambda: demo.mobile(rng))


def landline(rng: random.Random, city: str) -> str:
    from crm import demo

    return valid_phone(lambda: demo.landline(rng, city))


# --- plan (main process): ids, created_at, numbers, unique names ---------------------------


def name_space() -> tuple[list[str], list[str], list[tuple[str, str]]]:
    from crm import demo

    cores = list(dict.fromkeys(demo.CORES + EXTRA_CORES))
    assert all(len(c) == 2 for c in cores + demo.CITIES), "fixed-width parts keep names unique"
    trades = [(word, industry) for industry, words in demo.TRADES.items() for word in words]
    return demo.CITIES, cores, trades


def enterprise_names(rng: random.Random, count: int, taken: set[str]) -> list[tuple]:
    """`count` (name core, industry, city) drawn without replacement, none already taken."""
    cities, cores, trades = name_space()
    space = len(cities) * len(cores) * len(cores) * len(trades)
    if count + len(taken) > space * 0.8:
        raise SystemExit(f"at most about {int(space * 0.8):,} unique enterprise names")
    out: list[tuple] = []
    while len(out) < count:
        for index in rng.sample(range(space), min(space, (count - len(out)) * 11 // 10 + 10)):
            index, t = divmod(index, len(trades))
            index, c2 = divmod(index, len(cores))
            city, c1 = divmod(index, len(cores))
            core = f"{cities[city]}{cores[c1]}{cores[c2]}{trades[t][0]}"
            # The duplicate key of core + legal-form suffix is the core itself.
            if c1 == c2 or core in taken:
                continue
            taken.add(core)
            out.append((core, trades[t][1], cities[city]))
            if len(out) == count:
                break
    return out


def created_times(rng: random.Random, count: int, now: float) -> list[float]:
    """Timestamps over the past YEARS years, denser towards today (a growing customer base)."""
    span = YEARS * 365.25 * 86400
    start = now - span
    return sorted(start + span * (rng.random() ** 0.6) for _ in range(count))


def plan_batches(args: argparse.Namespace) -> tuple[list[list[tuple]], dict[str, int]]:
    """Everything that must be globally consistent: ids, numbers, unique names."""
    from zoneinfo import ZoneInfo

    from django.conf import settings
    from django.db.models import Max

    from crm.core.models import NumberSequence
    from crm.core.numbering import numbering_rule_get
    from crm.customers.models import Customer

    rng = random.Random(f"plan-{args.seed}")
    rule = numbering_rule_get(key="customer")
    tz = ZoneInfo(settings.TIME_ZONE)
    now = time.time()
    times = created_times(rng, args.customers, now)

    # Continue every period's sequence after whatever is there (counter or stored numbers).
    last: dict[str, int] = dict(
        NumberSequence.objects.filter(key="customer").values_list("period", "last_value")
    )
    prefix_len = len(rule.prefix)
    for number in (
        Customer.objects.filter(number__startswith=rule.prefix)
        .values_list("number", flat=True)
        .iterator(chunk_size=20000)
    ):
        body = number[prefix_len:]
        period, seq = body[:6], body[6:]
        if seq.isdigit():
            last[period] = max(last.get(period, 0), int(seq))
    first_id = (Customer.objects.aggregate(m=Max("id"))["m"] or 0) + 1

    individuals = [rng.random() < 0.08 for _ in range(args.customers)]
    taken = set(
        Customer.objects.filter(type="enterprise").values_list("name_key", flat=True).iterator()
    )
    names = iter(enterprise_names(rng, sum(1 for i in individuals if not i), taken))

    plans: list[tuple] = []
    for i, ts in enumerate(times):
        period = dt.datetime.fromtimestamp(ts, tz).strftime(rule.period_format)
        last[period] = last.get(period, 0) + 1
        number = f"{rule.prefix}{period}{last[period]:0{rule.digits}d}"
        name = industry = city = ""
        if not individuals[i]:
            name, industry, city = next(names)
        plans.append((first_id + i, ts, number, period, individuals[i], name, industry, city))
    batches = [plans[i : i + args.batch] for i in range(0, len(plans), args.batch)]
    return batches, last


# --- rows (worker processes): everything pypinyin-heavy ------------------------------------


def build_batch(job: tuple[int, list[tuple]]) -> tuple[list[tuple], list[tuple], dict[str, int]]:
    """Customer and contact rows (values in model field order) for one batch of plans."""
    from crm import demo
    from crm.core.validators import digits_only
    from crm.customers.models import Contact, Customer
    from crm.customers.services import customer_search_fields_refresh

    batch_no, plans = job
    ctx = _CTX
    rng = random.Random(ctx["seed"] * 1_000_003 + batch_no)
    utc = dt.UTC
    now = ctx["now"]
    customers: list[tuple] = []
    contacts: list[tuple] = []
    periods: dict[str, int] = {}
    per = ctx["contacts_per_customer"]
    for cid, ts, number, period, individual, core, industry, city in plans:
        created = dt.datetime.fromtimestamp(ts, utc)
        edited = rng.random() < 0.35
        updated = (
            dt.datetime.fromtimestamp(ts + rng.random() * (now - ts), utc) if edited else created
        )
        owner = weighted(rng, ctx["owners"])
        if individual:
            name = demo.person_name(rng)
            industry = "other"
            city = rng.choice(demo.CITIES)
            phone = mobile(rng)
        else:
            name = core + rng.choice(demo.SUFFIXES)
            phone = landline(rng, city)
        deleted = rng.random() < 0.01
        customer = Customer(
            id=cid,
            created_at=created,
            updated_at=updated,
            version=1 + (rng.randrange(1, 6) if edited else 0),
            deleted_at=updated + dt.timedelta(hours=rng.randrange(1, 48)) if deleted else None,
            deleted_by_id=ctx["admin"] if deleted else None,
            number=number,
            type="individual" if individual else "enterprise",
            name=name,
            industry=industry,
            source=weighted(rng, SOURCES),
            grade=weighted(rng, GRADES),
            status=weighted(rng, STATUSES),
            owner_id=owner,
            phone=phone,
            email=f"info{cid}@example.com" if rng.random() < 0.4 else "",
            credit_code=demo.credit_code(rng) if not individual and rng.random() < 0.6 else "",
            address=f"{city}市{rng.choice(demo.STREETS)}{rng.randrange(1, 999)}号",
            background=rng.choice(BACKGROUNDS) if rng.random() < 0.5 else "",
            remarks="重点客户，季度回访。" if rng.random() < 0.1 else "",
            first_contact_date=created.date() if rng.random() < 0.7 else None,
            requirement=rng.choice(REQUIREMENTS) if rng.random() < 0.3 else "",
            budget=Decimal(rng.choice([50000, 100000, 200000, 500000, 1000000]))
            if rng.random() < 0.5
            else None,
            decision_chain="总经理拍板，采购经理执行。" if rng.random() < 0.1 else "",
            competitors="",
            last_followup_at=updated if edited else None,
            created_by_id=owner if rng.random() < 0.8 else ctx["admin"],
            updated_by_id=owner,
        )
        count = max(1, per + rng.choice((-1, 0, 0, 1))) if per else 0
        if individual:
            count = 1  # an individual is their own (only) contact, as customer_create does
        people: list[Contact] = []
        for i in range(count):
            person_phone = phone if individual else mobile(rng)
            people.append(
                Contact(
                    created_at=created,
                    updated_at=created,
                    customer_id=cid,
                    name=name if individual else demo.person_name(rng),
                    title="" if individual else rng.choice(demo.TITLES),
                    phone=person_phone,
                    email=f"c{cid}x{i}@example.com" if rng.random() < 0.5 else "",
                    notes="",
                    is_primary=i == 0,
                    phone_digits=digits_only(person_phone),
                )
            )
        customer_search_fields_refresh(customer, people, save=False)
        customers.append(tuple(getattr(customer, f.attname) for f in ctx["customer_fields"]))
        contacts.extend(tuple(getattr(p, f.attname) for f in ctx["contact_fields"]) for p in people)
        seq = int(number[len(ctx["prefix"]) + len(period) :])
        periods[period] = max(periods.get(period, 0), seq)
    return customers, contacts, periods


# --- writers (main process) -----------------------------------------------------------------


def quoted(names: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


class PostgresWriter:
    """COPY per batch; secondary indexes dropped for the load and rebuilt at the end."""

    tables = ("customers_customer", "customers_contact")

    def __init__(self, keep_indexes: bool, saved: Path) -> None:
        self.keep_indexes = keep_indexes
        self.saved = saved
        self.dropped: list[tuple[str, str]] = []

    def begin(self) -> None:
        from django.db import connection

        if self.keep_indexes:
            return
        with connection.cursor() as cur:
            cur.execute(
                """
                SELECT i.relname, pg_get_indexdef(i.oid)
                FROM pg_index x
                JOIN pg_class i ON i.oid = x.indexrelid
                WHERE x.indrelid IN ('customers_customer'::regclass,
                                     'customers_contact'::regclass)
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
                ORDER BY i.relname
                """
            )
            self.dropped = list(cur.fetchall())
            # Kept on disk first: if the run dies, --restore-indexes puts them back.
            self.saved.parent.mkdir(parents=True, exist_ok=True)
            with self.saved.open("a", encoding="utf-8") as fh:
                for _name, definition in self.dropped:
                    fh.write(definition.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
                    fh.write(";\n")
            for name, _definition in self.dropped:
                cur.execute(f'DROP INDEX IF EXISTS "{name}"')
        print(f"dropped {len(self.dropped)} secondary indexes for the load", flush=True)

    def write(self, customers: list[tuple], contacts: list[tuple], cust_cols, cont_cols) -> None:
        from django.db import connection

        with connection.cursor() as cur:
            raw = cur.cursor
            with raw.copy(f"COPY customers_customer ({quoted(cust_cols)}) FROM STDIN") as copy:
                for row in customers:
                    copy.write_row(row)
            if contacts:
                with raw.copy(f"COPY customers_contact ({quoted(cont_cols)}) FROM STDIN") as copy:
                    for row in contacts:
                        copy.write_row(row)

    def finish(self) -> None:
        from django.db import connection

        with connection.cursor() as cur:
            for table in self.tables:
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
        restore_indexes(self.saved)

    def analyze(self) -> None:
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("VACUUM (ANALYZE) customers_customer, customers_contact")


def restore_indexes(saved: Path) -> None:
    """Re-create the indexes a (possibly interrupted) load dropped."""
    from django.db import connection

    if not saved.exists():
        return
    statements = [s.strip() for s in saved.read_text(encoding="utf-8").split(";\n") if s.strip()]
    with connection.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '1GB'")
        cur.execute("SET max_parallel_maintenance_workers = 2")
        for statement in dict.fromkeys(statements):
            started = time.perf_counter()
            cur.execute(statement)
            name = statement.split(" ON ")[0].rsplit(" ", 1)[-1]
            print(f"  index {name}: {time.perf_counter() - started:.1f}s", flush=True)
        cur.execute("RESET maintenance_work_mem")
    saved.unlink()


class SqliteWriter:
    def begin(self) -> None:
        pass

    def write(self, customers: list[tuple], contacts: list[tuple], cust_cols, cont_cols) -> None:
        from django.db import connection

        with connection.cursor() as cur:
            for table, fields, rows in (
                ("customers_customer", _CTX["customer_fields"], customers),
                ("customers_contact", _CTX["contact_fields"], contacts),
            ):
                if not rows:
                    continue
                marks = ", ".join(["%s"] * len(fields))
                prepared = [
                    [f.get_db_prep_save(v, connection) for f, v in zip(fields, row, strict=True)]
                    for row in rows
                ]
                cur.executemany(
                    f"INSERT INTO {table} ({quoted([f.column for f in fields])}) VALUES ({marks})",
                    prepared,
                )

    def finish(self) -> None:
        pass

    def analyze(self) -> None:
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("ANALYZE")


def sequences_update(periods: dict[str, int]) -> None:
    """Move each period's counter to at least its highest number, inside the batch's commit."""
    from crm.core.models import NumberSequence

    existing = {
        s.period: s
        for s in NumberSequence.objects.select_for_update().filter(
            key="customer", period__in=list(periods)
        )
    }
    for period, value in periods.items():
        seq = existing.get(period)
        if seq is None:
            NumberSequence.objects.create(key="customer", period=period, last_value=value)
        elif seq.last_value < value:
            NumberSequence.objects.filter(pk=seq.pk).update(last_value=value)


# --- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--contacts-per-customer", type=int, default=2)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument(
        "--password",
        # The same default as crm.settings.CRM_DEMO_PASSWORD (and README.md), so the password
        # printed for the demo data is the one that logs in to the benchmark data too.
        default=os.environ.get("CRM_DEMO_PASSWORD", "crm-demo-2026"),
        help="password of the demo users created if missing (default crm-demo-2026)",
    )
    parser.add_argument(
        "--keep-indexes",
        action="store_true",
        help="PostgreSQL: keep indexes during the load (slower; default drops and rebuilds)",
    )
    parser.add_argument(
        "--restore-indexes",
        action="store_true",
        help="PostgreSQL: only re-create indexes an interrupted load left dropped",
    )
    args = parser.parse_args(argv)
    django_setup(args.database_url)

    from django.core.management import call_command
    from django.db import connection, connections, transaction

    from crm import demo
    from crm.customers.models import Contact, Customer

    vendor = connection.vendor
    dbname = connection.settings_dict["NAME"]
    saved = ROOT / "bench" / "results" / f".dropped-indexes-{Path(str(dbname)).name}.sql"
    print(f"database: {vendor} {dbname}", flush=True)
    if args.restore_indexes:
        restore_indexes(saved)
        return 0
    if vendor == "postgresql" and saved.exists():
        print("indexes dropped by an interrupted run are being restored first", flush=True)
        restore_indexes(saved)
    call_command("migrate", verbosity=0, interactive=False)
    users = demo.demo_users_create(password=args.password)
    started = time.perf_counter()

    customer_fields = list(Customer._meta.concrete_fields)
    contact_fields = [f for f in Contact._meta.concrete_fields if f.name != "id"]
    _CTX.update(
        seed=args.seed,
        now=time.time(),
        owners=[(users[u].pk, w) for u, w in OWNER_WEIGHTS.items()],
        admin=users["admin"].pk,
        contacts_per_customer=args.contacts_per_customer,
        customer_fields=customer_fields,
        contact_fields=contact_fields,
        prefix="KH",
    )
    from crm.core.numbering import numbering_rule_get

    _CTX["prefix"] = numbering_rule_get(key="customer").prefix
    batches, _last = plan_batches(args)
    existing = Customer.objects.count()
    print(
        f"planned {args.customers:,} customers in {len(batches)} batches "
        f"({existing:,} already there) in {time.perf_counter() - started:.1f}s",
        flush=True,
    )
    cust_cols = [f.column for f in customer_fields]
    cont_cols = [f.column for f in contact_fields]
    writer: Any = (
        PostgresWriter(args.keep_indexes or args.customers < 20000, saved)
        if vendor == "postgresql"
        else SqliteWriter()
    )
    writer.begin()
    connections.close_all()  # the workers are forked: they must not share the socket

    jobs = list(enumerate(batches))
    done_customers = done_contacts = 0
    load_started = time.perf_counter()
    last_print = 0.0
    if args.workers > 1:
        pool = mp.get_context("fork").Pool(args.workers)
        results = pool.imap(build_batch, jobs, chunksize=1)
    else:
        pool = None
        results = map(build_batch, jobs)
    try:
        for customers, contacts, periods in results:
            with transaction.atomic():
                writer.write(customers, contacts, cust_cols, cont_cols)
                sequences_update(periods)
            done_customers += len(customers)
            done_contacts += len(contacts)
            elapsed = time.perf_counter() - load_started
            if elapsed - last_print >= 5 or done_customers == args.customers:
                last_print = elapsed
                rate = done_customers / elapsed
                eta = (args.customers - done_customers) / rate if rate else 0
                print(
                    f"  {done_customers:>10,} customers {done_contacts:>10,} contacts "
                    f"{elapsed:7.1f}s  {rate:8,.0f} customers/s "
                    f"{(done_customers + done_contacts) / elapsed:8,.0f} rows/s  eta {eta:5.0f}s",
                    flush=True,
                )
    finally:
        if pool is not None:
            pool.terminate()
        writer.finish()
    load = time.perf_counter() - load_started
    print(
        f"loaded {done_customers:,} customers and {done_contacts:,} contacts in {load:.1f}s "
        f"({(done_customers + done_contacts) / load:,.0f} rows/s)",
        flush=True,
    )
    step = time.perf_counter()
    writer.analyze()
    print(f"analyze: {time.perf_counter() - step:.1f}s", flush=True)
    total = time.perf_counter() - started
    print(
        f"done: {Customer.objects.count():,} customers, {Contact.objects.count():,} contacts "
        f"in the database; this run took {total:.1f}s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
