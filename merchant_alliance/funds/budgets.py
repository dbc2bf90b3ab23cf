"""A project's budget and shares, and the `fund` step of the project lifecycle (added by `register_workflow_rows`).

The lead sets the budget once the design is approved and splits it (by the alliance's default rule,
or by amounts or percentages). The project becomes *funded* only when the shop's share is covered
(pledged or paid, as the alliance's rule says) and the fund's share can be reserved; reserved money
is not available for other spending until the project uses it or ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, case, func, select, update

from merchant_alliance import audit, authz
from merchant_alliance.accounts.models import User
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.funds import services
from merchant_alliance.funds.models import (
    Fund,
    LedgerEntry,
    Pledge,
    ProjectBudget,
    Reservation,
    ReservationReason,
    ShareCover,
)
from merchant_alliance.funds.shares import ShareRule, Shares, split_budget
from merchant_alliance.i18n import N_
from merchant_alliance.money import MAX_FEN, format_fen
from merchant_alliance.pagecache import scopes_of
from merchant_alliance.projects.lifecycle import Attempt, Step, Transition, lifecycle, may
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.timeutil import utcnow

S = ProjectState
NOT_BUDGET_TIME = _l("The budget is set after the design is approved and before the project is funded.")

AUDIT_LABELS = {
    "project.budget_set": _l("set the budget and shares"),
    "project.fund": _l("confirmed the funding"),
    "project.budget_raised": _l("raised the budget for a change to the works"),
    "fund.rules_changed": _l("changed the fund's rules"),
}
AUDIT_OBJECTS = {"projectbudget": _l("Project budget")}


def default_rule(fund: Fund) -> ShareRule:
    """The alliance's default split, e.g. "the fund pays 30%, at most ¥3,000"."""
    return ShareRule(fund_percent=Decimal(fund.fund_percent), fund_cap_fen=fund.fund_cap_fen)


def budget_of(project: Project) -> ProjectBudget | None:
    return db.session.get(ProjectBudget, project.id)


def set_budget(actor: User, project: Project, budget_fen: int, rule: ShareRule, *, subsidy_source: str = "",
               ) -> ProjectBudget:
    """Set (or change, before funding) the project's budget and its three shares."""
    if not authz.can(actor, "manage_budget", project):
        raise NotAllowed()
    if not lifecycle.allows(project, "set_budget"):
        raise DomainError(NOT_BUDGET_TIME)
    services.check_amount(budget_fen)
    shares = split_budget(budget_fen, rule)
    if shares.subsidy_fen and not subsidy_source.strip():
        raise DomainError(_l("Say who gives the subsidy, e.g. the street office.")).on("subsidy_source")
    # Checked again with the project's row held: a funding confirmed a moment ago (which reserved the
    # fund's share of the old budget) wins, and this change is refused; one confirmed after waits for it.
    lifecycle.hold(project, "set_budget", NOT_BUDGET_TIME)
    fund = services.default_fund(project.alliance)
    budget = budget_of(project) or ProjectBudget(project_id=project.id)
    budget.fund_id = fund.id
    budget.budget_fen, budget.shop_fen = shares.total_fen, shares.shop_fen
    budget.fund_fen, budget.subsidy_fen = shares.fund_fen, shares.subsidy_fen
    budget.subsidy_source = subsidy_source.strip()[:100] if shares.subsidy_fen else ""
    budget.set_by_id = actor.id
    db.session.add(budget)
    audit.record(actor, "project.budget_set", project, alliance_id=project.alliance_id,
                 street_id=project.alliance.street_id, budget_fen=shares.total_fen, shop_fen=shares.shop_fen,
                 fund_fen=shares.fund_fen, subsidy_fen=shares.subsidy_fen)
    db.session.commit()
    return budget


def raise_budget(actor: User, project: Project, extra: Shares, *, why: str) -> None:
    """The works cost more than agreed (an approved change order): the budget grows by the three extra shares
    together, and the fund's extra share is set aside now, refused when the fund cannot carry it. The caller
    commits, with the change that needs the money."""
    if not authz.can(actor, "manage_budget", project):
        raise NotAllowed()
    budget = budget_of(project)
    if budget is None:
        raise DomainError(_l("Set the budget and its shares first."))
    if min(extra.shop_fen, extra.fund_fen, extra.subsidy_fen) < 0:
        raise DomainError(_l("A share cannot be negative."))
    services.check_amount(extra.total_fen)
    fund = db.session.get(Fund, budget.fund_id)
    services.lock(fund)  # the fund's available money, checked and reserved by one writer at a time
    if extra.fund_fen > services.available_fen(fund.id):
        raise DomainError(_l("The fund has only %(available)s available; the fund's share is %(share)s.",
                             available=format_fen(services.available_fen(fund.id)),
                             share=format_fen(extra.fund_fen)))
    db.session.execute(
        update(ProjectBudget).where(ProjectBudget.project_id == project.id).values(
            budget_fen=ProjectBudget.budget_fen + extra.total_fen, shop_fen=ProjectBudget.shop_fen + extra.shop_fen,
            fund_fen=ProjectBudget.fund_fen + extra.fund_fen,
            subsidy_fen=ProjectBudget.subsidy_fen + extra.subsidy_fen, set_by_id=actor.id, set_at=utcnow())
        .execution_options(synchronize_session=False, cache_scopes=scopes_of(project)))
    db.session.expire(budget)
    if extra.fund_fen:
        db.session.add(Reservation(fund_id=fund.id, project_id=project.id, amount_fen=extra.fund_fen,
                                   reason=ReservationReason.RESERVE, created_by_id=actor.id))
    audit.record(actor, "project.budget_raised", project, alliance_id=project.alliance_id,
                 street_id=project.alliance.street_id, budget_fen=extra.total_fen, shop_fen=extra.shop_fen,
                 fund_fen=extra.fund_fen, subsidy_fen=extra.subsidy_fen, why=why[:200])


def update_rules(actor: User, fund: Fund, *, fund_percent: Decimal, fund_cap_fen: int | None,
                 two_approvals_above_fen: int, shop_share_cover: ShareCover) -> None:
    """Change the alliance's default split, approval threshold and funding rule."""
    if not authz.can(actor, "edit_fund_rules", fund.alliance):
        raise NotAllowed()
    if not (Decimal(0) <= fund_percent <= Decimal(100)):
        raise DomainError(_l("A percentage must be between 0 and 100.")).on("fund_percent")
    for amount, field in ((fund_cap_fen or 0, "fund_cap"), (two_approvals_above_fen, "two_approvals_above")):
        if not (0 <= amount <= MAX_FEN):
            raise DomainError(_l("The amount is larger than %(max)s.", max=format_fen(MAX_FEN))).on(field)
    fund.fund_percent, fund.fund_cap_fen = fund_percent, fund_cap_fen
    fund.two_approvals_above_fen, fund.shop_share_cover = two_approvals_above_fen, shop_share_cover
    audit.record(actor, "fund.rules_changed", fund, alliance_id=fund.alliance_id,
                 fund_percent=str(fund_percent), fund_cap_fen=fund_cap_fen,
                 two_approvals_above_fen=two_approvals_above_fen, shop_share_cover=str(shop_share_cover))
    db.session.commit()


# --- is the project's money in place? -----------------------------------------------------------


@dataclass(frozen=True)
class Cover:
    """How far a project's shares are covered right now."""

    budget: ProjectBudget | None
    shop_paid_fen: int  # the shop's contributions for this project, net of reversals and refunds
    shop_pledged_fen: int  # open pledges for this project, minus what has been paid on them
    reserved_fen: int  # the fund's share set aside and not yet spent
    spent_fen: int  # expenses paid for the project, net of reversals
    rule: ShareCover

    @property
    def shop_covered(self) -> bool:
        if self.budget is None:
            return False
        counted = self.shop_paid_fen + (self.shop_pledged_fen if self.rule == ShareCover.PLEDGED else 0)
        return counted >= self.budget.shop_fen

    @property
    def shop_missing_fen(self) -> int:
        if self.budget is None:
            return 0
        counted = self.shop_paid_fen + (self.shop_pledged_fen if self.rule == ShareCover.PLEDGED else 0)
        return max(self.budget.shop_fen - counted, 0)


@cache
def _cover_statement():
    """The four sums of `cover` in one statement, built once per process (the project page runs it)."""
    project_id, shop_id, fund_id = bindparam("project_id"), bindparam("shop_id"), bindparam("fund_id")

    def total(column, *where):
        return select(func.coalesce(func.sum(column), 0)).where(*where).scalar_subquery()

    left_to_pay = Pledge.amount_fen - Pledge.paid_fen
    spent = services.spent_by_project_query().where(LedgerEntry.project_id == project_id).subquery()
    return select(
        total(LedgerEntry.amount_fen, LedgerEntry.project_id == project_id, LedgerEntry.shop_id == shop_id),
        total(case((left_to_pay > 0, left_to_pay), else_=0), Pledge.project_id == project_id,
              Pledge.shop_id == shop_id, Pledge.cancelled_at.is_(None)),
        total(Reservation.amount_fen, Reservation.fund_id == fund_id, Reservation.project_id == project_id),
        select(func.coalesce(func.sum(spent.c.spent_fen), 0)).scalar_subquery(),
    )


def cover(project: Project, fund: Fund | None = None) -> Cover:
    """The project's budget and how much of it is covered: the budget, and the four sums in one query."""
    fund = fund or services.default_fund(project.alliance)
    shop_paid, outstanding, reserved, spent_fen = db.session.execute(
        _cover_statement(), {"project_id": project.id, "shop_id": project.shop_id, "fund_id": fund.id}).one()
    return Cover(budget=budget_of(project), shop_paid_fen=int(shop_paid), shop_pledged_fen=int(outstanding),
                 reserved_fen=int(reserved), spent_fen=int(spent_fen), rule=fund.shop_share_cover)


# --- the `fund` step, added to the projects' lifecycle table ------------------------------------

# DESIGN.md puts funding after the street office's structural permit (the safety domain's rows).
FUND_ROWS = (
    Transition(S.PERMIT_GRANTED, "fund", S.FUNDED, may("manage_budget"), _l("Confirm the funding")),
)
# A lead may prepare the budget while the street office looks at the structural plan.
BUDGET_STATES = (S.DESIGN_APPROVED, S.PERMIT_REQUESTED, S.PERMIT_DENIED, S.PERMIT_GRANTED)


def register_workflow_rows() -> None:
    """Add the `fund` step, its guard and hooks, and when a budget may be set, to the projects' lifecycle.
    Called by funds.init_app at start-up (projects never imports funds); calling it again changes nothing."""
    lifecycle.add(*FUND_ROWS)
    lifecycle.allow("set_budget", *BUDGET_STATES,  # between design approval and funding
                    step=Step(_l("Set the budget"), may("manage_budget"), "funds.budget",
                              needed=lambda project: budget_of(project) is None))
    lifecycle.add_guard(shares_are_covered, "fund")
    lifecycle.add_after(reserve_the_fund_share, "fund")
    lifecycle.add_after(tell_the_shop, "fund")
    lifecycle.add_after(release_what_is_left, "withdraw")


def shares_are_covered(project: Project, user: User, attempt: Attempt) -> LazyString | None:
    state = cover(project)
    if state.budget is None:
        return _l("Set the budget and its shares first.")
    if not state.shop_covered:
        if state.rule == ShareCover.PAID:
            return _l("The shop's share must be paid first: %(missing)s is still missing.",
                      missing=format_fen(state.shop_missing_fen))
        return _l("The shop's share must be paid or pledged first: %(missing)s is not yet covered.",
                  missing=format_fen(state.shop_missing_fen))
    fund = services.default_fund(project.alliance)
    if state.budget.fund_fen > services.available_fen(fund.id):
        return _l("The fund has only %(available)s available; the fund's share is %(share)s.",
                  available=format_fen(services.available_fen(fund.id)), share=format_fen(state.budget.fund_fen))
    return None


def reserve_the_fund_share(project: Project, user: User, transition: Transition, attempt: Attempt) -> None:
    """Set the fund's share aside, re-checking what is available with the fund locked."""
    fund = services.default_fund(project.alliance)
    services.lock(fund)
    # The guards read the budget before this transaction held anything; a budget changed since (set_budget
    # waits for the project's row, which the move holds now) is read afresh and checked again.
    budget = budget_of(project)
    db.session.refresh(budget)
    refusal = shares_are_covered(project, user, attempt)
    if refusal:
        raise DomainError(refusal)  # the engine rolls the move back
    if budget.fund_fen > services.available_fen(fund.id):
        raise DomainError(_l("The fund has only %(available)s available; the fund's share is %(share)s.",
                             available=format_fen(services.available_fen(fund.id)),
                             share=format_fen(budget.fund_fen)))
    if budget.fund_fen:
        db.session.add(Reservation(fund_id=fund.id, project_id=project.id, amount_fen=budget.fund_fen,
                                   reason=ReservationReason.RESERVE, created_by_id=user.id))


def release_what_is_left(project: Project, user: User, transition: Transition, attempt: Attempt) -> None:
    """A project that ends gives back what it had set aside and not spent."""
    fund = services.default_fund(project.alliance)
    left = services.reserved_fen(fund.id, project.id)
    if left > 0:
        db.session.add(Reservation(fund_id=fund.id, project_id=project.id, amount_fen=-left,
                                   reason=ReservationReason.RELEASE, created_by_id=user.id))


FUNDED_NOTICE = N_("The project “%(title)s” is funded: %(budget)s, of which the fund reserves %(share)s.")


def tell_the_shop(project: Project, user: User, transition: Transition, attempt: Attempt) -> None:
    from merchant_alliance.notifications.services import notify, page
    from merchant_alliance.projects.services import people_concerned

    budget = budget_of(project)
    notify(people_concerned(project) - {user.id}, FUNDED_NOTICE,
           page("projects.project", project_id=project.id), title=project.title,
           budget=format_fen(budget.budget_fen), share=format_fen(budget.fund_fen))


def shares_preview(fund: Fund, budget_fen: int) -> Shares:
    """What the default rule gives for this budget (for the form's hint)."""
    return split_budget(budget_fen, default_rule(fund))


# --- budget against actual, for the open books ---------------------------------------------------


@dataclass(frozen=True)
class BudgetLine:
    project_id: int
    title: str
    shop_name: str
    state: ProjectState
    budget_fen: int
    fund_fen: int
    actual_fen: int  # paid out for the project so far, net of reversals

    @property
    def variance_fen(self) -> int:
        """Budget minus actual: positive is still unspent, negative is over budget."""
        return self.budget_fen - self.actual_fen


def budget_lines(fund_id: int) -> list[BudgetLine]:
    """Every budgeted project of the fund with what has been paid for it: one query, whatever the size."""
    from merchant_alliance.shops.models import Shop

    spent = services.spent_by_project_query(fund_id).subquery()
    rows = db.session.execute(
        select(Project.id, Project.title, Shop.name, Project.state, ProjectBudget.budget_fen, ProjectBudget.fund_fen,
               func.coalesce(spent.c.spent_fen, 0))
        .join(Project, ProjectBudget.project_id == Project.id)
        .join(Shop, Project.shop_id == Shop.id)
        .outerjoin(spent, spent.c.project_id == Project.id)
        .where(ProjectBudget.fund_id == fund_id)
        .order_by(Project.updated_at.desc(), Project.id.desc())
    )
    return [BudgetLine(r[0], r[1], r[2], ProjectState(r[3]), int(r[4]), int(r[5]), int(r[6])) for r in rows]
