"""Demo renovation proposals in different states, with photos drawn by Pillow (nothing downloaded)."""

from __future__ import annotations

import io
import random
from decimal import Decimal

from PIL import Image, ImageDraw
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from merchant_alliance.accounts.models import Alliance, Role, User
from merchant_alliance.accounts.services import grant_role, hash_password
from merchant_alliance.demo import DemoContext
from merchant_alliance.extensions import db
from merchant_alliance.projects import services
from merchant_alliance.projects.lifecycle import Attempt
from merchant_alliance.shops.models import Shop, SignCondition, SignType
from merchant_alliance.shops.services import register_signboard

PALETTE = [(139, 30, 30), (32, 74, 135), (28, 102, 64), (60, 60, 60), (150, 96, 30)]

# (index of the shop in house-number order, title, the moves after creating version 1)
SCENARIOS = [
    (0, "咖啡馆木质新店招", ["submit"]),
    (1, "面馆招牌更换为铝板发光字", ["submit", ("request_changes", "出挑超过0.5米，请按街道导则收进。")]),
    (2, "书店店招整体翻新", ["submit", ("request_changes", "请补充固定方式。"), "version", "submit", "approve_design"]),
    (3, "花店灯箱拆除改为平贴招牌", []),
    (4, "烘焙店霓虹灯招牌", ["submit", ("reject", "街道禁止在此段使用闪烁霓虹。")]),
    (5, "理发店旋转灯柱更新", ["submit", "withdraw"]),
]


def draw_photo(seed: int, *, mockup: bool) -> FileStorage:
    """A 1200×900 picture of a shop front: an old, stained sign or a clean new design."""
    rng = random.Random(seed)
    img = Image.new("RGB", (1200, 900), (214, 206, 192))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 620, 1200, 900), fill=(120, 118, 112))  # pavement
    d.rectangle((150, 330, 1050, 700), fill=(70, 64, 58))  # shop window
    for x in range(170, 1040, 145):
        d.rectangle((x, 350, x + 120, 680), fill=(150, 170, 180))
    colour = PALETTE[seed % len(PALETTE)]
    if mockup:
        d.rounded_rectangle((180, 150, 1020, 300), radius=12, fill=colour)
        d.rectangle((230, 200, 970, 250), fill=(246, 231, 193))
    else:
        d.rectangle((160, 120, 1040, 310), fill=tuple(int(c * 0.6) for c in colour))
        for _ in range(60):  # rust and dirt
            x, y = rng.randrange(160, 1040), rng.randrange(120, 310)
            d.ellipse((x, y, x + rng.randrange(6, 30), y + rng.randrange(4, 16)), fill=(104, 72, 40))
        d.line((160, 310, 1040, 290), fill=(40, 30, 20), width=6)
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=85)
    buffer.seek(0)
    kind = "mockup" if mockup else "current"
    return FileStorage(stream=buffer, filename=f"demo-{kind}-{seed}.jpg", content_type="image/jpeg")


def owner_for(shop: Shop, index: int, password: str) -> User:
    phone = f"138000001{index:02d}"
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None:
        user = User(name=f"{shop.name}店主", phone=phone, password_hash=hash_password(password))
        db.session.add(user)
    grant_role(user, Role.SHOP_OWNER, shop=shop)
    db.session.commit()
    return user


def load_demo_projects(alliance: Alliance, lead: User, password: str, first_owner: User) -> int:
    """Create the demo proposals once; returns how many were added."""
    shops = sorted(db.session.scalars(select(Shop).where(Shop.alliance_id == alliance.id)),
                   key=lambda s: (len(s.house_number), s.house_number))
    added = 0
    for index, title, moves in SCENARIOS:
        shop = shops[index]
        if services.signboards_exist(shop):
            continue
        owner = first_owner if index == 0 else owner_for(shop, index, password)
        width = Decimal(shop.facade_width_m or 6) * Decimal("0.8")
        signboard = register_signboard(owner, shop, {
            "position": "正门上方", "sign_type": SignType.WALL_PARALLEL, "width_m": width.quantize(Decimal("0.01")),
            "height_m": Decimal("0.90"), "projection_m": Decimal("0.30"), "clearance_m": Decimal("2.80"),
            "material": "铁皮喷绘", "illuminated": False, "install_year": 2009, "condition": SignCondition.WORN,
        }, [draw_photo(index * 10, mockup=False)])
        project = services.propose_renovation(owner, signboard, title, "旧招牌锈蚀，申请按街道导则更新。")
        _add_version(owner, project, index, 1, projection="0.60" if index == 1 else "0.30")
        for move in moves:
            if move == "version":
                _add_version(owner, project, index, len(project.versions) + 1, projection="0.30")
                continue
            action, reason = move if isinstance(move, tuple) else (move, "")
            actor = lead if action in ("approve_design", "request_changes", "reject") else owner
            services.move(actor, project, action, Attempt(reason=reason))
        added += 1
    return added


def _add_version(owner: User, project, index: int, number: int, projection: str) -> None:
    services.add_design_version(owner, project, {
        "sign_type": SignType.WALL_PARALLEL, "width_m": project.signboard.width_m, "height_m": Decimal("0.80"),
        "projection_m": Decimal(projection), "clearance_m": Decimal("2.80"), "materials": "铝板烤漆，镀锌钢骨架",
        "illuminated": index % 2 == 0, "lighting": "LED背光" if index % 2 == 0 else "",
        "fixing_method": "M12化学锚栓，每米两处" if number > 1 or index != 2 else "",
        "estimated_cost_fen": 1_200_000 + index * 150_000, "notes": "",
    }, mockups=[draw_photo(index * 10 + number, mockup=True)], current=[draw_photo(index * 10, mockup=False)])
    db.session.refresh(project)


def load(context: DemoContext) -> int:
    """The projects' part of the demo (see merchant_alliance.demo.add_loader)."""
    return load_demo_projects(context.alliance, context.users[Role.ALLIANCE_LEAD], context.password,
                              context.users[Role.SHOP_OWNER])
