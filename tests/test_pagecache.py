"""The page cache: a page served from it is always the page built afresh.

Fragments are cached under the versions of the scopes they show (merchant_alliance.pagecache). Whatever
people do — money in and out, reversals, pledges and their cancellation, proposals moving, comments, a shop's
details edited — every cached page must be exactly what building it again gives, and a commit that writes
a table without telling the cache must fail.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import g
from flask_login import current_user
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from merchant_alliance import pagecache
from merchant_alliance.accounts.models import Alliance, Role
from merchant_alliance.accounts.services import grant_role
from merchant_alliance.errors import DomainError
from merchant_alliance.extensions import db
from merchant_alliance.funds import pledges, services
from merchant_alliance.funds.models import EntryKind, Fund, PaymentMethod, Pledge
from merchant_alliance.notifications.services import mark_read, notify
from merchant_alliance.pagecache import GLOBAL, CacheVersion, alliance_scope
from merchant_alliance.projects import services as project_services
from merchant_alliance.projects.models import ProjectState
from merchant_alliance.shops import services as shop_services
from merchant_alliance.shops.models import Shop
from merchant_alliance.timeutil import local_day_start_utc, local_today
from tests.factories import PASSWORD
from tests.fixtures.funds import key, reverse_one
from tests.fixtures.projects import make_project
from tests.helpers import counted_queries, login_as

FRESH = re.compile(r'(name="(?:csrf_token|idempotency_key)"[^>]*?value=")[^"]*"')


def cached_pages(alliance_id: int, project_ids: list[int]) -> list[str]:
    a = alliance_id
    return [f"/alliances/{a}/fund", f"/alliances/{a}/fund/entries", f"/alliances/{a}/fund/statement",
            f"/alliances/{a}/fund/shops", f"/alliances/{a}/fund/pledges", f"/alliances/{a}/fund/expenses",
            f"/alliances/{a}/shops", f"/alliances/{a}/projects", f"/alliances/{a}/audit", "/notifications",
            *(f"/projects/{p}" for p in project_ids)]


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return FRESH.sub(r'\1…"', response.get_data(as_text=True))


def assert_cached_pages_are_fresh(app, client, paths: list[str]) -> None:
    for path in paths:
        served = page(client, path)  # from the cache when its key did not change
        app.config["PAGE_CACHE"] = False
        try:
            built = page(client, path)
        finally:
            app.config["PAGE_CACHE"] = True
        assert served == built, f"{path} served a stale page"


step = st.one_of(
    st.tuples(st.just("record"), st.sampled_from([EntryKind.CONTRIBUTION, EntryKind.DONATION, EntryKind.EXPENSE]),
              st.integers(1, 500_000), st.integers(0, 90)),
    st.tuples(st.just("reverse"), st.integers(0, 1_000)),
    st.tuples(st.just("pledge"), st.integers(1, 300_000), st.booleans()),
    st.tuples(st.just("cancel pledge"), st.integers(0, 1_000)),
    st.tuples(st.just("move project"), st.sampled_from(["submit", "withdraw"])),
    st.tuples(st.just("comment"), st.text("评论新店招ab", min_size=1, max_size=12)),
    st.tuples(st.just("edit shop"), st.text("咖啡茶馆书店", min_size=1, max_size=8)),
)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=7))
def test_every_cached_page_is_the_page_built_afresh_after_any_sequence_of_writes(app, world, fund, steps):
    side = world.a
    project = make_project(ProjectState.DRAFT, by=side.owner, shop=side.shop)
    client, owner = login_as(side.lead), login_as(side.owner)
    paths = [*cached_pages(side.alliance.id, [project.id]), "/"]
    owners_pages = ["/", "/projects/mine", f"/shops/{side.shop.id}"]  # the owner's home and projects are cached too

    def assert_fresh() -> None:
        assert_cached_pages_are_fresh(app, client, paths)
        assert_cached_pages_are_fresh(app, owner, owners_pages)

    assert_fresh()
    for operation, *values in steps:
        try:
            if operation == "record":
                kind, amount, days_ago = values
                occurred_on = local_day_start_utc(local_today() - timedelta(days=days_ago)) + timedelta(hours=10)
                services.record_entry(side.treasurer, fund, services.EntryDetails(
                    kind, amount, shop=side.shop if kind == EntryKind.CONTRIBUTION else None,
                    method=PaymentMethod.BANK_TRANSFER, occurred_on=occurred_on), idempotency_key=key())
            elif operation == "reverse":
                reverse_one(side.treasurer, fund, values[0])
            elif operation == "pledge":
                amount, pay = values
                pledge = pledges.create_pledge(side.treasurer, fund, side.shop, amount,
                                               local_today() + timedelta(days=30))
                if pay:
                    services.record_entry(side.treasurer, fund, services.EntryDetails(
                        EntryKind.CONTRIBUTION, max(amount // 2, 1), pledge=pledge), idempotency_key=key())
            elif operation == "cancel pledge":
                open_pledges = db.session.scalars(select(Pledge).where(
                    Pledge.fund_id == fund.id, Pledge.cancelled_at.is_(None)).order_by(Pledge.id)).all()
                if open_pledges:
                    pledges.cancel_pledge(side.lead, open_pledges[values[0] % len(open_pledges)], "店铺歇业")
            elif operation == "move project":
                project_services.move(side.owner, project, values[0])
            elif operation == "comment":
                project_services.add_comment(side.lead, project, values[0], idempotency_key=key())
            else:
                shop_services.update_shop(side.lead, side.shop, {
                    "name": values[0], "house_number": side.shop.house_number})
            db.session.commit()
        except DomainError:
            db.session.rollback()  # refused: nothing written, and the pages must say so
        assert_fresh()


def test_a_second_view_comes_from_the_cache_with_fewer_queries_and_its_own_form_keys(app, world, fund):
    project = make_project(ProjectState.SUBMITTED, by=world.a.owner, shop=world.a.shop)
    client = login_as(world.a.lead)
    path = f"/projects/{project.id}"
    first = client.get(path).get_data(as_text=True)
    with counted_queries() as cold:
        app.config["PAGE_CACHE"] = False
        client.get(path)
        app.config["PAGE_CACHE"] = True
    with counted_queries() as warm:
        second = client.get(path).get_data(as_text=True)
    assert len(warm) < len(cold)
    assert FRESH.sub("", first) == FRESH.sub("", second)
    # The comment form's one-time key is new on every view: two comments typed on two views are two comments.
    keys = [re.search(r'name="idempotency_key"[^>]*?value="([^"]+)"', html)[1] for html in (first, second)]
    assert keys[0] != keys[1]


def test_the_alliance_and_its_main_fund_are_kept_between_views_until_either_changes(app, world, fund):
    """A fund page reads its alliance and main fund once; the next views take them from the process without a
    query, until a write to either (a renamed fund, then a renamed alliance) changes their version. Each view
    starts with an empty session, as a request does, so a kept row is all the page could show."""
    client, path = login_as(world.a.treasurer), f"/alliances/{world.a.alliance.id}/fund"

    def view() -> tuple[str, list[str]]:
        db.session.expunge_all()
        with counted_queries() as statements:
            html = page(client, path)
        return html, [sql for sql in statements if "FROM alliances JOIN funds" in " ".join(sql.split())]

    view()
    assert view()[1] == []  # kept
    db.session.execute(update(Fund).where(Fund.id == fund.id).values(name="公共维修基金")
                       .execution_options(synchronize_session=False, cache_scopes=[alliance_scope(fund.alliance_id)]))
    db.session.commit()
    html, read = view()
    assert "公共维修基金" in html and len(read) == 1
    db.session.execute(update(Alliance).where(Alliance.id == world.a.alliance.id).values(name="愚园路新联盟")
                       .execution_options(synchronize_session=False))  # a global write
    db.session.commit()
    html, read = view()
    assert "愚园路新联盟" in html and "公共维修基金" in html and len(read) == 1


def test_a_kept_row_is_a_copy_that_a_requests_unsaved_change_never_reaches(app, world, fund):
    """What is kept is a copy no session holds: a request that changes its own fund row and never commits it
    (a refused form, another thread's work in progress) leaves the next view showing the saved name."""
    client, path = login_as(world.a.treasurer), f"/alliances/{world.a.alliance.id}/fund"
    db.session.expunge_all()
    page(client, path)
    own = db.session.get(Fund, fund.id)
    own.name = "未保存的名字"
    db.session.expunge_all()  # the change is dropped, never committed
    assert "未保存的名字" not in page(client, path) and fund.name in page(client, path)


def logged_in_with_csrf(app, user):
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*?value="([^"]+)"', html)[1]
    response = client.post("/login", data={"login": user.phone, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return client


def test_each_session_gets_its_own_csrf_token_in_a_cached_page(app, world, fund):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        first, second = (logged_in_with_csrf(app, world.a.lead) for _ in range(2))
        tokens = []
        for client in (first, second):
            html = client.get(f"/alliances/{world.a.alliance.id}/fund").get_data(as_text=True)
            tokens.append(set(re.findall(r'name="csrf_token"[^>]*?value="([^"]+)"', html)))
            assert len(tokens[-1]) == 1  # the page's forms and the menu's all carry this session's token
        assert tokens[0] != tokens[1]
        # The token in the cached page is one the second session's form is accepted with.
        response = second.post("/notifications/read-all", data={"csrf_token": next(iter(tokens[1]))})
        assert response.status_code in (302, 303)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_a_write_changes_only_the_versions_of_the_scopes_it_touches(app, world, fund):
    a, b = alliance_scope(world.a.alliance.id), alliance_scope(world.b.alliance.id)
    before = dict(pagecache.versions([a, b]))
    services.record_entry(world.a.treasurer, fund, services.EntryDetails(EntryKind.DONATION, 100_00),
                          idempotency_key=key())
    db.session.commit()
    after = dict(pagecache.versions([a, b]))
    assert after[a] != before[a]
    assert after[b] == before[b] and after[GLOBAL] == before[GLOBAL]
    # A user's name may be on any page: renaming one changes the global version.
    world.b.owner.name = "新名字"
    db.session.commit()
    assert dict(pagecache.versions([a, b]))[GLOBAL] != after[GLOBAL]


def test_logging_in_changes_no_version(app, world):
    before = pagecache.versions([alliance_scope(world.a.alliance.id)])
    login_as(world.a.owner)
    assert pagecache.versions([alliance_scope(world.a.alliance.id)]) == before


def test_a_commit_that_writes_a_table_without_telling_the_cache_fails(app, world):
    db.session.connection().execute(update(Shop.__table__).where(Shop.__table__.c.id == world.a.shop.id)
                                    .values(name="绕过缓存"))
    with pytest.raises(AssertionError, match="shops"):
        db.session.commit()
    db.session.rollback()
    # Told through pagecache.touch, the same write commits, and its alliance's pages change.
    before = pagecache.versions([alliance_scope(world.a.alliance.id)])
    db.session.connection().execute(update(Shop.__table__).where(Shop.__table__.c.id == world.a.shop.id)
                                    .values(name="告知缓存"))
    pagecache.touch(db.session, [alliance_scope(world.a.alliance.id)], tables=["shops"])
    db.session.commit()
    assert pagecache.versions([alliance_scope(world.a.alliance.id)]) != before


def test_a_refused_form_is_never_served_from_the_cache(app, world, fund):
    client = login_as(world.a.treasurer)
    path = f"/alliances/{world.a.alliance.id}/fund/entries"
    client.get(path)
    with app.test_request_context(path, method="POST"):
        g.fresh_values = {}
        assert pagecache.cached("fund-entries", [alliance_scope(world.a.alliance.id)], lambda: "built") == "built"


def test_a_page_cached_for_one_viewer_is_never_served_to_someone_who_may_not_see_it(app, world, fund):
    path = f"/alliances/{world.a.alliance.id}/fund/pledges"
    assert login_as(world.a.lead).get(path).status_code == 200  # now cached for the lead
    assert login_as(world.b.lead).get(path).status_code in (403, 404)  # another alliance's lead
    assert login_as(world.a.contractor).get(path).status_code in (403, 404)  # a role without the books
    assert login_as(None).get(path).status_code == 302  # anonymous: to the login page


def test_the_header_follows_the_viewers_notifications_name_and_roles(app, world):
    """The header (bell, menu, name) is cached per viewer: each change a viewer can see changes it."""
    owner = world.a.owner
    client = login_as(owner)
    paths = [f"/shops/{world.a.shop.id}", "/projects/mine", "/notifications"]
    assert_cached_pages_are_fresh(app, client, paths)
    notify([owner.id], "您的店招方案已提交")
    db.session.commit()
    assert_cached_pages_are_fresh(app, client, paths)
    assert 'data-testid="unread-count">1<' in page(client, paths[0])
    mark_read(owner.id)
    db.session.commit()
    assert "unread-count" not in page(client, paths[0])
    owner.name = "新店主"
    db.session.commit()
    assert "新店主" in page(client, paths[0])
    grant_role(owner, Role.TREASURER, alliance=world.a.alliance)  # the menu gains the books
    db.session.commit()
    assert_cached_pages_are_fresh(app, client, paths)
    assert f'href="/alliances/{world.a.alliance.id}/fund"' in page(client, paths[0])


@pytest.mark.parametrize("who", ["owner", "lead", "treasurer", "officer", "contractor"])
def test_the_versions_of_a_viewers_own_scopes_come_with_the_viewer_and_are_current(app, world, fund, who):
    user = getattr(world.a, who)
    client = login_as(user)
    path = {"owner": f"/shops/{world.a.shop.id}", "officer": "/notifications", "contractor": "/notifications"}.get(
        who, f"/alliances/{world.a.alliance.id}/fund")
    client.get(path)
    services.record_entry(world.a.treasurer, fund, services.EntryDetails(EntryKind.DONATION, 100_00),
                          idempotency_key=key())  # a new version of the alliance's pages
    db.session.commit()
    with client:  # the request's context stays open to look at what it read
        client.get(path)
        own = pagecache.own_scopes(current_user)
        read = pagecache._versions_read_with_user()
        stored = dict(db.session.execute(select(CacheVersion.scope, CacheVersion.version)
                                         .where(CacheVersion.scope.in_(own))).all())
    assert read == {scope: stored.get(scope, 0) for scope in own}  # what the user's query read is what is stored
    if who != "officer":  # a street officer holds no alliance: the alliance's versions are not theirs
        assert alliance_scope(world.a.alliance.id) in own
    with counted_queries() as statements:
        assert client.get(path).status_code == 200
    assert not [s for s in statements if "cache_versions" in s and "users" not in s]  # no query of its own
