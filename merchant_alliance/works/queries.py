"""The reads behind the works' pages: a fixed number of queries each, whatever the alliance's history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import selectinload

from merchant_alliance.extensions import db
from merchant_alliance.projects.models import DesignVersion, Project
from merchant_alliance.shops.models import Shop
from merchant_alliance.timeutil import local_today
from merchant_alliance.works.models import (
    ChangeOrder,
    Contractor,
    Milestone,
    MilestoneState,
    OrderPayment,
    OrderState,
    PaymentKind,
    PaymentState,
    PunchItem,
    PunchState,
    Quote,
    QuoteState,
    SiteLogEntry,
    WorkOrder,
)

BOARD_PAGE = 50


def load_order(order_id: int) -> WorkOrder | None:
    return db.session.scalar(select(WorkOrder).where(WorkOrder.id == order_id).options(
        selectinload(WorkOrder.milestones).selectinload(Milestone.photos),
        selectinload(WorkOrder.contractor).selectinload(Contractor.users),
        selectinload(WorkOrder.project).selectinload(Project.shop)))


def load_quote(quote_id: int) -> Quote | None:
    return db.session.scalar(select(Quote).where(Quote.id == quote_id).options(
        selectinload(Quote.contractor), selectinload(Quote.project).selectinload(Project.shop),
        selectinload(Quote.photos), selectinload(Quote.documents)))


def load_milestone(milestone_id: int) -> Milestone | None:
    return db.session.get(Milestone, milestone_id)


def load_punch(item_id: int) -> PunchItem | None:
    return db.session.get(PunchItem, item_id)


def load_change(change_id: int) -> ChangeOrder | None:
    return db.session.get(ChangeOrder, change_id)


def load_contractor(contractor_id: int) -> Contractor | None:
    return db.session.scalar(select(Contractor).where(Contractor.id == contractor_id)
                             .options(selectinload(Contractor.users)))


@dataclass(frozen=True)
class Brief:
    """What a contractor works from: the approved design (its mock-ups and the sign as it is) and the conditions the
    street office granted the permit with."""

    design: DesignVersion | None
    conditions: list[str]


def brief(project_id: int) -> Brief:
    from merchant_alliance.safety.models import Permit, PermitCondition

    design = db.session.scalar(select(DesignVersion).where(DesignVersion.project_id == project_id)
                               .options(selectinload(DesignVersion.mockups),
                                        selectinload(DesignVersion.current_photos))
                               .order_by(DesignVersion.number.desc()).limit(1))
    conditions = list(db.session.scalars(
        select(PermitCondition.text).join(Permit, Permit.id == PermitCondition.permit_id)
        .where(Permit.project_id == project_id).order_by(PermitCondition.position)))
    return Brief(design, conditions)


def order_of_project(project_id: int) -> WorkOrder | None:
    return db.session.scalar(select(WorkOrder).where(WorkOrder.project_id == project_id))


@dataclass(frozen=True)
class OrderRecords:
    log: list[SiteLogEntry]
    punch: list[PunchItem]
    changes: list[ChangeOrder]
    payments: list[OrderPayment]


def order_records(order: WorkOrder, log_limit: int = 30) -> OrderRecords:
    """The order's site log (newest first), punch list, change orders and payments."""
    log = list(db.session.scalars(select(SiteLogEntry).where(SiteLogEntry.order_id == order.id)
                                  .options(selectinload(SiteLogEntry.photos), selectinload(SiteLogEntry.created_by))
                                  .order_by(SiteLogEntry.day.desc(), SiteLogEntry.id.desc()).limit(log_limit)))
    punch = list(db.session.scalars(select(PunchItem).where(PunchItem.order_id == order.id)
                                    .options(selectinload(PunchItem.found_photos), selectinload(PunchItem.fixed_photos),
                                             selectinload(PunchItem.raised_by), selectinload(PunchItem.fixed_by),
                                             selectinload(PunchItem.verified_by), selectinload(PunchItem.closed_by))
                                    .order_by(PunchItem.number)))
    changes = list(db.session.scalars(select(ChangeOrder).where(ChangeOrder.order_id == order.id)
                                      .options(selectinload(ChangeOrder.proposed_by)).order_by(ChangeOrder.number)))
    payments = list(db.session.scalars(select(OrderPayment).where(OrderPayment.order_id == order.id)
                                       .order_by(OrderPayment.id)))
    return OrderRecords(log, punch, changes, payments)


# --- the lead's works board ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardRow:
    order_id: int
    project_id: int
    title: str
    shop: str
    contractor: str
    state: OrderState
    accepted: int
    milestones: int
    next_due: date | None
    late: int
    value_fen: int
    paid_fen: int
    retained_fen: int
    due_on: date

    @property
    def overdue(self) -> bool:
        return self.late > 0 or (self.state != OrderState.COMPLETED and self.due_on < local_today())


def board(alliance_id: int, state: OrderState | None = None, page: int = 1,
          *, contractor_id: int | None = None) -> tuple[list[BoardRow], bool]:
    """One page of the alliance's work orders (active first by default): progress, next due date, late milestones
    and the money position. One statement, paginated: the page's orders are chosen by their next open milestone
    (read from the open milestones only, ix_milestones_open_order, so the alliance's finished history costs nothing),
    then only those orders' milestones and payments are summed."""
    today = local_today()
    open_milestone = Milestone.state != MilestoneState.ACCEPTED
    next_due = (select(Milestone.order_id, func.min(Milestone.due_on).label("next_due"))
                .where(Milestone.alliance_id == alliance_id, open_milestone).group_by(Milestone.order_id).subquery())
    listed = (select(WorkOrder.id, next_due.c.next_due).outerjoin(next_due, next_due.c.order_id == WorkOrder.id)
              .where(WorkOrder.alliance_id == alliance_id,
                     WorkOrder.state == state if state is not None else WorkOrder.state != OrderState.COMPLETED))
    if contractor_id is not None:
        listed = listed.where(WorkOrder.contractor_id == contractor_id)
    chosen = (listed.order_by(next_due.c.next_due.is_(None), next_due.c.next_due, WorkOrder.id)
              .limit(BOARD_PAGE + 1).offset((page - 1) * BOARD_PAGE).cte("chosen"))
    on_page = select(chosen.c.id)
    steps = (select(Milestone.order_id,
                    func.count().label("total"),
                    func.sum(case((Milestone.state == MilestoneState.ACCEPTED, 1), else_=0)).label("accepted"),
                    func.sum(case((and_(open_milestone, Milestone.due_on < today), 1), else_=0)).label("late"))
             .where(Milestone.order_id.in_(on_page)).group_by(Milestone.order_id).subquery())
    paid = PaymentState.PAID
    money = (select(OrderPayment.order_id,
                    func.sum(case((OrderPayment.state == paid, OrderPayment.gross_fen - OrderPayment.retention_fen),
                                  else_=0)).label("paid"),
                    func.sum(case((and_(OrderPayment.state == paid, OrderPayment.kind == PaymentKind.MILESTONE),
                                   OrderPayment.retention_fen),
                                  (and_(OrderPayment.state != PaymentState.VOID,
                                        OrderPayment.kind == PaymentKind.RETENTION), -OrderPayment.gross_fen),
                                  else_=0)).label("retained"))
             .where(OrderPayment.order_id.in_(on_page)).group_by(OrderPayment.order_id).subquery())
    query = (select(WorkOrder.id, Project.id, Project.title, Shop.name, Contractor.name, WorkOrder.state,
                    func.coalesce(steps.c.accepted, 0), func.coalesce(steps.c.total, 0), chosen.c.next_due,
                    func.coalesce(steps.c.late, 0), WorkOrder.agreed_fen + WorkOrder.changes_fen,
                    func.coalesce(money.c.paid, 0), func.coalesce(money.c.retained, 0), WorkOrder.due_on)
             .select_from(chosen).join(WorkOrder, WorkOrder.id == chosen.c.id)
             .join(Project, Project.id == WorkOrder.project_id).join(Shop, Shop.id == Project.shop_id)
             .join(Contractor, Contractor.id == WorkOrder.contractor_id)
             .outerjoin(steps, steps.c.order_id == WorkOrder.id).outerjoin(money, money.c.order_id == WorkOrder.id))
    rows = db.session.execute(query.order_by(chosen.c.next_due.is_(None), chosen.c.next_due, WorkOrder.id)).all()
    return ([BoardRow(r[0], r[1], r[2], r[3], r[4], OrderState(r[5]), int(r[6]), int(r[7]), _day(r[8]), int(r[9]),
                      int(r[10]), int(r[11]), int(r[12]), r[13]) for r in rows[:BOARD_PAGE]],
            len(rows) > BOARD_PAGE)


def _day(value) -> date | None:
    """SQLite gives MIN over a CASE of dates as text."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# --- the contractor's home ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ContractorWork:
    invitations: list[Quote]
    orders: list[BoardRow]
    due_this_week: list[Milestone]
    punch_to_fix: list[PunchItem]


def contractor_work(contractor_ids: frozenset[int], limit: int = 20) -> ContractorWork:
    if not contractor_ids:
        return ContractorWork([], [], [], [])
    ids = sorted(contractor_ids)
    week = local_today() + timedelta(days=7)
    invitations = list(db.session.scalars(
        select(Quote).where(Quote.contractor_id.in_(ids), Quote.state == QuoteState.INVITED)
        .options(selectinload(Quote.project).selectinload(Project.shop)).order_by(Quote.invited_at).limit(limit)))
    due = list(db.session.scalars(
        select(Milestone).join(WorkOrder, WorkOrder.id == Milestone.order_id)
        .where(WorkOrder.contractor_id.in_(ids), Milestone.state.in_((MilestoneState.PENDING,
                                                                      MilestoneState.RETURNED)),
               Milestone.due_on <= week)
        .options(selectinload(Milestone.order).selectinload(WorkOrder.project))
        .order_by(Milestone.due_on, Milestone.id).limit(limit)))
    punch = list(db.session.scalars(
        select(PunchItem).join(WorkOrder, WorkOrder.id == PunchItem.order_id)
        .where(WorkOrder.contractor_id.in_(ids), PunchItem.state == PunchState.OPEN)
        .options(selectinload(PunchItem.order).selectinload(WorkOrder.project))
        .order_by(PunchItem.raised_at).limit(limit)))
    orders: list[BoardRow] = []
    for contractor_id, alliance_id in db.session.execute(
            select(Contractor.id, Contractor.alliance_id).where(Contractor.id.in_(ids)).order_by(Contractor.id)):
        orders.extend(board(alliance_id, contractor_id=contractor_id)[0])  # a person works for one or two
    return ContractorWork(invitations, orders[:limit], due, punch)
