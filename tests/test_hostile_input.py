"""Hostile input: whatever arrives in a URL, a query string or a form, the answer is never a server error.

One property-based sweep walks the whole URL map (every rule, every method) as the people who see most of
Yuyuan Road (the platform admin, its lead, its treasurer, a shop owner) and as a stranger. It fills URL
parameters with real ids or hostile values and throws NUL bytes, huge and negative numbers, extreme dates,
over-long text and odd Unicode at the query parameters and at every field of every form of the app. Below it,
one small story for each root fix.
"""

from __future__ import annotations

import inspect
import io
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import quote

import pytest
from flask import current_app
from flask_babel import force_locale
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.routing import AnyConverter, IntegerConverter
from wtforms import DateField, FileField, MultipleFileField, StringField
from wtforms.fields.core import UnboundField
from wtforms.validators import EqualTo, Length

from merchant_alliance.accounts import services as accounts
from merchant_alliance.accounts.models import Membership, Role
from merchant_alliance.errors import DomainError
from merchant_alliance.extensions import db
from merchant_alliance.funds import expenses, pledges
from merchant_alliance.funds import services as funds
from merchant_alliance.funds.models import EntryKind, LedgerEntry, PaymentMethod, Pledge, ShareCover
from merchant_alliance.inputs import MAX_ID
from merchant_alliance.money import MoneyField
from merchant_alliance.notifications.models import Notification
from merchant_alliance.projects import services as projects
from merchant_alliance.projects.models import Comment
from merchant_alliance.shops.models import Shop, SignCondition, SignType
from merchant_alliance.shops.services import decode_csv, register_signboard
from merchant_alliance.timeutil import local_today, utcnow
from tests.factories import PASSWORD, user_with_role
from tests.helpers import login_as
from tests.projects.helpers import SIGNBOARD, add_version, fresh_jpeg, text_of, upload

# --- what is thrown ------------------------------------------------------------------------------

NUL = "\x00"
HUGE_AND_NEGATIVE = [str(MAX_ID), str(MAX_ID + 1), str(2**63), str(2**64), "9" * 30, "-1", str(-(2**63) - 1), "0",
                     "1e309", "NaN", "sNaN", "-Infinity", "1_000", "١٢٣", "１２", "0x1F", " 7 ", "9" * 5000]
EXTREME_DATES = ["0001-01-01", "9999-12-31", "1999-12-31", "2100-01-01", "1970-01-01", "2026-02-30", "0000-00-00",
                 "+10000-01-01", "2026-11-26T00:00:00", "26/11/2026", "2026-1-5", "0001-01", "9999-12"]
OVER_LONG = ["长" * 5001, "x" * 2001, "a" * 256, "9" * 101]
ODD_UNICODE = ["", " ", "\u202egpj.exe", "\u200b\u200d\u2060", "😀🏮" * 3, "\ufeff", "\uffff\U0010ffff", "e\u0301" * 50,
               "\x01\x08\x1b\x7f\x85", "<script>alert(1)</script>", "' OR '1'='1", "%00", "../../etc/passwd",
               "\r\nSet-Cookie: x=1", "ＡＢＣ", "null", "[]"]
WITH_NUL = [NUL, "abc\x00def", "2026-11-26\x00", "1\x00", "\x00" * 3, "王\x00"]

hostile = st.one_of(
    st.sampled_from(WITH_NUL),
    st.sampled_from(HUGE_AND_NEGATIVE),
    st.sampled_from(EXTREME_DATES),
    st.sampled_from(OVER_LONG),
    st.sampled_from(ODD_UNICODE),
    st.text(max_size=30),
    st.integers().map(str),
    st.dates().map(date.isoformat),
)
HOSTILE_IDS = ["0", str(MAX_ID), str(MAX_ID + 1), str(2**63 - 1), str(2**63), "9" * 25, "007"]
ROLES = ("admin", "lead", "treasurer", "owner", "anonymous")
EXAMPLES = 6  # random requests per rule and method, after the planned ones: ~1,000 requests per backend in all


def today_plus(days: int) -> str:
    return (local_today() + timedelta(days=days)).isoformat()


def plausible_values(ids: dict[str, object]) -> dict[str, list[str]]:
    """For each form field name, values a real person could send: hostile values are thrown at a few fields of
    an otherwise sensible form, so that requests get past the first check and into the services."""
    values = {cls: [m.value for m in cls] for cls in (PaymentMethod, ShareCover, SignType, SignCondition)}
    return {
        "login": [ids["owner_phone"], "nobody@example.com"], "password": [PASSWORD, "Another-Horse-10"],
        "remember": ["y"], "current_password": ["not-the-password"], "new_password": ["Another-Horse-10"],
        "confirm": ["Another-Horse-10"], "email": ["someone@example.com", ""], "name": ["王小明"],
        "phone": ["13900001111", ""], "role": [r.value for r in Role], "district": ["静安区"], "road": ["愚园路"],
        "kind": [k.value for k in EntryKind], "amount": ["12.50", "3000"], "shop_id": [str(ids["shop_id"]), "0"],
        "pledge_id": ["0", str(ids["pledge_id"])], "counterparty": ["静安寺街道办"], "method": values[PaymentMethod],
        "reference": ["BT0001"], "occurred_on": [today_plus(0), today_plus(-3), ""], "purpose": ["季度会费"],
        "reason": ["金额录错"], "budget": ["12000"], "split": ["rule", "amount", "percent"],
        "fund_share": ["30"], "subsidy_share": ["10"], "subsidy_source": ["静安寺街道办"],
        "project_id": [str(ids["project_id"]), "0"], "due_on": [today_plus(30)], "note": ["第一季度"],
        "payee": ["愚园路广告装饰工程队"], "payee_account": ["6222 0210 0100 8888"],
        "refund_shop_id": ["0", str(ids["shop_id"])], "save_as_draft": ["y", ""], "fund_percent": ["30"],
        "fund_cap": ["3000", ""], "two_approvals_above": ["5000"], "shop_share_cover": values[ShareCover],
        "signboard_id": [str(ids["signboard_id"])], "title": ["咖啡馆木质新店招"], "description": ["旧招牌锈蚀"],
        "materials": ["铝板烤漆"], "lighting": ["LED"], "fixing_method": ["M12化学锚栓"], "estimated_cost": ["12000"],
        "notes": ["请看效果图"], "sign_type": values[SignType], "width_m": ["5.00"], "height_m": ["0.90"],
        "projection_m": ["0.30"], "clearance_m": ["2.80"], "illuminated": ["y", ""], "body": ["尺寸请再确认"],
        "action": ["submit", "withdraw", "approve_design", "request_changes"], "max_width_share": ["0.90"],
        "max_height_m": ["1.20"], "max_projection_wall_m": ["0.30"], "max_projection_projecting_m": ["1.00"],
        "min_clearance_m": ["2.50"], "lighting_allowed": ["y"], "house_number": ["2018"], "facade_width_m": ["6.5"],
        "business_type": ["餐饮"], "contact_phone": ["13912345678"], "licence_number": ["", "91310106MA1FYX8X3K"],
        "content": ["店名,门牌号\n新书店,3018\n"], "position": ["正门上方"], "material": ["铁皮喷绘"],
        "install_year": ["2009"], "condition": values[SignCondition], "idempotency_key": [uuid.uuid4().hex],
        # read from request.form directly, not through a form class
        "active": ["1", "0"], "step": ["confirm", ""], "lang": ["en", "zh_CN"], "next": ["/"],
    }


# --- what each route reads -----------------------------------------------------------------------


def app_forms() -> dict[str, dict[str, type]]:
    """Every FlaskForm of the app by class name, with its fields (name → field class), read from the classes."""
    forms: dict[str, dict[str, type]] = {}
    pending = list(FlaskForm.__subclasses__())
    while pending:
        form_class = pending.pop()
        pending.extend(form_class.__subclasses__())
        if form_class.__module__.startswith("merchant_alliance."):
            forms[form_class.__name__] = {
                name: attribute.field_class for name in dir(form_class)
                if isinstance(attribute := getattr(form_class, name, None), UnboundField)}
    return forms


def is_upload(field_class: type) -> bool:
    return issubclass(field_class, FileField | MultipleFileField)


@dataclass(frozen=True)
class Reads:
    """What a route's view reads from the request: form fields (name → class) and query arguments."""

    fields: dict[str, type]
    args: frozenset[str]


FIELD_READ = re.compile(r"request\.form\.get\(\s*\"(\w+)\"")
ARG_READ = re.compile(r"(?:args\.get|int_arg|date_arg)\(\s*\"(\w+)\"")


def reads_of(view, forms: dict[str, dict[str, type]], depth: int = 2) -> Reads:
    """The forms a view builds and the arguments it reads, found in its source and in the app's functions it
    calls (two calls deep): the sweep aims its hostile values there, so each request reaches the code."""
    function = inspect.unwrap(view)
    source = inspect.getsource(function)
    fields = {name: field for form in re.findall(r"\b([A-Z]\w*Form)\(", source) for name, field in
              forms.get(form, {}).items()}
    fields |= {name: str for name in FIELD_READ.findall(source)}
    args = set(ARG_READ.findall(source)) | ({"page"} if re.search(r"page_arg\(|paginate\(", source) else set())
    for name in set(re.findall(r"\b(\w+)\(", source)) if depth else ():
        callee = function.__globals__.get(name)
        if inspect.isfunction(callee) and callee.__module__.startswith("merchant_alliance.") and callee is not function:
            more = reads_of(callee, forms, depth - 1)
            fields |= more.fields
            args |= more.args
    return Reads(fields, frozenset(args))


# --- the world the sweep runs in -----------------------------------------------------------------


def populate(world) -> dict[str, object]:
    """One of everything on Yuyuan Road, so each URL parameter has a real id to try besides hostile ones.

    What a request may destroy is a spare: the member who can be removed, the invitation that can be revoked."""
    a = world.a
    with current_app.test_request_context("/"):
        fund = funds.default_fund(a.alliance)
        db.session.commit()
        signboard = register_signboard(a.owner, a.shop, SIGNBOARD, [upload(filename="现状.jpg")])
        project = projects.propose_renovation(a.owner, signboard, "咖啡馆木质新店招", "旧招牌锈蚀，申请更新。")
        add_version(project, by=a.owner)
        projects.add_comment(a.lead, project, "尺寸请再确认。")
        entry = funds.record_entry(a.treasurer, fund,
                                   funds.EntryDetails(EntryKind.CONTRIBUTION, 500_00, shop=a.shop,
                                                      method=PaymentMethod.WECHAT_PAY),
                                   idempotency_key=uuid.uuid4().hex)
        pledge = pledges.create_pledge(a.treasurer, fund, a.shop, 300_00, local_today() + timedelta(days=30))
        request = expenses.create_request(a.treasurer, fund, payee="工程队", amount_fen=100_00, purpose="脚手架",
                                          receipts=[], idempotency_key=uuid.uuid4().hex, submit=False)
        spare_owner = user_with_role(Role.SHOP_OWNER, shop=a.shop)
        _, token = accounts.invite(a.lead, Role.SHOP_OWNER, shop=a.other_shop, name="李老板")
        spare_invitation, _ = accounts.invite(a.lead, Role.SHOP_OWNER, shop=a.other_shop, name="赵老板")
        return {
            "street_id": a.street.id, "alliance_id": a.alliance.id, "shop_id": a.shop.id,
            "membership_id": db.session.scalar(select(Membership.id).where(Membership.user_id == spare_owner.id)),
            "invitation_id": spare_invitation.id, "signboard_id": signboard.id,
            "photo_id": signboard.photos[0].id, "project_id": project.id, "number": 1, "entry_id": entry.id,
            "pledge_id": pledge.id, "request_id": request.id, "token": token,
            "notification_id": db.session.scalar(select(Notification.id).where(Notification.user_id == a.owner.id)),
            "owner_phone": a.owner.phone,
        }


def row_counts() -> dict[str, int]:
    """How many rows each table holds, in one query (outside any request's transaction)."""
    db.session.rollback()
    tables = db.metadata.sorted_tables
    counts = db.session.execute(select(*(select(func.count()).select_from(t).scalar_subquery() for t in tables)))
    result = dict(zip((t.name for t in tables), counts.one(), strict=True))
    db.session.rollback()
    return result


class Tracebacks(logging.Handler):
    """The app's logged server errors, to show with a failing request."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(logging.Formatter().format(record))


@dataclass
class Attack:
    role: str
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, object]
    hostile: set[str]  # the form fields given a hostile value (or file name)
    routable: bool  # the path's parameters can match the route (not an id beyond any id)

    @property
    def has_nul(self) -> bool:
        texts = [self.path, *self.query, *self.query.values(), *self.form]
        texts += [value[1] if isinstance(value, tuple) else value for value in self.form.values()]
        return any(NUL in text for text in texts)

    def describe(self) -> str:
        odd = {name: self.form[name] for name in self.hostile}
        odd = {k: (f"<file {v[1]!r:.60}>" if isinstance(v, tuple) else f"{v!r:.60}") for k, v in odd.items()}
        return f"{self.method} {self.path[:200]} as {self.role}, query {self.query!r:.300}, hostile fields {odd}"


def url_for_attack(data, rule, ids: dict[str, object]) -> tuple[str, bool]:
    """The rule's path with each parameter a real id or a hostile value; and whether the path can route."""
    path, routable = rule.rule, True
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            value = data.draw(st.sampled_from([str(ids.get(name, 1))] * 3 + HOSTILE_IDS), label=name)
            routable = routable and int(value) <= MAX_ID
        elif isinstance(converter, AnyConverter):
            value = data.draw(st.sampled_from(sorted(converter.items)), label=name)
        else:
            value = data.draw(st.one_of(st.just(str(ids.get(name, "x"))), hostile), label=name)
            routable = routable and value not in ("", ".", "..") and "/" not in value
        path = path.replace(f"<{name}>", quote(value, safe="")) if f"<{name}>" in path else \
            re.sub(rf"<[^<>]*:{name}>", lambda _match, value=value: quote(value, safe=""), path)
    return path, routable


def draw_attack(data, rule, method: str, reads: Reads, ids: dict[str, object],
                plausible: dict[str, list[str]]) -> Attack:
    """One request: real or hostile URL parameters, hostile values in some of the query arguments the view reads
    (and in one it does not), a form with a few hostile fields among sensible ones, sometimes odd uploads."""
    path, routable = url_for_attack(data, rule, ids)
    arg_names = sorted(reads.args | {"q"})
    query = {name: data.draw(hostile, label=f"?{name}")
             for name in data.draw(st.sets(st.sampled_from(arg_names), max_size=3), label="hostile args")}
    form: dict[str, object] = {}
    targets: set[str] = set()
    if method == "POST":
        texts = sorted(name for name, field in reads.fields.items() if not is_upload(field))
        uploads = sorted(name for name, field in reads.fields.items() if is_upload(field))
        if texts:
            targets = data.draw(st.sets(st.sampled_from(texts), max_size=3), label="hostile fields")
        variant = data.draw(st.integers(0, 5), label="sensible variant")  # which sensible value the others take
        for name in texts:
            choices = plausible.get(name) or ["x"]
            form[name] = data.draw(hostile, label=name) if name in targets else choices[variant % len(choices)]
        for name in data.draw(st.sets(st.sampled_from(uploads)), label="uploads") if uploads else ():
            # (a line break cannot travel in a multipart header: the test client would send another name)
            filename = data.draw(st.one_of(st.just("收据.jpg"), hostile.map(lambda s: re.sub("[\r\n]", "", s))),
                                 label=f"{name} file name")
            content = data.draw(st.sampled_from([b"", b"\x00\xff not an image", b"name,house\n"]), label="content")
            form[name] = (io.BytesIO(content or fresh_jpeg()), filename or "x.jpg")
            targets.add(name)
    return Attack(data.draw(st.sampled_from(ROLES), label="role"), method, path, query, form, targets, routable)


def real_path(rule, ids: dict[str, object]) -> str:
    path = rule.rule
    for name, converter in rule._converters.items():
        value = sorted(converter.items)[0] if isinstance(converter, AnyConverter) else str(ids.get(name, 1))
        path = re.sub(rf"<([^<>]*:)?{name}>", value, path)
    return path


DATE_ARGS = {"from": "day", "to": "day", "month": "month"}
EXTREMES = {"late": {"day": "9999-12-31", "month": "9999-12"}, "early": {"day": "0001-01-01", "month": "0001-01"}}


def planned_attacks(rule, method: str, reads: Reads, ids: dict[str, object],
                    plausible: dict[str, list[str]]) -> list[Attack]:
    """The attacks every route gets, before the random ones, as each of the people who reach most pages: a NUL
    byte at the end of every argument and text field it reads; its dates at 9999-12-31 and at 0001-01-01; its
    numeric arguments beyond any id. The rest of the request stays sensible, so that the attack reaches the
    services and the database rather than the first check."""
    path = real_path(rule, ids)
    sensible = {name: (plausible.get(name) or ["x"])[0] for name, field in reads.fields.items()
                if not is_upload(field)} if method == "POST" else {}
    texts = {name for name in sensible if issubclass(reads.fields[name], str | StringField)}
    dates = {name for name in sensible if issubclass(reads.fields[name], DateField)}
    numbers = reads.args - set(DATE_ARGS) - {"q", "state", "show", "kind", "next"}
    variants = [({name: "1\x00" for name in reads.args}, {name: sensible[name] + NUL for name in texts}, texts)]
    variants = variants if reads.args or texts else []
    if dates or reads.args & set(DATE_ARGS):
        for values in EXTREMES.values():
            variants.append(({name: values[DATE_ARGS[name]] for name in reads.args & set(DATE_ARGS)},
                             dict.fromkeys(dates, values["day"]), dates))
    if numbers:
        variants.append((dict.fromkeys(numbers, "9" * 20), {}, set()))
    return [Attack(role, method, path, query, sensible | changed, hostile_fields, routable=True)
            for role in ("lead", "treasurer", "owner", "admin") for query, changed, hostile_fields in variants]


def test_no_request_however_malformed_gets_a_server_error(app, world):
    """Every route, every method, as each role and as a stranger: NUL bytes, huge and negative numbers, extreme
    dates, over-long text and odd Unicode in the path, the query and every form field give a 4xx (or a normal
    page), never a 5xx; text with a NUL byte is refused with a 400; a refused POST writes nothing."""
    ids = populate(world)
    plausible = plausible_values(ids)
    forms = app_forms()
    assert {"LoginForm", "EntryForm", "PledgeForm", "CommentForm", "ReasonForm"} <= set(forms)
    people = {"admin": world.admin, "lead": world.a.lead, "treasurer": world.a.treasurer, "owner": world.a.owner}
    clients = {role: login_as(user) for role, user in people.items()}
    tracebacks = Tracebacks()
    failures: list[str] = []

    def send(attack: Attack, endpoint: str) -> None:
        before = row_counts() if attack.method == "POST" else None
        tracebacks.records.clear()
        # A stranger is a new browser each time (a sensible login form would log it in).
        client = clients[attack.role] if attack.role in clients else login_as(None)
        response = client.open(attack.path, method=attack.method, query_string=attack.query,
                               data=attack.form or None)
        status = response.status_code
        response.close()
        try:
            check(attack, status, before)
        finally:
            if attack.role in clients and re.search("logout|password|unlock", endpoint):
                clients[attack.role] = login_as(people[attack.role])  # the attack may have ended its session

    def check(attack: Attack, status: int, before: dict[str, int] | None) -> None:
        assert status < 500, f"{attack.describe()} → {status}\n" + "\n".join(tracebacks.records)
        if attack.has_nul:
            assert status in ((400,) if attack.routable else (400, 404)), \
                f"{attack.describe()} → {status}, not refused as text that cannot be stored"
        if before is not None and 400 <= status < 500:
            changed = {table: (count, after) for (table, count), after in zip(before.items(), row_counts().values(),
                                                                               strict=True) if count != after}
            assert not changed, f"{attack.describe()} → {status} but wrote rows {changed}"

    def random_attacks_on(rule, method: str, reads: Reads):
        # Deterministic for CI; no shrinking: each request changes the world the next one sees.
        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))
        @given(st.data())
        def attack(data) -> None:
            send(draw_attack(data, rule, method, reads, ids, plausible), rule.endpoint)

        return attack

    app.logger.addHandler(tracebacks)
    try:
        for rule in list(app.url_map.iter_rules()):
            reads = reads_of(app.view_functions[rule.endpoint], forms)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                try:  # every route is tried, so that one failure does not hide the others
                    for attack in planned_attacks(rule, method, reads, ids, plausible):
                        send(attack, rule.endpoint)
                    random_attacks_on(rule, method, reads)()
                except AssertionError as error:
                    failures.append(str(error).split("\nFalsifying")[0])
    finally:
        app.logger.removeHandler(tracebacks)
    assert not failures, f"{len(failures)} routes failed:\n\n" + "\n\n".join(failures)


# --- one story per root fix ----------------------------------------------------------------------


def column_lengths() -> dict[str, int]:
    """The shortest String(n) column of each name in the schema: a field of that name is stored in one of them."""
    lengths: dict[str, int] = {}
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if getattr(column.type, "length", None) and column.type.python_type is str:
                lengths[column.name] = min(column.type.length, lengths.get(column.name, column.type.length))
    return lengths


def test_every_text_field_of_every_form_is_bounded_by_its_column(app):
    """Every text a form takes has a maximum length (or must equal a field that has one), no longer than the
    column it is stored in: an over-long text is a form error that says so, never a database error."""
    lengths = column_lengths()
    unbounded, too_long = [], []
    pending = list(FlaskForm.__subclasses__())
    while pending:
        form_class = pending.pop()
        pending.extend(form_class.__subclasses__())
        for name in dir(form_class) if form_class.__module__.startswith("merchant_alliance.") else ():
            field = getattr(form_class, name, None)
            if not isinstance(field, UnboundField) or not issubclass(field.field_class, StringField):
                continue
            if issubclass(field.field_class, MoneyField):
                continue  # stored as fen (an int); what is typed is bounded by MoneyField.MAX_TYPED
            validators = field.kwargs.get("validators") or (field.args[1] if len(field.args) > 1 else [])
            maxima = [v.max for v in validators if isinstance(v, Length) and v.max is not None and v.max >= 0]
            if not maxima and not any(isinstance(v, EqualTo) for v in validators):
                unbounded.append(f"{form_class.__name__}.{name}")
            elif maxima and name in lengths and min(maxima) > lengths[name]:
                too_long.append(f"{form_class.__name__}.{name}: {min(maxima)} > column {lengths[name]}")
    assert (unbounded, too_long) == ([], [])


@pytest.fixture
def english(app):
    return lambda user=None: login_as(user)


def test_a_nul_byte_in_the_login_form_is_refused_with_a_message(english):
    """Someone pastes text with a NUL byte into the login form: a 400 that says what is wrong, not a crash."""
    response = english().post("/login", data={"login": "138\x0000000000", "password": PASSWORD})
    assert response.status_code == 400
    assert "cannot be stored" in text_of(response)


@pytest.mark.parametrize("where", ["query", "form key", "file name"])
def test_a_nul_byte_anywhere_in_a_request_is_refused_before_anything_is_written(english, world, where):
    """A NUL byte in a search box, a form field's name or an upload's file name: 400, and no shop is added."""
    browser = english(world.a.lead)
    url = f"/alliances/{world.a.alliance.id}/shops/new"
    form = {"name": "新店", "house_number": "3018"}
    if where == "query":
        response = browser.get(f"/alliances/{world.a.alliance.id}/shops", query_string={"q": "愚园\x00路"})
    elif where == "form key":
        response = browser.post(url, data=form | {"x\x00": "1"})
    else:
        response = browser.post(url, data=form | {"photo": (io.BytesIO(b"x"), "a\x00.jpg")})
    assert response.status_code == 400
    assert "cannot be stored" in text_of(response)
    assert db.session.scalar(select(func.count(Shop.id))) == 4  # the world's own shops, no new one


def test_a_csv_with_a_nul_byte_deep_inside_is_refused_at_the_upload(no_db):
    """A NUL byte after the first few kilobytes used to pass the check and reach the confirm step."""
    with pytest.raises(DomainError, match="This is not a CSV text file."):
        decode_csv(("店名,门牌号\n" + "新店,1\n" * 1000).encode() + b"\x00")


@pytest.mark.parametrize("url", ["/shops/99999999999999999999", "/shops/9223372036854775808", "/shops/2147483648",
                                 "/projects/18446744073709551616/timeline", "/fund/expenses/-1",
                                 "/photos/99999999999999999999/display"])
def test_an_id_beyond_any_id_or_negative_is_not_found(english, world, url):
    """A mistyped or forged id, however large, is a plain 404 page."""
    assert english(world.admin).get(url).status_code == 404


READS = {"fund/entries": ("page", "fund", "shop", "project"), "fund/entries.csv": ("fund", "shop", "project"),
         "fund/statement": ("page", "fund"), "fund/pledges": ("page",), "fund/expenses": ("page", "fund"),
         "audit": ("page",)}
BAD_NUMBERS = ["-1", "2147483648", "abc"]


@pytest.mark.parametrize(("listing", "arg", "value"), [(listing, arg, value) for listing, args in READS.items()
                                                        for arg in args for value in BAD_NUMBERS])
def test_a_malformed_number_in_the_query_is_a_400_that_says_so(english, world, listing, arg, value):
    """?page=-1, a page or an id beyond any id: the treasurer gets a 400 saying which number is wrong."""
    response = english(world.a.treasurer if listing != "audit" else world.a.lead).get(
        f"/alliances/{world.a.alliance.id}/{listing}", query_string={arg: value})
    assert response.status_code == 400
    assert f"“{arg}” must be a whole number" in text_of(response)


def test_the_first_page_and_a_real_fund_still_work(english, world):
    """The checked arguments still take what people send: ?page=2 and the alliance's own fund."""
    fund = funds.default_fund(world.a.alliance)
    db.session.commit()
    browser = english(world.a.treasurer)
    assert browser.get(f"/alliances/{world.a.alliance.id}/fund/entries?page=2&fund={fund.id}").status_code == 200
    assert browser.get(f"/alliances/{world.a.alliance.id}/fund/entries?shop=&project=").status_code == 200


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1999-12-31", "2100-01-01"])
@pytest.mark.parametrize("field", ["from", "to"])
def test_an_extreme_date_in_the_entries_filter_is_a_400_with_the_range(english, world, day, field):
    """Filtering the ledger from 0001-01-01 or to 9999-12-31 used to overflow; now it says which dates work."""
    response = english(world.a.treasurer).get(f"/alliances/{world.a.alliance.id}/fund/entries?{field}={day}")
    assert response.status_code == 400
    assert "Choose a date from 2000-01-01 to 2099-12-31." in text_of(response)


def test_a_malformed_date_in_the_filter_says_how_dates_are_written(english, world):
    """A spreadsheet download with a date written the wrong way: a 400 that shows the right way, not every row."""
    response = english(world.a.treasurer).get(f"/alliances/{world.a.alliance.id}/fund/entries.csv?from=26/11/2026")
    assert response.status_code == 400
    assert "Dates are written like 2026-11-26." in text_of(response)


@pytest.mark.parametrize("month", ["0001-01", "9998-12", "1999-12", "2100-01"])
def test_a_statement_for_a_month_outside_the_century_is_a_400(english, world, month):
    """?month=0001-01 (or 9998-12) has no statement: a 400 with the dates that work."""
    response = english(world.a.treasurer).get(f"/alliances/{world.a.alliance.id}/fund/statement?month={month}")
    assert response.status_code == 400
    assert "Choose a date from 2000-01-01 to 2099-12-31." in text_of(response)


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1999-12-31"])
def test_an_extreme_date_in_the_ledger_form_is_a_form_error_and_nothing_is_recorded(english, world, day):
    """The treasurer types 9999-12-31 as the date received: the form says which dates work; no entry."""
    response = english(world.a.treasurer).post(f"/alliances/{world.a.alliance.id}/fund/record", data={
        "kind": "contribution", "amount": "100", "shop_id": world.a.shop.id, "pledge_id": 0, "method": "cash",
        "occurred_on": day, "idempotency_key": uuid.uuid4().hex})
    assert response.status_code == 200
    assert "Choose a date from 2000-01-01 to 2099-12-31." in text_of(response)
    assert db.session.scalar(select(func.count(LedgerEntry.id))) == 0


def test_a_ledger_entry_dated_tomorrow_is_refused_under_the_date_field(english, world):
    """A date in the future would count in the balance but in no statement: the service refuses it, and the
    form shows why under the date."""
    response = english(world.a.treasurer).post(f"/alliances/{world.a.alliance.id}/fund/record", data={
        "kind": "donation", "amount": "100", "counterparty": "赞助商", "pledge_id": 0, "shop_id": 0, "method": "cash",
        "occurred_on": today_plus(1), "idempotency_key": uuid.uuid4().hex})
    assert response.status_code == 200
    assert "The date must be from 2000-01-01 to today." in text_of(response)
    assert db.session.scalar(select(func.count(LedgerEntry.id))) == 0


@pytest.fixture
def in_english(app):
    """Services called outside a request speak the default language (Chinese); these tests read English."""
    with app.test_request_context("/"), force_locale("en"):
        yield


@pytest.mark.usefixtures("in_english")
@pytest.mark.parametrize("moment", [datetime(2099, 1, 1), datetime(1999, 12, 31, 15, 59), datetime.max,
                                    datetime.min, "next year"])
def test_the_ledger_service_refuses_an_entry_dated_in_the_future_or_before_2000(app, world, moment):
    """What the API and the command line call refuses such dates too, saying which field is wrong."""
    fund = funds.default_fund(world.a.alliance)
    db.session.commit()
    if moment == "next year":
        moment = datetime.combine(local_today().replace(day=1) + timedelta(days=366), datetime.min.time())
    with pytest.raises(DomainError, match="from 2000-01-01 to today") as refused:
        funds.record_entry(world.a.treasurer, fund,
                           funds.EntryDetails(EntryKind.DONATION, 100_00, counterparty="赞助商", occurred_on=moment),
                           idempotency_key=uuid.uuid4().hex)
    assert refused.value.field == "occurred_on"
    assert db.session.scalar(select(func.count(LedgerEntry.id))) == 0


def test_the_ledger_service_takes_today_and_the_first_day_of_2000(app, world):
    """The range is inclusive at both ends, in Shanghai time."""
    fund = funds.default_fund(world.a.alliance)
    db.session.commit()
    for moment in (datetime(1999, 12, 31, 16, 0), utcnow()):  # 2000-01-01 00:00 in Shanghai, and now
        funds.record_entry(world.a.treasurer, fund,
                           funds.EntryDetails(EntryKind.DONATION, 100_00, counterparty="赞助商", occurred_on=moment),
                           idempotency_key=uuid.uuid4().hex)
    assert db.session.scalar(select(func.count(LedgerEntry.id))) == 2


@pytest.mark.usefixtures("in_english")
@pytest.mark.parametrize(("days", "refused"), [(5 * 365 + 1, True), (365 * 80, True), (5 * 365, False)])
def test_a_pledge_is_due_within_five_years(app, world, days, refused):
    """A pledge due in 80 years is a typing mistake and sits in no arrears report: refused by the service."""
    fund = funds.default_fund(world.a.alliance)
    db.session.commit()
    due = local_today() + timedelta(days=days)
    if refused:
        with pytest.raises(DomainError, match="at most 5 years") as error:
            pledges.create_pledge(world.a.treasurer, fund, world.a.shop, 100_00, due)
        assert error.value.field == "due_on"
    else:
        pledges.create_pledge(world.a.treasurer, fund, world.a.shop, 100_00, due)
    assert db.session.scalar(select(func.count(Pledge.id))) == (0 if refused else 1)


def test_an_extreme_due_date_on_the_pledge_form_is_a_form_error(english, world):
    """9999-12-31 as the date a shop will pay by: a form error with the dates that work; no pledge."""
    response = english(world.a.treasurer).post(f"/alliances/{world.a.alliance.id}/fund/pledges/new", data={
        "shop_id": world.a.shop.id, "project_id": 0, "amount": "100", "due_on": "9999-12-31",
        "idempotency_key": uuid.uuid4().hex})
    assert response.status_code == 200
    assert "Choose a date from 2000-01-01 to 2099-12-31." in text_of(response)
    assert db.session.scalar(select(func.count(Pledge.id))) == 0


def test_an_over_long_comment_is_told_it_is_too_long(english, world):
    """A shop owner pastes 5,001 characters into a comment: the message says it is too long, not that the
    comment is empty; and nothing is stored."""
    ids = populate(world)
    browser = english(world.a.owner)
    response = browser.post(f"/projects/{ids['project_id']}/comments", data={"body": "长" * 5001},
                            follow_redirects=True)
    page = text_of(response)
    assert "cannot be longer than 5000 characters" in page
    assert "Please write something" not in page
    assert db.session.scalar(select(func.count(Comment.id))) == 1  # the one populate() wrote
    empty = text_of(browser.post(f"/projects/{ids['project_id']}/comments", data={"body": "  "},
                                 follow_redirects=True))
    assert "Please write something before sending." in empty


@pytest.mark.parametrize("where", ["reversal", "pledge cancellation", "expense rejection", "project action"])
def test_an_over_long_reason_is_told_it_is_too_long(english, world, where):
    """A reason of 2,001 characters: the message says it is too long (not "please give a reason")."""
    ids = populate(world)
    reason = "长" * 2001
    if where == "reversal":
        response = english(world.a.treasurer).post(f"/fund/entries/{ids['entry_id']}/reverse",
                                                   data={"reason": reason, "idempotency_key": uuid.uuid4().hex},
                                                   follow_redirects=True)
    elif where == "pledge cancellation":
        response = english(world.a.treasurer).post(f"/fund/pledges/{ids['pledge_id']}/cancel",
                                                   data={"reason": reason}, follow_redirects=True)
    elif where == "expense rejection":
        response = english(world.a.lead).post(f"/fund/expenses/{ids['request_id']}/reject",
                                              data={"reason": reason}, follow_redirects=True)
    else:
        response = english(world.a.owner).post(f"/projects/{ids['project_id']}/actions",
                                               data={"action": "withdraw", "reason": reason}, follow_redirects=True)
    page = text_of(response)
    assert "cannot be longer than 2000 characters" in page
    assert "Please give a reason" not in page


def test_a_405_says_which_methods_are_allowed(english, world):
    """GET on a form's POST-only address: 405, with the Allow header the standard asks for."""
    response = english(world.a.treasurer).get("/fund/entries/1/reverse")
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"POST", "OPTIONS"}
    json = english().get("/logout", headers={"Accept": "application/json"})
    assert json.status_code == 405 and "POST" in json.headers["Allow"]
