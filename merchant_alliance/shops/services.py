"""The shop register: add, edit, deactivate shops, their members, and import from CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.datastructures import FileStorage

from merchant_alliance import audit, authz
from merchant_alliance.accounts.models import Alliance, Membership, Role, User
from merchant_alliance.accounts.services import normalize_phone, scope_ids
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.once import submit_once
from merchant_alliance.pagecache import scopes_of
from merchant_alliance.photos.services import save_photos
from merchant_alliance.shops.models import Shop, Signboard
from merchant_alliance.shops.risk import risk_of

LANDLINE_RE = re.compile(r"^(0\d{2,3}-?)?\d{7,8}(-\d{1,6})?$")
LICENCE_RE = re.compile(r"^[0-9A-Z]{15,18}$")
MAX_IMPORT_ROWS = 2000
MAX_IMPORT_BYTES = 1024 * 1024
SHOP_FIELDS = ("name", "house_number", "facade_width_m", "business_type", "contact_phone", "licence_number")

# Column headers accepted in an imported CSV, in English or Chinese, for each field.
HEADER_ALIASES = {
    "name": {"name", "shop name", "店名", "店铺名称", "店铺名", "商户名称", "商户", "店铺"},
    "house_number": {"house number", "house_number", "门牌号", "门牌", "门牌号码", "地址"},
    "facade_width_m": {"facade width", "facade_width_m", "facade width (m)", "门面宽度", "门面宽度(米)",
                       "门面宽度（米）", "门头宽度", "门面宽(米)"},
    "business_type": {"business type", "business_type", "业态", "经营类型", "行业", "经营范围"},
    "contact_phone": {"contact phone", "contact_phone", "phone", "联系电话", "电话", "手机", "联系方式"},
    "licence_number": {"licence number", "licence_number", "license number", "营业执照号",
                       "营业执照", "统一社会信用代码", "执照号"},
}


@dataclass
class ShopData:
    """Validated values for one shop, or the errors that stop it."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def clean_shop_fields(raw: dict[str, Any]) -> ShopData:
    """Check and normalise one shop's fields (from a form or a CSV row)."""
    data = ShopData()
    name = str(raw.get("name") or "").strip()
    if not name:
        data.errors["name"] = str(_l("The shop name is missing."))
    elif len(name) > 100:
        data.errors["name"] = str(_l("The shop name is longer than %(n)s characters.", n=100))
    data.values["name"] = name

    number = str(raw.get("house_number") or "").strip().removesuffix("号").strip()
    if not number:
        data.errors["house_number"] = str(_l("The house number is missing."))
    elif len(number) > 30:
        data.errors["house_number"] = str(_l("The house number is longer than %(n)s characters.", n=30))
    data.values["house_number"] = number

    width = raw.get("facade_width_m")
    if width in (None, ""):
        data.values["facade_width_m"] = None
    else:
        try:
            width_value = Decimal(str(width).strip().removesuffix("m").removesuffix("米"))
        except InvalidOperation:
            width_value = None
        if width_value is None or not width_value.is_finite() or not (0 < width_value <= 200):
            data.errors["facade_width_m"] = str(_l("The facade width must be a number of metres between 0 and 200."))
        else:
            data.values["facade_width_m"] = width_value.quantize(Decimal("0.01"))

    phone = str(raw.get("contact_phone") or "").strip()
    if phone:
        mobile = normalize_phone(phone)
        if mobile:
            phone = mobile
        elif not LANDLINE_RE.match(phone.replace(" ", "")):
            data.errors["contact_phone"] = str(_l("%(phone)s is not a valid phone number.", phone=phone))
        else:
            phone = phone.replace(" ", "")
    data.values["contact_phone"] = phone

    licence = str(raw.get("licence_number") or "").strip().upper()
    if licence and not LICENCE_RE.match(licence):
        data.errors["licence_number"] = str(_l("The business licence number must be 15 to 18 letters or digits."))
    data.values["licence_number"] = licence

    business_type = str(raw.get("business_type") or "").strip()
    if len(business_type) > 50:
        data.errors["business_type"] = str(_l("The business type is longer than %(n)s characters.", n=50))
    data.values["business_type"] = business_type
    return data


def _house_number_taken(alliance: Alliance, number: str, except_shop: Shop | None = None) -> bool:
    query = select(Shop.id).where(Shop.alliance_id == alliance.id, Shop.house_number == number)
    if except_shop is not None:
        query = query.where(Shop.id != except_shop.id)
    return db.session.scalar(query) is not None


def _require_valid(data: ShopData) -> None:
    if not data.ok:
        raise DomainError(next(iter(data.errors.values())))


def create_shop(actor: User, alliance: Alliance, raw: dict[str, Any], *, idempotency_key: str | None = None) -> Shop:
    """Add a shop to the alliance's register. One form, one shop."""
    if not authz.can(actor, "manage_shops", alliance):
        raise NotAllowed()
    data = clean_shop_fields(raw)
    _require_valid(data)
    taken = DomainError(_l("Another shop already has house number %(number)s.", number=data.values["house_number"]))

    def write() -> Shop:
        if _house_number_taken(alliance, data.values["house_number"]):
            raise taken
        shop = Shop(alliance=alliance, **data.values)
        db.session.add(shop)
        db.session.flush()
        audit.record(actor, "shop_created", shop, name=shop.name, **scope_ids(alliance=alliance))
        return shop

    return submit_once(actor, idempotency_key, Shop, write, conflict=taken)


def update_shop(actor: User, shop: Shop, raw: dict[str, Any]) -> Shop:
    """Change a shop's register entry; the audit event lists what changed."""
    if not authz.can(actor, "edit", shop):
        raise NotAllowed()
    data = clean_shop_fields(raw)
    _require_valid(data)
    if _house_number_taken(shop.alliance, data.values["house_number"], except_shop=shop):
        raise DomainError(_l("Another shop already has house number %(number)s.", number=data.values["house_number"]))
    changes = {
        key: [str(getattr(shop, key) or ""), str(value or "")]
        for key, value in data.values.items() if getattr(shop, key) != value
    }
    for key, value in data.values.items():
        setattr(shop, key, value)
    if changes:
        audit.record(actor, "shop_updated", shop, changes=changes, **scope_ids(shop=shop))
    db.session.commit()
    return shop


def set_shop_active(actor: User, shop: Shop, active: bool) -> None:
    """Deactivate a shop that left the alliance (its history stays), or bring it back."""
    if not authz.can(actor, "edit", shop):
        raise NotAllowed()
    # Changed only if not already so, in one statement: a double click records one event, not two.
    changed = db.session.execute(
        update(Shop).where(Shop.id == shop.id, Shop.active != active).values(active=active)
        .execution_options(synchronize_session=False, cache_scopes=scopes_of(shop))
    ).rowcount
    if changed != 1:
        db.session.rollback()
        return
    set_committed_value(shop, "active", active)
    audit.record(actor, "shop_reactivated" if active else "shop_deactivated", shop, **scope_ids(shop=shop))
    db.session.commit()


def shop_members(shop: Shop) -> list[tuple[Membership, User]]:
    return db.session.execute(
        select(Membership, User).join(User, Membership.user_id == User.id)
        .where(Membership.shop_id == shop.id).order_by(User.name)
    ).all()


def remove_shop_member(actor: User, shop: Shop, membership: Membership) -> None:
    """Take a person's role at this shop away (their account stays)."""
    if not authz.can(actor, "edit", shop):
        raise NotAllowed()
    if membership.shop_id != shop.id or membership.role != Role.SHOP_OWNER:
        raise DomainError(_l("This person is not a member of this shop."))
    removed = db.session.execute(
        delete(Membership).where(Membership.id == membership.id, Membership.shop_id == shop.id,
                                 Membership.role == Role.SHOP_OWNER)
        .execution_options(synchronize_session=False, cache_scopes=scopes_of(shop))
    ).rowcount
    if removed != 1:  # removed a moment ago by a double click or another lead: once is enough
        db.session.rollback()
        raise DomainError(_l("This person is not a member of this shop."))
    audit.record(actor, "shop_member_removed", shop, user_id=membership.user_id, **scope_ids(shop=shop))
    user = membership.user
    db.session.expunge(membership)
    db.session.expire(user, ["memberships"])  # the roles as they are now, for the rest of this session
    db.session.commit()


# --- CSV import --------------------------------------------------------------------------------


@dataclass
class ImportRow:
    line: int
    data: ShopData


@dataclass
class ImportPreview:
    rows: list[ImportRow]
    problems: list[str]  # problems with the whole file (encoding, headers, size)

    @property
    def error_count(self) -> int:
        return len(self.problems) + sum(1 for row in self.rows if not row.data.ok)

    @property
    def ok(self) -> bool:
        return self.error_count == 0 and bool(self.rows)


def decode_csv(content: bytes) -> str:
    """The text of an uploaded CSV: UTF-8 (with or without BOM), or GB18030 as Excel on Chinese Windows saves it."""
    if len(content) > MAX_IMPORT_BYTES:
        raise DomainError(_l("The file is larger than %(n)s MB.", n=MAX_IMPORT_BYTES // (1024 * 1024)))
    if b"\x00" in content:  # UTF-16 or a binary file; and no database can store a NUL in a shop's text
        raise DomainError(_l("This is not a CSV text file. In Excel, use “Save as” → “CSV UTF-8”."))
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DomainError(_l("The file's text encoding is not recognised. Save it as “CSV UTF-8”."))


def _field_for_header(header: str) -> str | None:
    key = re.sub(r"\s+", " ", header.replace("\ufeff", "")).strip().lower()
    for field_name, aliases in HEADER_ALIASES.items():
        if key in aliases:
            return field_name
    return None


def preview_import(alliance: Alliance, text: str) -> ImportPreview:
    """Check every row of a CSV against the register without writing anything."""
    try:
        dialect = csv.Sniffer().sniff(text[:2048], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        headers = next(reader)
    except (StopIteration, csv.Error):
        return ImportPreview(rows=[], problems=[str(_l("The file is empty."))])
    columns = [_field_for_header(h) for h in headers]
    problems = []
    for required in ("name", "house_number"):
        if required not in columns:
            problems.append(str(_l("The file has no column for %(column)s.", column=FIELD_LABELS[required])))
    if problems:
        return ImportPreview(rows=[], problems=problems)

    existing = set(db.session.scalars(select(Shop.house_number).where(Shop.alliance_id == alliance.id)))
    seen: dict[str, int] = {}
    rows: list[ImportRow] = []
    try:
        last_line = reader.line_num
        for record in reader:
            # The line the record starts on, also after a quoted cell that spans lines.
            line, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(rows) >= MAX_IMPORT_ROWS:
                problems.append(str(_l("The file has more than %(n)s rows.", n=MAX_IMPORT_ROWS)))
                break
            raw = {col: value for col, value in zip(columns, record, strict=False) if col}
            data = clean_shop_fields(raw)
            number = data.values["house_number"]
            if number and "house_number" not in data.errors:
                if number in existing:
                    data.errors["house_number"] = str(
                        _l("House number %(number)s is already in the register.", number=number))
                elif number in seen:
                    data.errors["house_number"] = str(
                        _l("House number %(number)s appears twice in the file (line %(line)s).",
                           number=number, line=seen[number]))
                else:
                    seen[number] = line
            rows.append(ImportRow(line=line, data=data))
    except csv.Error as error:
        problems.append(str(_l("The file is not valid CSV: %(error)s", error=str(error))))
    if not rows and not problems:
        problems.append(str(_l("The file has no shops in it.")))
    return ImportPreview(rows=rows, problems=problems)


def import_shops(actor: User, alliance: Alliance, text: str, *, idempotency_key: str | None = None) -> list[Shop]:
    """Import every row of a clean CSV in one transaction; refuse the whole file if any row is wrong.

    The same confirmation sent twice imports once: the second time nothing more is imported (an empty list).
    """
    if not authz.can(actor, "manage_shops", alliance):
        raise NotAllowed()
    imported: list[Shop] = []

    def write() -> Alliance:
        preview = preview_import(alliance, text)
        if not preview.ok:
            raise DomainError(_l("The file has %(n)s errors; nothing was imported.", n=preview.error_count))
        imported[:] = [Shop(alliance=alliance, **row.data.values) for row in preview.rows]
        db.session.add_all(imported)
        db.session.flush()
        audit.record(actor, "shops_imported", alliance, count=len(imported), **scope_ids(alliance=alliance))
        return alliance

    submit_once(actor, idempotency_key, Alliance, write, conflict=DomainError(
        _l("Another shop already has one of these house numbers; nothing was imported.")))
    return imported


FIELD_LABELS = {
    "name": _l("Shop name"),
    "house_number": _l("House number"),
    "facade_width_m": _l("Facade width (m)"),
    "business_type": _l("Business type"),
    "contact_phone": _l("Contact phone"),
    "licence_number": _l("Business licence number"),
}


# --- signboards --------------------------------------------------------------------------------

AUDIT_LABELS = {
    "signboard_registered": _l("Signboard recorded"),
    "signboard_updated": _l("Signboard changed"),
}
AUDIT_OBJECTS = {"signboard": _l("Signboard")}
SIGNBOARD_FIELDS = ("position", "sign_type", "width_m", "height_m", "projection_m", "clearance_m", "material",
                    "illuminated", "install_year", "condition")
MAX_METRES = Decimal("50")


def check_dimensions(values: dict[str, Any]) -> None:
    """Refuse sizes no shop sign has (a typing mistake: centimetres for metres, a negative number)."""
    for name in ("width_m", "height_m"):
        value = values.get(name)
        if value is None or not (Decimal("0") < Decimal(value) <= MAX_METRES):
            raise DomainError(_l("Width and height must be between 0 and %(max)s metres.", max=MAX_METRES))
    for name in ("projection_m", "clearance_m"):
        value = values.get(name)
        if value is not None and not (Decimal("0") <= Decimal(value) <= MAX_METRES):
            raise DomainError(_l("Projection and clear height must be between 0 and %(max)s metres.", max=MAX_METRES))
    values["projection_m"] = values.get("projection_m") or Decimal("0")


def register_signboard(actor: User, shop: Shop, values: dict[str, Any],
                       photos: Sequence[FileStorage] = (), *, idempotency_key: str | None = None) -> Signboard:
    """Record a sign on the shop's facade as it is now, with photos. One form, one signboard."""
    if not authz.can(actor, "propose", shop):
        raise NotAllowed()
    return submit_once(actor, idempotency_key, Signboard,
                       lambda: _save_signboard(actor, Signboard(shop=shop), values, photos, "signboard_registered"))


def update_signboard(actor: User, signboard: Signboard, values: dict[str, Any],
                     photos: Sequence[FileStorage] = ()) -> Signboard:
    """Correct a signboard's record or add photos of it (not once it is closed in the registry as removed)."""
    if not authz.can(actor, "edit", signboard):
        raise NotAllowed()
    if signboard.removed_at is not None:
        raise DomainError(_l("This sign was removed: its record is closed."))
    return submit_once(actor, None, Signboard,
                       lambda: _save_signboard(actor, signboard, values, photos, "signboard_updated"))


def _save_signboard(actor: User, signboard: Signboard, values: dict[str, Any], photos: Sequence[FileStorage],
                    action: str) -> Signboard:
    """Set the values and add the photos (saved first, before the database is written to); the caller commits."""
    values = {k: values.get(k) for k in SIGNBOARD_FIELDS if k in values}
    check_dimensions(values)
    shop = signboard.shop
    saved = save_photos(actor, photos, alliance=shop.alliance, shop=shop)
    for key, value in values.items():
        setattr(signboard, key, value)
    signboard.risk = risk_of(signboard)
    db.session.add(signboard)  # a new one joins the session only once it is complete
    signboard.photos.extend(saved)
    db.session.flush()
    audit.record(actor, action, signboard, name=signboard.position, **scope_ids(shop=shop))
    return signboard


def signboards_of(shop: Shop) -> list[Signboard]:
    return list(db.session.scalars(select(Signboard).where(Signboard.shop_id == shop.id).order_by(Signboard.id)))
