"""Realistic Chinese demo data: departments, the demo users of every role, 300+ customers.

The name/phone generators are shared with bench/generate.py, which writes millions of rows.
"""

from __future__ import annotations

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
    return f"{code}-{rng.randrange(2, 9)}{rng.randrange(10 ** (digits - 1)):0{digits - 1}d}"


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


def demo_customers_create(*, users: dict[str, Any], count: int = 320, seed: int = 2026) -> int:
    """Create customers through the real service (numbers, audit, search keys all real)."""
    from crm.core.errors import DuplicateError
    from crm.customers.services import customer_create

    rng = random.Random(seed)
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
    created = 0
    admin = users["admin"]
    attempts = 0
    while created < count and attempts < count * 3:
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
        data = {
            "type": "individual" if individual else "enterprise",
            "name": name,
            "industry": industry,
            "source": rng.choice(sources),
            "grade": rng.choices(["A", "B", "C"], weights=[2, 3, 5])[0],
            "status": rng.choice(statuses),
            "owner_id": rng.choice(owners).pk,
            "phone": landline(rng, city) if not individual else contacts[0]["phone"],
            "email": f"info{attempts}@example.com" if rng.random() < 0.4 else "",
            "credit_code": credit_code(rng) if not individual and rng.random() < 0.6 else "",
            "address": f"{city}市{rng.choice(STREETS)}{rng.randrange(1, 999)}号",
            "background": "" if rng.random() < 0.5 else "通过行业展会结识，有长期合作意向。",
            "budget": str(rng.choice([50000, 100000, 200000, 500000, 1000000]))
            if rng.random() < 0.5
            else "",
        }
        try:
            customer_create(actor=admin, data=data, contacts=contacts, confirm_duplicates=True)
        except DuplicateError:
            continue
        created += 1
    return created


def demo_load(*, password: str, customers: int = 320) -> dict[str, Any]:
    users = demo_users_create(password=password)
    count = demo_customers_create(users=users, count=customers)
    return {"users": list(users), "customers": count}
