"""Demo data for Jing'an Temple Street and the Yuyuan Road merchant alliance. Idempotent."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from merchant_alliance.accounts.models import Alliance, Role, Street, User
from merchant_alliance.accounts.services import grant_role, hash_password
from merchant_alliance.extensions import db
from merchant_alliance.shops.models import Shop

DEMO_PASSWORD = "Yuyuan2026!"  # noqa: S105 - documented demo password
STREET_NAME = "静安寺街道"
ALLIANCE_NAME = "愚园路商家联盟"
ROAD = "愚园路"
SHOP_COUNT = 91

_PREFIXES = ["愚园", "静安", "梧桐", "百乐", "弄堂", "常德", "安西", "江苏", "镇宁", "华山", "长宁", "岐山",
             "老洋房", "小巷", "晨光", "花间", "福熙", "延安", "新华", "武夷"]
_KINDS = [
    ("咖啡", "餐饮"), ("面馆", "餐饮"), ("书店", "文化"), ("花店", "零售"), ("烘焙", "餐饮"), ("理发", "生活服务"),
    ("茶铺", "餐饮"), ("洗衣", "生活服务"), ("眼镜", "零售"), ("药房", "医药"), ("便利店", "零售"),
    ("画廊", "文化"), ("裁缝铺", "生活服务"), ("酒馆", "餐饮"), ("文具", "零售"), ("生煎", "餐饮"),
    ("古着", "零售"), ("照相馆", "生活服务"),
]


@dataclass(frozen=True)
class DemoAccount:
    role: Role
    name: str
    phone: str
    email: str


DEMO_ACCOUNTS = [
    DemoAccount(Role.PLATFORM_ADMIN, "平台管理员", "13900000000", "admin@yuyuan.example"),
    DemoAccount(Role.ALLIANCE_LEAD, "王建国", "13800000001", "lead@yuyuan.example"),
    DemoAccount(Role.TREASURER, "李秀英", "13800000002", "treasurer@yuyuan.example"),
    DemoAccount(Role.STREET_OFFICER, "张伟", "13800000003", "officer@yuyuan.example"),
    DemoAccount(Role.SHOP_OWNER, "陈美玲", "13800000004", "owner@yuyuan.example"),
    DemoAccount(Role.CONTRACTOR, "刘师傅", "13800000005", "contractor@yuyuan.example"),
]
# A second lead, so that large expenses can get the two approvals they need.
CO_LEAD = DemoAccount(Role.ALLIANCE_LEAD, "赵丽华", "13800000006", "colead@yuyuan.example")


def demo_shops() -> list[dict]:
    """91 plausible shops along 愚园路, the same every time."""
    rng = random.Random(91)
    numbers = sorted(rng.sample(range(1, 1400), SHOP_COUNT))
    shops = []
    for i, number in enumerate(numbers):
        kind, business = _KINDS[i % len(_KINDS)]
        name = f"{_PREFIXES[(i * 7) % len(_PREFIXES)]}{kind}"
        shops.append({
            "house_number": str(number),
            "name": name if i < len(_PREFIXES) * 2 else f"{name}·{number}",
            "business_type": business,
            "facade_width_m": Decimal(rng.randrange(300, 1200)) / 100,
            "contact_phone": f"1{rng.choice('3589')}{rng.randrange(10**8, 10**9)}",
            "licence_number": f"91310106MA{rng.randrange(10**7, 10**8)}",
        })
    return shops


@dataclass(frozen=True)
class DemoContext:
    """What the domains' demo loaders build on: the demo alliance and one account per role."""

    alliance: Alliance
    users: dict[Role, User]
    co_lead: User
    password: str


LOADERS: dict[str, Callable[[DemoContext], int]] = {}


def add_loader(name: str, loader: Callable[[DemoContext], int], *, before: str | None = None) -> None:
    """A domain's part of the demo, run after the street, shops and accounts exist; returns what it added.
    `before`: another domain's part that builds on this one's data (run this one first)."""
    if name in LOADERS:
        return
    order = list(LOADERS)
    order.insert(order.index(before) if before in LOADERS else len(order), name)
    loaders = {**LOADERS, name: loader}
    LOADERS.clear()
    LOADERS.update((key, loaders[key]) for key in order)


def load_demo() -> dict[str, int]:
    """Create the demo street, alliance, shops and one account per role, once. Returns what was added."""
    added = {"streets": 0, "alliances": 0, "shops": 0, "users": 0}
    street = db.session.scalar(select(Street).where(Street.name == STREET_NAME))
    if street is None:
        street = Street(name=STREET_NAME, district="静安区")
        db.session.add(street)
        added["streets"] += 1
    alliance = db.session.scalar(select(Alliance).where(Alliance.name == ALLIANCE_NAME))
    if alliance is None:
        alliance = Alliance(name=ALLIANCE_NAME, road=ROAD, street=street)
        db.session.add(alliance)
        added["alliances"] += 1
    db.session.flush()

    existing = set(db.session.scalars(select(Shop.house_number).where(Shop.alliance_id == alliance.id)))
    for values in demo_shops():
        if values["house_number"] not in existing:
            db.session.add(Shop(alliance=alliance, **values))
            added["shops"] += 1
    db.session.flush()
    first_shop = db.session.scalar(
        select(Shop).where(Shop.alliance_id == alliance.id, Shop.house_number == demo_shops()[0]["house_number"])
    )

    users = {}
    for account in [CO_LEAD, *DEMO_ACCOUNTS]:
        user = db.session.scalar(select(User).where(User.phone == account.phone))
        if user is None:
            user = User(name=account.name, phone=account.phone, email=account.email,
                        password_hash=hash_password(DEMO_PASSWORD))
            db.session.add(user)
            added["users"] += 1
        scope = {
            "shop": {"shop": first_shop},
            "alliance": {"alliance": alliance},
            "street": {"street": street},
            "platform": {},
        }[account.role.scope]
        grant_role(user, account.role, **scope)
        users[account.role] = user
    db.session.commit()

    co_lead = db.session.scalar(select(User).where(User.phone == CO_LEAD.phone))
    context = DemoContext(alliance=alliance, users=users, co_lead=co_lead, password=DEMO_PASSWORD)
    for name, loader in LOADERS.items():  # each domain's part of the demo, in the order they registered
        added[name] = loader(context)
    return added
