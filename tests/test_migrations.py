"""The Alembic chain builds exactly the schema the models describe, on SQLite and PostgreSQL, with or without data."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import downgrade, upgrade
from sqlalchemy import column, create_engine, delete, func, insert, inspect, make_url, select, table, text, update
from sqlalchemy.exc import DBAPIError

from config import TestingConfig
from merchant_alliance import create_app
from merchant_alliance.accounts.models import Alliance, Street, User
from merchant_alliance.accounts.services import authenticate
from merchant_alliance.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, load_demo
from merchant_alliance.extensions import db
from merchant_alliance.funds.models import LedgerEntry
from merchant_alliance.shops.models import Shop

MIGRATIONS_SCHEMA = "merchant_migrations_test"

# Flask-Migrate's env.py tries Flask-SQLAlchemy 2's get_engine() first, then falls back to .engine.
pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")


@pytest.fixture
def keep_logging():
    """Alembic's env.py reconfigures logging (and disables every logger it does not name): undo that."""
    manager = logging.Logger.manager
    root = logging.getLogger()
    saved_root = (root.level, list(root.handlers))
    saved = {
        name: (logger.disabled, logger.level, list(logger.handlers), logger.propagate)
        for name, logger in manager.loggerDict.items() if isinstance(logger, logging.Logger)
    }
    yield
    root.setLevel(saved_root[0])
    root.handlers[:] = saved_root[1]
    for name, logger in manager.loggerDict.items():
        if not isinstance(logger, logging.Logger):
            continue
        if name in saved:
            logger.disabled, logger.level, handlers, logger.propagate = saved[name]
            logger.handlers[:] = handlers
        else:
            logger.disabled = False


@pytest.fixture
def empty_database(backend, tmp_path, request):
    """A database with nothing in it: a new SQLite file, or a PostgreSQL schema of these tests' own.

    The other PostgreSQL tests of this run use the `public` schema of the run's database; this schema
    is created empty for each test, reached through the connection's search_path, and dropped after.
    """
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    server = make_url(request.getfixturevalue("database_url"))
    admin = create_engine(server)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {MIGRATIONS_SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {MIGRATIONS_SCHEMA}"))
    try:
        url = server.update_query_dict({"options": f"-csearch_path={MIGRATIONS_SCHEMA}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {MIGRATIONS_SCHEMA} CASCADE"))
        admin.dispose()


@pytest.fixture
def migration_app(empty_database, keep_logging):
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=empty_database)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def schema_differences() -> list:
    """What `flask db check` would report: differences between the migrated database and the models."""
    configure_args = {"compare_type": True, **current_app.extensions["migrate"].configure_args}
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=configure_args)
        return compare_metadata(context, db.metadata)


def current_revision() -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def revisions_in_order() -> list[str]:
    """Every revision from the first to head (the chain must be linear: one head)."""
    config = current_app.extensions["migrate"].migrate.get_config()
    script = ScriptDirectory.from_config(config)
    assert len(script.get_heads()) == 1, "the migrations have more than one head; merge them"
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def app_tables() -> set[str]:
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_the_migrations_step_up_and_down_and_build_exactly_the_schema_of_the_models(migration_app):
    revisions = revisions_in_order()
    for revision in revisions:
        upgrade(revision=revision)
        assert current_revision() == revision
    assert schema_differences() == []

    for expected in [*reversed(revisions[:-1]), None]:
        downgrade(revision="-1")
        assert current_revision() == expected
    assert app_tables() == set()

    upgrade()  # from empty straight to head, as `flask db upgrade` on a new deployment
    assert current_revision() == revisions[-1]
    assert app_tables() == set(db.metadata.tables)
    assert schema_differences() == []


def test_upgrading_a_database_full_of_data_keeps_the_data(migration_app):
    upgrade()
    with migration_app.test_request_context("/"):
        load_demo()

    def data() -> dict:
        db.session.rollback()
        return {
            "streets": db.session.scalar(select(func.count(Street.id))),
            "alliances": db.session.scalar(select(func.count(Alliance.id))),
            "shops": db.session.execute(select(Shop.id, Shop.house_number, Shop.name, Shop.facade_width_m)
                                        .order_by(Shop.id)).all(),
            "users": db.session.execute(select(User.id, User.phone, User.password_hash).order_by(User.id)).all(),
            "ledger": db.session.execute(select(LedgerEntry.id, LedgerEntry.amount_fen, LedgerEntry.kind)
                                         .order_by(LedgerEntry.id)).all(),
        }

    before = data()
    assert len(before["shops"]) == 91
    assert len(before["ledger"]) > 300  # the demo's year of money

    upgrade()  # already at head: nothing to do
    assert data() == before

    # The newest migration, undone and redone under real data: the older tables keep every row.
    db.session.remove()
    downgrade(revision="-1")
    upgrade()
    assert data() == before
    assert schema_differences() == []
    # The rebuilt ledger table is still append-only in the database itself.
    with pytest.raises(DBAPIError):
        with db.engine.begin() as conn:
            conn.execute(update(LedgerEntry).values(amount_fen=1))
    with pytest.raises(DBAPIError):
        with db.engine.begin() as conn:
            conn.execute(delete(LedgerEntry))
    assert data() == before
    lead = DEMO_ACCOUNTS[1]
    assert authenticate(lead.phone, DEMO_PASSWORD) is not None


def test_roles_held_before_lead_confirmation_existed_stay_in_force_and_going_back_drops_pending_ones(
        migration_app):
    """0007 makes a lead appointed by another lead wait for the street office. Every role that existed before
    counts as confirmed; a downgrade drops appointments still waiting, rather than turn them into powers."""
    upgrade(revision="0006")
    created = datetime(2026, 3, 1, 8, 0)
    with db.engine.begin() as conn:
        street = conn.execute(text("INSERT INTO streets (name, district, created_at) "
                                   "VALUES ('静安寺街道', '静安区', :at) RETURNING id"), {"at": created}).scalar_one()
        alliance = conn.execute(text("INSERT INTO alliances (street_id, name, road, created_at) "
                                     "VALUES (:street, '愚园路商家联盟', '愚园路', :at) RETURNING id"),
                                {"street": street, "at": created}).scalar_one()
        for phone in ("13800000001", "13800000006"):
            user = conn.execute(text("INSERT INTO users (name, phone, password_hash, active, created_at) "
                                     "VALUES ('负责人', :phone, 'x', :active, :at) RETURNING id"),
                                {"phone": phone, "active": True, "at": created}).scalar_one()
            conn.execute(text("INSERT INTO memberships (user_id, role, alliance_id, created_at) "
                              "VALUES (:user, 'alliance_lead', :alliance, :at)"),
                         {"user": user, "alliance": alliance, "at": created})

    upgrade(revision="0007")
    with db.engine.connect() as conn:
        confirmed = conn.execute(text("SELECT confirmed_at FROM memberships")).scalars().all()
        assert [str(at)[:19] for at in confirmed] == [str(created)] * 2  # SQLite answers raw SQL with text
        conn.execute(text("INSERT INTO memberships (user_id, role, alliance_id, created_at) "
                          "VALUES (:user, 'alliance_lead', :alliance, :at)"),
                     {"user": user, "alliance": alliance, "at": created})
        conn.commit()

    downgrade(revision="0006")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM memberships")).scalar_one() == 2
    upgrade()
    assert schema_differences() == []


def old_alliance(street: Street):
    """An alliance as the tables were before 0016 (no renewal goal): its street saved with it; (id,) back."""
    from types import SimpleNamespace

    db.session.add(street)
    db.session.flush()
    alliances = table("alliances", column("id"), column("street_id"), column("name"), column("road"),
                      column("created_at"))
    alliance_id = db.session.execute(insert(alliances).values(
        street_id=street.id, name="愚园路商家联盟", road="愚园路", created_at=datetime(2026, 1, 1))
        .returning(alliances.c.id)).scalar_one()
    return SimpleNamespace(id=alliance_id)


def test_projects_past_design_approval_before_permits_existed_get_a_granted_permit_from_their_latest_design(
        migration_app):
    """0013: a project that had gone past design approval when permits arrived gets the permit it would have
    needed, granted, its plan copied from its latest design version; other projects get none and a permit already
    there is kept. Going back removes only the permits 0013 recorded."""
    from decimal import Decimal

    from merchant_alliance.projects.models import DesignVersion, Project, ProjectState
    from merchant_alliance.safety.models import Permit, PermitState
    from merchant_alliance.shops.models import Signboard, SignType

    upgrade(revision="0012")  # 0013 changes no table: the models describe 0012's schema, but for signs (0015)
    signboards_0012 = table("signboards", *(column(name, Signboard.__table__.c[name].type) for name in (
        "id", "shop_id", "position", "sign_type", "width_m", "height_m", "projection_m", "material", "illuminated",
        "condition", "created_at", "updated_at")))
    street = Street(name="静安寺街道", district="静安区")
    alliance = old_alliance(street)
    shop = Shop(alliance_id=alliance.id, house_number="1018", name="愚园书店")
    owner = User(name="店主", phone="13800000009", password_hash="x")
    db.session.add_all([shop, owner])
    db.session.flush()

    def project(state: ProjectState, *versions: tuple) -> Project:
        signboard_id = db.session.execute(insert(signboards_0012).values(
            shop_id=shop.id, position="正门上方", sign_type=SignType.WALL_PARALLEL.value, width_m=Decimal("5.00"),
            height_m=Decimal("1.00"), projection_m=Decimal("0"), material="", illuminated=False,
            condition="good", created_at=datetime(2026, 1, 5), updated_at=datetime(2026, 1, 5))
            .returning(signboards_0012.c.id)).scalar_one()
        made = Project(shop=shop, alliance_id=alliance.id, signboard_id=signboard_id, title=str(state), state=state,
                       created_by=owner)
        for number, (width, clearance, fixing, lighting) in enumerate(versions, start=1):
            made.versions.append(DesignVersion(
                number=number, sign_type=SignType.WALL_PARALLEL, width_m=width, height_m=Decimal("0.90"),
                clearance_m=clearance, fixing_method=fixing, illuminated=bool(lighting), lighting=lighting,
                created_by=owner))
        db.session.add(made)
        db.session.flush()
        return made

    funded = project(ProjectState.FUNDED, (Decimal("5.20"), Decimal("2.80"), "膨胀螺栓", ""),
                     (Decimal("4.80"), Decimal("3.00"), "M12化学锚栓", "LED灯带，穿管敷设"))
    completed = project(ProjectState.COMPLETED, (Decimal("3.00"), None, "", ""))
    approved = project(ProjectState.DESIGN_APPROVED, (Decimal("3.00"), Decimal("2.80"), "", ""))
    withdrawn = project(ProjectState.WITHDRAWN, (Decimal("3.00"), Decimal("2.80"), "", ""))
    contracted = project(ProjectState.CONTRACTED, (Decimal("3.00"), Decimal("2.80"), "", ""))
    db.session.add(Permit(project_id=contracted.id, alliance_id=alliance.id, street_id=street.id,
                          state=PermitState.GRANTED, fixing_method="已有", host_wall="圈梁", width_m=Decimal("3.00"),
                          height_m=Decimal("0.90"), projection_m=Decimal("0.30"), clearance_m=Decimal("2.80"),
                          top_height_m=Decimal("3.70"), weight_kg=Decimal("30.0"), submitted_by_id=owner.id))
    db.session.commit()
    ids = {name: p.id for name, p in [("funded", funded), ("completed", completed), ("approved", approved),
                                       ("withdrawn", withdrawn), ("contracted", contracted)]}
    owner_id, alliance_id, street_id = owner.id, alliance.id, street.id
    db.session.remove()

    def permits() -> dict[int, tuple]:
        db.session.rollback()
        return {p.project_id: (p.state, p.round, p.width_m, p.height_m, p.projection_m, p.clearance_m,
                               p.top_height_m, p.weight_kg, p.illuminated, p.wiring, p.fixing_method, p.host_wall,
                               p.submitted_by_id, p.reason, p.alliance_id, p.street_id, p.decided_at is not None)
                for p in db.session.scalars(select(Permit))}

    kept = permits()[ids["contracted"]]
    db.session.remove()
    upgrade(revision="0013")
    recorded = "recorded when permits were introduced"
    assert permits() == {
        ids["funded"]: (PermitState.GRANTED, 1, Decimal("4.80"), Decimal("0.90"), Decimal("0.00"), Decimal("3.00"),
                        Decimal("3.90"), Decimal("0.0"), True, "LED灯带，穿管敷设", "M12化学锚栓", "", owner_id,
                        recorded, alliance_id, street_id, True),
        ids["completed"]: (PermitState.GRANTED, 1, Decimal("3.00"), Decimal("0.90"), Decimal("0.00"),
                           Decimal("0.00"), Decimal("0.90"), Decimal("0.0"), False, "", "", "", owner_id, recorded,
                           alliance_id, street_id, True),
        ids["contracted"]: kept,
    }

    db.session.remove()
    downgrade(revision="0012")
    assert permits() == {ids["contracted"]: kept}
    db.session.remove()
    upgrade()
    assert set(permits()) == {ids["funded"], ids["completed"], ids["contracted"]}
    assert schema_differences() == []


def test_signs_get_their_place_schedule_and_removal_and_streets_their_intervals_from_what_was_recorded(
        migration_app):
    """0015: each existing sign takes its alliance and street from its shop, its last inspection (date and
    result) from its finished inspections, its next due date from its certificate in force, and a removed one its
    removal time; a street's intervals start from its certificate validity; of two inspections under way for one
    sign the older is cancelled (one under way per sign from now on)."""
    from datetime import date

    from merchant_alliance.safety.models import Certificate, ChecklistTemplate

    upgrade(revision="0014")
    street = Street(name="静安寺街道", district="静安区")
    alliance = old_alliance(street)
    shop = Shop(alliance_id=alliance.id, house_number="1018", name="愚园书店")
    officer = User(name="安全员", phone="13800000010", password_hash="x")
    db.session.add_all([shop, officer])
    db.session.flush()
    template = ChecklistTemplate(street_id=street.id, version=1)
    db.session.add(template)
    db.session.flush()
    when = datetime(2026, 3, 2, 9, 30)
    signboards = table("signboards", *(column(name) for name in (
        "id", "shop_id", "position", "sign_type", "width_m", "height_m", "projection_m", "material", "illuminated",
        "condition", "created_at", "updated_at")))
    for sign_id, condition in ((1, "good"), (2, "worn"), (3, "removed")):
        db.session.execute(insert(signboards).values(
            id=sign_id, shop_id=shop.id, position=f"牌{sign_id}", sign_type="wall_parallel", width_m=3, height_m=1,
            projection_m=0, material="", illuminated=False, condition=condition, created_at=when, updated_at=when))
    inspections = table("inspections", *(column(name) for name in (
        "id", "signboard_id", "shop_id", "alliance_id", "street_id", "template_id", "kind", "state", "sign_type",
        "illuminated", "exception_reason", "summary", "started_by_id", "started_at", "completed_at", "updated_at")))
    for inspection_id, sign_id, state, completed in (
            (1, 1, "failed", datetime(2026, 1, 10, 3)), (2, 1, "passed", datetime(2026, 2, 20, 3)),
            (3, 2, "open", None), (4, 2, "open", None)):
        db.session.execute(insert(inspections).values(
            id=inspection_id, signboard_id=sign_id, shop_id=shop.id, alliance_id=alliance.id, street_id=street.id,
            template_id=template.id, kind="periodic", state=state, sign_type="wall_parallel", illuminated=False,
            exception_reason="", summary="", started_by_id=officer.id, started_at=when, completed_at=completed,
            updated_at=when))
    db.session.add(Certificate(
        serial="JAS-2026-00001", token="t" * 32, signboard_id=1, shop_id=shop.id, alliance_id=alliance.id,
        street_id=street.id, inspection_id=2, inspector_id=officer.id, issued_on=date(2026, 2, 20),
        valid_until=date(2027, 2, 20), next_due_on=date(2027, 2, 20)))
    settings = table("safety_settings", *(column(name) for name in (
        "street_id", "code", "validity_days", "critical_days", "major_days", "minor_days", "updated_at")))
    db.session.execute(insert(settings).values(street_id=street.id, code="JAS", validity_days=500, critical_days=2,
                                               major_days=14, minor_days=30, updated_at=when))
    db.session.commit()
    ids = (alliance.id, street.id)
    db.session.remove()

    upgrade(revision="0015")
    with db.engine.connect() as conn:
        signs = conn.execute(text(
            "SELECT id, alliance_id, street_id, risk, last_inspected_on, last_passed, next_due_on, "
            "removed_at IS NOT NULL, open_reports FROM signboards ORDER BY id")).all()
        states = conn.execute(text("SELECT id, state FROM inspections ORDER BY id")).all()
        intervals = conn.execute(text(
            "SELECT high_risk_days, medium_risk_days, low_risk_days FROM safety_settings")).one()
    as_date = date.fromisoformat
    assert [(s[0], s[1], s[2], s[3], s[4] and as_date(str(s[4])), s[5] if s[5] is None else bool(s[5]),
             s[6] and as_date(str(s[6])), bool(s[7]), s[8]) for s in signs] == [
        (1, *ids, "medium", date(2026, 2, 20), True, date(2027, 2, 20), False, 0),
        (2, *ids, "medium", None, None, None, False, 0),
        (3, *ids, "medium", None, None, None, True, 0),
    ]
    assert states == [(1, "failed"), (2, "passed"), (3, "cancelled"), (4, "open")]
    assert tuple(intervals) == (500, 1000, 1500)
    upgrade()  # the revisions after 0015 (the alliance's renewal goal)
    assert schema_differences() == []


def test_alliances_already_recorded_have_no_renewal_goal_until_a_lead_sets_one(migration_app):
    """0016: an alliance recorded before keeps its name and road and has no goal yet (its lead's home asks for one);
    going back removes only the goal."""
    upgrade(revision="0015")
    old_alliance(Street(name="静安寺街道", district="静安区"))
    db.session.commit()
    upgrade(revision="0016")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT name, road, renewal_goal FROM alliances")).one() == (
            "愚园路商家联盟", "愚园路", None)
        conn.execute(text("UPDATE alliances SET renewal_goal = 40"))
        conn.commit()
    downgrade(revision="0015")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT name, road FROM alliances")).one() == ("愚园路商家联盟", "愚园路")
    assert "renewal_goal" not in {c["name"] for c in inspect(db.engine).get_columns("alliances")}
    upgrade()
    assert schema_differences() == []
