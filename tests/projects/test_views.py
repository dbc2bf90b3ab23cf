"""Renovation proposal pages, as shop owners, leads, the street officer and outsiders use them."""

from __future__ import annotations

import io
import re
from decimal import Decimal

from sqlalchemy import func, select

from merchant_alliance.audit import AuditEvent
from merchant_alliance.extensions import db
from merchant_alliance.photos.models import Photo
from merchant_alliance.projects import services
from merchant_alliance.projects.lifecycle import Attempt
from merchant_alliance.projects.models import Comment, DesignVersion, Project, ProjectState
from merchant_alliance.shops.models import Signboard
from tests.helpers import counted_queries, field_errors, first_screen, flashed_errors, login_as
from tests.projects.helpers import add_version, fresh_jpeg, put_in_state, state_of, text_of, upload, written

S = ProjectState
NOT_A_PHOTO = b"<!DOCTYPE html><html><body>not a photo</body></html>"
VERSION_FORM = {
    "sign_type": "wall_parallel", "width_m": "5.00", "height_m": "0.90", "projection_m": "0.30",
    "clearance_m": "2.80", "materials": "铝板烤漆", "lighting": "", "fixing_method": "M12化学锚栓",
    "estimated_cost": "12,000.50", "notes": "颜色按街道色卡",
}


def files(*names: str) -> list[tuple[io.BytesIO, str]]:
    return [(io.BytesIO(fresh_jpeg()), name) for name in names]


def version_form(**changes) -> dict:
    return {**VERSION_FORM, "mockups": files("设计稿.jpg"), "current": files("现状.jpg"), **changes}


def photo_urls(photos) -> list[str]:
    return [f"/photos/{p.id}/thumb" for p in photos]


def act(client, project_id: int, action: str, reason: str = ""):
    return client.post(f"/projects/{project_id}/actions", data={"action": action, "reason": reason})


def in_request(app, fn, *args, **kwargs):
    """Run a service that links to pages (notifications) outside a request."""
    with app.test_request_context("/"):
        return fn(*args, **kwargs)


def assert_in_order(page: str, texts: list[str]) -> None:
    position = 0
    for text in texts:
        found = page.find(text, position)
        assert found != -1, f"{text!r} is missing after position {position}"
        position = found + len(text)




# --- a proposal through the forms ------------------------------------------------------------------


def test_a_shop_owner_records_the_sign_proposes_a_renovation_adds_the_design_and_submits_it(app, world, cast):
    owner = login_as(cast.owner)
    shop_id = world.a.shop.id
    response = owner.get(f"/shops/{shop_id}/projects/new")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/shops/{shop_id}/signboards/new?then=propose"

    response = owner.post(f"/shops/{shop_id}/signboards/new?then=propose", content_type="multipart/form-data", data={
        "position": "正门上方", "sign_type": "wall_parallel", "width_m": "5.20", "height_m": "1.00",
        "projection_m": "0.40", "clearance_m": "2.60", "material": "铁皮喷绘", "install_year": "2009",
        "condition": "worn", "photos": files("旧招牌.jpg"),
    })
    signboard_id = db.session.scalar(select(Signboard.id))
    # Back to the proposal it stepped aside from, this sign chosen.
    assert response.headers["Location"] == f"/shops/{shop_id}/projects/new?signboard={signboard_id}"

    page = text_of(owner.get(f"/shops/{shop_id}/projects/new?signboard={signboard_id}"))
    assert f'<option selected value="{signboard_id}">' in page
    response = owner.post(f"/shops/{shop_id}/projects/new", data={
        "signboard_id": signboard_id, "title": "咖啡馆木质新店招", "description": "旧招牌锈蚀"})
    project = db.session.scalar(select(Project))
    assert (project.title, project.state, project.created_by_id) == ("咖啡馆木质新店招", S.DRAFT, cast.owner.id)
    assert response.headers["Location"] == f"/projects/{project.id}/versions/new"

    page = text_of(owner.get(f"/projects/{project.id}/versions/new"))
    assert 'value="5.20"' in page  # the form starts from the sign as it is
    response = owner.post(f"/projects/{project.id}/versions/new", content_type="multipart/form-data",
                          data=version_form(mockups=files("设计稿-白天.jpg", "设计稿-夜间.jpg")))
    assert response.headers["Location"] == f"/projects/{project.id}"
    version = db.session.scalar(select(DesignVersion))
    assert (version.number, version.width_m, version.estimated_cost_fen) == (1, Decimal("5.00"), 1_200_050)
    assert [p.original_filename for p in version.mockups] == ["设计稿-白天.jpg", "设计稿-夜间.jpg"]
    assert [p.original_filename for p in version.current_photos] == ["现状.jpg"]

    page = text_of(owner.get(f"/projects/{project.id}"))
    assert "咖啡馆木质新店招" in page and "Design version 1" in page and "¥12,000.50" in page
    assert "Width 5.00 m; at most 5.85 m (90% of the 6.50 m facade)." in page
    for url in photo_urls([*version.mockups, *version.current_photos]):
        assert f'src="{url}"' in page
    assert 'data-action="submit"' in page and 'data-action="withdraw"' in page
    assert 'data-action="approve_design"' not in page

    response = act(owner, project.id, "submit")
    assert response.headers["Location"] == f"/projects/{project.id}"
    page = text_of(owner.get(f"/projects/{project.id}"))
    assert "Done: Submitted for review." in page
    assert 'data-testid="project-state">Submitted for review<' in page
    assert f'href="/projects/{project.id}/versions/new"' not in page  # no new version while under review

    lead_page = text_of(login_as(cast.lead).get(f"/projects/{project.id}"))
    for action in ("approve_design", "request_changes", "reject"):
        assert f'data-action="{action}"' in lead_page
    assert 'data-action="withdraw"' not in lead_page  # withdrawing is the shop's decision
    assert 'id="reason-request_changes"' in lead_page and 'id="reason-reject"' in lead_page
    treasurer_page = text_of(login_as(cast.treasurer).get(f"/projects/{project.id}"))
    assert "咖啡馆木质新店招" in treasurer_page and "data-action=" not in treasurer_page


def test_the_version_form_refuses_bad_costs_sizes_and_files_clearly_and_writes_nothing(app, proposal, cast):
    project = proposal(versions=0)
    owner = login_as(cast.owner)
    url = f"/projects/{project.id}/versions/new"
    before = written(app)
    for changes, message in (
        ({"estimated_cost": "1e9"}, "1e9 is not an amount in yuan, e.g. 1234.50."),
        ({"estimated_cost": "-5"}, "The amount cannot be negative."),
        ({"estimated_cost": "12.345"}, "Amounts have at most two decimals (fen)."),
        ({"estimated_cost": "100,000,001"}, "The amount is larger than ¥100,000,000.00."),
        ({"width_m": "0"}, "Number must be between 0.01 and 50."),
        ({"width_m": "-1"}, "Number must be between 0.01 and 50."),
        ({"width_m": "500"}, "Number must be between 0.01 and 50."),
        ({"height_m": "0"}, "Number must be between 0.01 and 50."),
        ({"projection_m": "-0.5"}, "Number must be between 0 and 50."),
        ({"clearance_m": "75"}, "Number must be between 0 and 50."),
        ({"mockups": files("设计稿.jpg", "夜景.jpg"),
          "current": [*files("现状.jpg"), (io.BytesIO(NOT_A_PHOTO), "发票.jpg")]},
         "发票.jpg: this is not a photo in a supported format (JPEG, PNG, WebP or HEIC)."),
    ):
        response = owner.post(url, content_type="multipart/form-data", data=version_form(**changes))
        assert response.status_code == 200, changes
        assert message in text_of(response), changes
        # no version, no photo row, no link, no audit event, no stored object
        assert written(app) == before, changes
    assert before["versions"] == 0


def test_the_estimated_cost_is_optional_refused_under_its_field_and_offered_again_from_the_last_version(
        app, proposal, cast):
    """An owner types a cost with three decimals: the form comes back with the reason under the cost, what they
    typed still in the box, and nothing saved. Left empty, the version is saved without a cost; the next new
    version starts from the last cost given, in yuan."""
    project = proposal(versions=0)
    owner = login_as(cast.owner)
    url = f"/projects/{project.id}/versions/new"
    before = written(app)

    response = owner.post(url, content_type="multipart/form-data", data=version_form(estimated_cost="12.345"))
    assert response.status_code == 200
    assert field_errors(response, "estimated_cost") == ["Amounts have at most two decimals (fen)."]
    assert flashed_errors(response) == []
    assert re.search(r'id="estimated_cost"[^>]*value="12.345"', response.get_data(as_text=True))
    assert written(app) == before

    response = owner.post(url, content_type="multipart/form-data", data=version_form(estimated_cost="  "))
    assert response.headers["Location"] == f"/projects/{project.id}"
    assert db.session.scalars(select(DesignVersion.estimated_cost_fen)).all() == [None]

    add_version(project, by=cast.owner, estimated_cost_fen=1_200_050)
    form = owner.get(url).get_data(as_text=True)
    assert re.search(r'id="estimated_cost"[^>]*value="12000.50"', form)


def test_versions_are_added_only_while_the_design_is_a_draft_or_changes_were_requested(app, proposal, cast):
    project = proposal()
    in_request(app, services.move, cast.owner, project, "submit")
    owner = login_as(cast.owner)
    before = written(app)
    for response in (owner.get(f"/projects/{project.id}/versions/new"),
                     owner.post(f"/projects/{project.id}/versions/new", content_type="multipart/form-data",
                                data=version_form())):
        assert response.headers["Location"] == f"/projects/{project.id}"
    assert "A new version can only be added to a draft" in text_of(owner.get(f"/projects/{project.id}"))
    assert written(app) == before

    in_request(app, services.move, cast.lead, project, "request_changes", Attempt(reason="请收窄"))
    response = owner.post(f"/projects/{project.id}/versions/new", content_type="multipart/form-data",
                          data=version_form(width_m="4.50"))
    assert response.headers["Location"] == f"/projects/{project.id}"
    assert [v.number for v in db.session.get(Project, project.id).versions] == [1, 2]


# --- reviewing ------------------------------------------------------------------------------------


def test_a_review_needs_a_reason_and_a_double_click_moves_the_project_once(app, proposal, cast):
    project = proposal()
    owner, lead = login_as(cast.owner), login_as(cast.lead)
    act(owner, project.id, "submit")
    act(owner, project.id, "submit")  # the second click of a double click
    assert "This is not possible while the project is “Submitted for review”." in text_of(
        owner.get(f"/projects/{project.id}"))
    assert len(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "project.submit")).all()) == 1

    act(lead, project.id, "request_changes", "  ")
    assert "Please give a reason." in text_of(lead.get(f"/projects/{project.id}"))
    assert state_of(project) == S.SUBMITTED

    for name in ("treasurer", "officer", "admin"):
        act(login_as(getattr(cast, name)), project.id, "approve_design", "好")
        assert state_of(project) == S.SUBMITTED, name

    act(lead, project.id, "request_changes", "出挑超过0.5米")
    page = text_of(owner.get(f"/projects/{project.id}"))
    assert 'data-testid="project-state">Changes requested<' in page
    assert "出挑超过0.5米" in page


# --- comments, versions side by side, the timeline ----------------------------------------------------


def test_comments_with_photos_show_on_the_project_and_its_timeline_in_order_with_who_and_when(app, proposal, cast):
    project = proposal()
    owner, lead = login_as(cast.owner), login_as(cast.lead)
    response = lead.post(f"/projects/{project.id}/comments", content_type="multipart/form-data",
                         data={"body": "夜间灯光效果如何？", "photos": files("参考.jpg")})
    assert response.headers["Location"] == f"/projects/{project.id}#comments"
    act(owner, project.id, "submit")
    owner.post(f"/projects/{project.id}/comments", content_type="multipart/form-data",
               data={"body": "附夜景照片", "photos": files("夜景1.jpg", "夜景2.jpg")})
    act(lead, project.id, "request_changes", "请降低亮度")

    comments = db.session.scalars(select(Comment).order_by(Comment.id)).all()
    assert [(c.author_id, len(c.photos)) for c in comments] == [(cast.lead.id, 1), (cast.owner.id, 2)]
    version = db.session.get(Project, project.id).versions[0]

    page = text_of(owner.get(f"/projects/{project.id}/timeline"))
    expected = [
        f"<strong>{cast.owner.name}</strong>", "started the proposal",
        f"<strong>{cast.owner.name}</strong>", "added a design version",
        *(f'src="{u}"' for u in photo_urls([*version.current_photos, *version.mockups])),
        f"<strong>{cast.lead.name}</strong>", "commented", "夜间灯光效果如何？", *photo_urls(comments[0].photos),
        f"<strong>{cast.owner.name}</strong>", "submitted the design for review → Submitted for review",
        f"<strong>{cast.owner.name}</strong>", "commented", "附夜景照片", *photo_urls(comments[1].photos),
        f"<strong>{cast.lead.name}</strong>", "asked for changes → Changes requested", "请降低亮度",
    ]
    assert_in_order(page, expected)
    assert page.count("<time datetime=") == 6

    recent = text_of(owner.get(f"/projects/{project.id}"))
    assert "附夜景照片" in recent and "请降低亮度" in recent and "started the proposal" not in recent  # the last five


def test_the_compare_page_shows_both_versions_specs_and_pictures(app, proposal, cast):
    project = proposal()
    owner = login_as(cast.owner)
    assert owner.get(f"/projects/{project.id}/compare").headers["Location"] == f"/projects/{project.id}"
    put_in_state(project, S.CHANGES_REQUESTED)
    add_version(project, by=cast.owner, width_m=Decimal("4.50"), height_m=Decimal("0.80"), materials="实木")
    add_version(project, by=cast.owner, width_m=Decimal("4.40"))
    v1, v2, v3 = db.session.get(Project, project.id).versions

    page = text_of(owner.get(f"/projects/{project.id}/compare?a=1&b=2"))
    assert "Version 1" in page and "Version 2" in page
    assert "5.00 × 0.90 m" in page and "4.50 × 0.80 m" in page and "实木" in page
    for url in photo_urls([*v1.mockups, *v1.current_photos, *v2.mockups, *v2.current_photos]):
        assert f'src="{url}"' in page
    assert "4.40" not in page

    page = text_of(owner.get(f"/projects/{project.id}/compare"))  # the newest two by default
    assert "4.50 × 0.80 m" in page and "4.40 × 0.90 m" in page and "5.00 × 0.90 m" not in page
    assert owner.get(f"/projects/{project.id}/compare?a=1&b=9").status_code == 404
    page = text_of(owner.get(f"/projects/{project.id}/versions/1"))
    assert "Design version 1" in page and "5.00 × 0.90 m" in page
    assert owner.get(f"/projects/{project.id}/versions/4").status_code == 404


# --- lists and the shop page --------------------------------------------------------------------------


def test_the_lists_show_owners_their_own_shops_projects_and_leads_their_alliances_by_state(
        app, world, proposal, cast):
    mine = proposal(title="我的店招")
    proposal(by=cast.neighbour, shop=world.a.other_shop, title="邻居的店招")
    proposal(by=cast.owner_elsewhere, shop=world.b.shop, title="别处的店招")

    page = text_of(login_as(cast.owner).get("/projects/mine"))
    assert f'href="/projects/{mine.id}">我的店招</a>' in page
    assert "邻居的店招" not in page and "别处的店招" not in page
    page = text_of(login_as(cast.neighbour).get("/projects/mine"))
    assert "邻居的店招" in page and "我的店招" not in page

    shop_page = text_of(login_as(cast.owner).get(f"/shops/{world.a.shop.id}"))
    assert f'href="/signboards/{mine.signboard_id}">正门上方 · Wall-parallel</a>' in shop_page
    assert f'href="/projects/{mine.id}">我的店招</a>' in shop_page
    assert f'href="/shops/{world.a.shop.id}/projects/new"' in shop_page
    assert "邻居的店招" not in shop_page
    treasurer_view = text_of(login_as(cast.treasurer).get(f"/shops/{world.a.shop.id}"))
    assert "我的店招" in treasurer_view and f'href="/shops/{world.a.shop.id}/projects/new"' not in treasurer_view

    states = [S.DRAFT, S.SUBMITTED, S.SUBMITTED, S.CHANGES_REQUESTED, S.REJECTED]
    for n, state in enumerate(states):
        put_in_state(proposal(title=f"项目{n}"), state)
        db.session.commit()
    proposal(by=cast.owner_elsewhere, shop=world.b.shop, title="别处的项目")
    url = f"/alliances/{world.a.alliance.id}/projects"

    for name in ("lead", "treasurer", "officer", "admin"):
        page = text_of(login_as(getattr(cast, name)).get(url))
        counts = dict(re.findall(r'data-state="(\w+)">[^<]*<span class="badge">(\d+)</span>', page))
        assert counts == {"draft": "3", "submitted": "2", "changes_requested": "1", "rejected": "1"}, name
        assert re.search(r'All <span class="badge">7</span>', page), name
        assert all(f"项目{n}" in page for n in range(5)) and "我的店招" in page and "邻居的店招" in page, name
        assert "别处" not in page, name

    page = text_of(login_as(cast.lead).get(f"{url}?state=submitted"))
    assert "项目1" in page and "项目2" in page
    assert not any(f"项目{n}" in page for n in (0, 3, 4)) and "我的店招" not in page
    assert 'aria-current="page" data-state="submitted"' in page
    page = text_of(login_as(cast.lead).get(f"{url}?state=nonsense"))
    assert all(f"项目{n}" in page for n in range(5))

    assert login_as(cast.owner).get(url).status_code == 403  # an owner sees their alliance, not its register
    for name in ("lead_next_door", "lead_elsewhere", "nobody"):
        response = login_as(getattr(cast, name)).get(url)
        assert response.status_code == 404, name
        assert "项目1" not in text_of(response)


# --- nobody else sees anything --------------------------------------------------------------------


def project_urls(project: Project, shop_id: int) -> list[tuple[str, str, dict]]:
    pid = project.id
    return [
        ("get", f"/projects/{pid}", {}),
        ("get", f"/projects/{pid}/versions/1", {}),
        ("get", f"/projects/{pid}/versions/new", {}),
        ("get", f"/projects/{pid}/compare?a=1&b=2", {}),
        ("get", f"/projects/{pid}/timeline", {}),
        ("get", f"/shops/{shop_id}/projects/new", {}),
        ("post", f"/projects/{pid}/actions", {"data": {"action": "withdraw"}}),
        ("post", f"/projects/{pid}/comments", {"data": {"body": "看看", "photos": files("x.jpg")},
                                              "content_type": "multipart/form-data"}),
        ("post", f"/projects/{pid}/versions/new", {"data": version_form(), "content_type": "multipart/form-data"}),
        ("post", f"/shops/{shop_id}/projects/new", {"data": {"signboard_id": project.signboard_id, "title": "x"}}),
    ]


def test_every_project_page_is_not_found_for_outsiders_and_sends_anonymous_visitors_to_log_in(
        app, world, proposal, cast):
    project = proposal(title="秘密的新店招", versions=2)
    in_request(app, services.add_comment, cast.lead, project, "内部意见", [])
    before = written(app)
    for name in ("neighbour", "contractor", "lead_next_door", "lead_elsewhere", "owner_elsewhere", "nobody"):
        client = login_as(getattr(cast, name))
        for method, url, kwargs in project_urls(project, world.a.shop.id):
            response = getattr(client, method)(url, **kwargs)
            assert response.status_code == 404, (name, method, url)
            page = text_of(response)
            assert "秘密的新店招" not in page and "内部意见" not in page and world.a.shop.name not in page

    anonymous = login_as(None)
    for method, url, kwargs in [*project_urls(project, world.a.shop.id), ("get", "/projects/mine", {}),
                                ("get", f"/alliances/{world.a.alliance.id}/projects", {})]:
        response = getattr(anonymous, method)(url, **kwargs)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login?next="), url
    assert written(app) == before


def test_a_projects_photos_are_served_to_the_people_who_see_it_and_to_nobody_else(app, proposal, cast):
    project = proposal()
    in_request(app, services.add_comment, cast.lead, project, "参考图", [upload(filename="参考.jpg")])
    photos = db.session.scalars(select(Photo).order_by(Photo.id)).all()
    assert len(photos) == 4  # the signboard's, the mock-up, the current photo, the comment's
    for name in ("owner", "co_owner", "lead", "treasurer", "officer", "admin"):
        client = login_as(getattr(cast, name))
        for photo in photos:
            for size in ("thumb", "display"):
                response = client.get(f"/photos/{photo.id}/{size}")
                assert (response.status_code, response.mimetype) == (200, "image/jpeg"), (name, photo, size)
                assert response.data[:3] == b"\xff\xd8\xff"
                response.close()
    for client in [login_as(None), *(login_as(getattr(cast, name)) for name in
                                     ("neighbour", "contractor", "lead_next_door", "lead_elsewhere", "nobody"))]:
        for photo in photos:
            assert client.get(f"/photos/{photo.id}/thumb").status_code == 404


# --- queries do not grow with the data ------------------------------------------------------------


def test_the_project_pages_and_lists_issue_as_many_queries_for_a_little_data_as_for_a_lot(app, world, proposal,
                                                                                          cast):
    project = proposal(versions=2)
    project_id = project.id
    in_request(app, services.add_comment, cast.owner, project, "第一条意见", [upload()])
    lead, owner = login_as(cast.lead), login_as(cast.owner)
    pages = [(lead, f"/projects/{project_id}"), (lead, f"/projects/{project_id}/timeline"),
             (lead, f"/projects/{project_id}/compare"), (lead, f"/projects/{project_id}/versions/1"),
             (lead, f"/alliances/{world.a.alliance.id}/projects"),
             (lead, f"/alliances/{world.a.alliance.id}/projects?state=submitted"),
             (owner, "/projects/mine"), (owner, f"/shops/{world.a.shop.id}")]

    def queries() -> dict[str, int]:
        counts = {}
        for client, url in pages:
            db.session.expire_all()  # the request loads everything itself, as in a fresh process
            with counted_queries() as statements:
                assert client.get(url).status_code == 200, url
            counts[url] = len(statements)
        return counts

    def review_round(n: int) -> None:
        services.move(cast.owner, project, "submit")
        services.add_comment(cast.lead, project, f"意见{n}", [upload(), upload()])
        services.move(cast.lead, project, "request_changes", Attempt(reason=f"第{n}轮"))
        add_version(project, by=cast.owner, width_m=Decimal("4.80") - n)

    # Measured twice in the same state (the rules a state asks differ), with little and with much behind it.
    with app.test_request_context("/"):
        review_round(0)
    db.session.commit()
    small = queries()
    with app.test_request_context("/"):
        for n in range(1, 4):
            review_round(n)
        for n, state in enumerate([S.SUBMITTED, S.SUBMITTED, S.DRAFT, S.REJECTED, S.CHANGES_REQUESTED]):
            put_in_state(proposal(title=f"又一个{n}", versions=0), state)
    db.session.commit()
    assert len(db.session.get(Project, project_id).versions) == 6
    assert queries() == small


def changes_asked(app, project, cast):
    """The owner submits the project and the lead asks for changes, saying "底边离地须3米以上"."""
    with app.test_request_context("/"):
        services.move(cast.owner, project, "submit")
        services.move(cast.lead, project, "request_changes", Attempt(reason="底边离地须3米以上"))
    db.session.commit()
    return project


def test_the_first_screen_says_where_the_project_stands_why_and_the_one_next_step(app, world, proposal, cast):
    """After "ask for changes" the owner's page opens with the state, the lead's reason and "add a new version"
    (not a submit the rules would refuse); the lead's page sends them to the design first, and the decision
    comes after it, each reason box named by its choice; someone with nothing to do reads who acts next."""
    project = changes_asked(app, proposal(versions=1), cast)
    url = f"/projects/{project.id}"

    page = text_of(login_as(cast.owner).get(url))
    standing = page[page.index('data-testid="standing"'):page.index("</section>", page.index('data-testid="standing"'))]
    assert "底边离地须3米以上" in standing
    assert f'href="/projects/{project.id}/versions/new" data-testid="next-step"' in standing
    assert 'data-action="submit"' not in page  # refused until a new version: the page says why instead
    assert "Upload a new version that answers the requested changes first." in page or "请先" in page
    assert page.count(f'href="/projects/{project.id}/versions/new"') == 1

    add_version(project, by=cast.owner, width_m=Decimal("3.60"))
    with app.test_request_context("/"):
        services.move(cast.owner, project, "submit")
    db.session.commit()
    page = text_of(login_as(cast.lead).get(url))
    assert 'href="#decision" data-testid="next-step"' in page
    assert page.index('data-testid="findings"') < page.index('id="decision"')  # the design before the decision
    labels = re.findall(r'<label for="reason-(\w+)">([^<]+)</label>', page)
    assert {action for action, _ in labels} == {"request_changes", "reject"}
    assert len({label for _, label in labels}) == 2  # two reason boxes, two names

    assert 'data-testid="waiting-for"' in text_of(login_as(cast.owner).get(url))
    assert "底边离地须3米以上" not in first_screen(login_as(cast.owner).get(url))  # no longer why it waits


def test_after_each_move_the_first_screen_offers_the_step_expected_of_each_person(app, world, proposal, cast):
    """The lead who asked for changes waits for the shop (though a lead may add a version for it); once the
    design is approved the shop is sent to the structural plan and the lead to the budget, each on the first
    screen, and a reason from an earlier round no longer stands as the why."""
    project = changes_asked(app, proposal(versions=1), cast)
    url = f"/projects/{project.id}"
    leads = first_screen(login_as(cast.lead).get(url))
    assert "next-step" not in leads and "Add a new version" in leads and 'data-testid="waiting-for"' in leads

    add_version(project, by=cast.owner, width_m=Decimal("3.60"))
    with app.test_request_context("/"):
        services.move(cast.owner, project, "submit")
        services.move(cast.lead, project, "approve_design")
    db.session.commit()
    shop = first_screen(login_as(cast.owner).get(url))
    assert f'href="/projects/{project.id}/permit/plan" data-testid="next-step"' in shop
    assert "底边离地须3米以上" not in shop
    assert f'href="/projects/{project.id}/budget" data-testid="next-step"' in first_screen(login_as(cast.lead).get(url))


def test_a_busy_signboard_is_refused_before_anything_is_typed_and_links_to_its_proposal(app, world, proposal, cast):
    """A sign with a proposal under way is not offered; the page names it and links to that proposal before the
    owner types a title. With every sign busy there is no form at all, only the way to record another sign; a
    forged post for the busy sign creates nothing."""
    first = proposal(title="第一块招牌的申请")
    owner = login_as(cast.owner)
    url = f"/shops/{first.shop_id}/projects/new"
    page = text_of(owner.get(url))
    assert 'data-testid="busy-signboards"' in page and f'href="/projects/{first.id}"' in page
    assert 'data-testid="no-free-signboard"' in page and 'name="title"' not in page
    assert f'class="button primary" href="/shops/{first.shop_id}/signboards/new?then=propose"' in page  # the way on
    response = owner.post(url, data={"signboard_id": first.signboard_id, "title": "再来一个", "description": ""})
    assert response.status_code == 200 and db.session.scalar(select(func.count(Project.id))) == 1

    other = proposal(title="另一块", versions=0)  # a second sign of the same shop, free again once withdrawn
    services.move(cast.owner, other, "withdraw")
    page = text_of(owner.get(f"{url}?signboard={other.signboard_id}"))
    assert f'<option selected value="{other.signboard_id}">' in page
    assert f'value="{first.signboard_id}"' not in page
    assert 'data-keep-draft="proposal-' in page  # what is typed survives stepping aside to record a sign


def test_the_first_version_uses_the_photo_the_sign_was_registered_with(app, world, proposal, cast):
    """The owner is not asked twice for the sign as it is now: version 1 without such a photo takes the ones the
    signboard was registered with, and can be submitted."""
    project = proposal(title="只上传设计稿", versions=0)
    registered = list(project.signboard.photos)
    assert registered
    page = text_of(login_as(cast.owner).get(f"/projects/{project.id}/versions/new"))
    assert 'data-testid="reuses-signboard-photos"' in page
    version = add_version(project, by=cast.owner, current=False)
    assert version.current_photos == registered
    services.move(cast.owner, project, "submit")
    assert state_of(project) == S.SUBMITTED
