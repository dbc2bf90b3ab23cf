"""The works' pages: the contractors' register, quotes and their comparison, the work order with its milestones,
site log, punch list, change orders and payments, the lead's works board and the contractor's home."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from merchant_alliance import authz
from merchant_alliance.accounts.models import Alliance, Role
from merchant_alliance.errors import DomainError, form_refusal, refusals
from merchant_alliance.extensions import db
from merchant_alliance.funds.shares import Shares
from merchant_alliance.inputs import page_arg
from merchant_alliance.projects.lifecycle import lifecycle
from merchant_alliance.projects.models import Project
from merchant_alliance.timeutil import local_today
from merchant_alliance.works import contractors as register
from merchant_alliance.works import orders, payments, queries, quotes
from merchant_alliance.works.forms import (
    ApproveChangeForm,
    ChangeForm,
    ContractorForm,
    DoneForm,
    FixForm,
    InviteForm,
    LogForm,
    MilestonesForm,
    PaymentForm,
    PersonForm,
    PunchForm,
    QuoteForm,
    ReasonForm,
    SelectForm,
    SettingsForm,
)
from merchant_alliance.works.models import (
    Milestone,
    MilestoneState,
    OrderState,
    PaymentState,
    QuoteState,
    WorkOrder,
)
from merchant_alliance.works.permissions import contractor_ids, works_for

bp = Blueprint("works", __name__)


@bp.before_request
@login_required
def require_login() -> None:
    """Every page here is for logged-in users."""


def _valid(form) -> None:
    if not form.validate_on_submit():
        raise DomainError(form_refusal(form, _("Please check the form.")))


def _files(name: str) -> list:
    return request.files.getlist(name)


# --- cards on other pages ---------------------------------------------------------------------------


def project_panel(project: Project, user) -> dict:
    """The works' card on the project page (added by works.init_app): the quotes asked for, then the order with its
    progress and money. Nothing for whoever may not see them."""
    order = queries.order_of_project(project.id)
    if order is not None and not authz.can(user, "view", order):
        order = None
    can_invite = authz.can(user, "choose_contractor", project) and lifecycle.allows(project, "invite_quotes")
    asked = [q for q in quotes.quotes_of(project.id) if authz.can(user, "view", q)] if order is None else []
    if order is None and not asked and not can_invite:
        return {}
    return {"project": project, "order": order, "can_invite": can_invite, "quotes": asked,
            "position": payments.position(order) if order is not None else None}


def contractor_home_panel(user, _user) -> dict:
    """What waits for a contractor's person on their home page."""
    if not any(m.role == Role.CONTRACTOR for m in user.memberships):
        return {}
    return {"work": queries.contractor_work(contractor_ids(user)), "today": local_today()}


@bp.route("/my-work")
def my_work():
    if not any(m.role == Role.CONTRACTOR for m in current_user.memberships):
        abort(404)
    return render_template("works/my_work.html", work=queries.contractor_work(contractor_ids(current_user)),
                           today=local_today())


# --- the register -----------------------------------------------------------------------------------


@bp.route("/alliances/<int:alliance_id>/contractors", methods=["GET", "POST"])
def contractors(alliance_id: int):
    alliance = db.get_or_404(Alliance, alliance_id)
    authz.require(current_user, "view_contractors", alliance)
    can_manage = authz.can(current_user, "manage_contractors", alliance)
    form = ContractorForm(prefix="new")
    settings = register.settings_for(alliance.id)
    settings_form = SettingsForm(prefix="rules", obj=settings if request.method == "GET" else None)
    if request.method == "POST":
        authz.require(current_user, "manage_contractors", alliance)
        if form.validate_on_submit():
            with refusals(form) as attempt:
                contractor = register.add_contractor(current_user, alliance, form.values(),
                                                     idempotency_key=form.idempotency_key.data)
            if attempt.ok:
                flash(_("%(name)s is in the register.", name=contractor.name), "success")
                return redirect(url_for("works.contractor", contractor_id=contractor.id))
    return render_template("works/contractors.html", alliance=alliance, form=form, can_manage=can_manage,
                           contractors=register.contractors_of(alliance.id), settings=settings,
                           settings_form=settings_form, today=local_today())


@bp.route("/alliances/<int:alliance_id>/works/rules", methods=["POST"])
def works_rules(alliance_id: int):
    alliance = db.get_or_404(Alliance, alliance_id)
    authz.require(current_user, "manage_contractors", alliance)
    form = SettingsForm(prefix="rules")
    with refusals() as attempt:
        _valid(form)
        register.update_settings(current_user, alliance, retention_percent=form.retention_percent.data,
                                 warranty_days=form.warranty_days.data, accepted_by=form.accepted_by.data)
    if attempt.ok:
        flash(_("The rules for works are saved."), "success")
    return redirect(url_for("works.contractors", alliance_id=alliance.id))


def _contractor_or_404(contractor_id: int, action: str = "view"):
    contractor = queries.load_contractor(contractor_id)
    if contractor is None:
        abort(404)
    authz.require(current_user, action, contractor)
    return contractor


@bp.route("/contractors/<int:contractor_id>", methods=["GET", "POST"])
def contractor(contractor_id: int):
    contractor = _contractor_or_404(contractor_id)
    can_edit = authz.can(current_user, "edit", contractor)
    form = ContractorForm(obj=contractor if request.method == "GET" else None)
    if request.method == "GET":
        form.kinds.data = [k.value for k in contractor.kind_list]
    if request.method == "POST":
        authz.require(current_user, "edit", contractor)
        if form.validate_on_submit():
            with refusals(form) as attempt:
                register.update_contractor(current_user, contractor, form.values())
            if attempt.ok:
                flash(_("Saved."), "success")
                return redirect(url_for("works.contractor", contractor_id=contractor.id))
    person_form = PersonForm()
    accounts = register.contractor_accounts(contractor.alliance_id) if can_edit else []
    person_form.user_id.choices = [(u.id, f"{u.name} · {u.phone}") for u in accounts if u not in contractor.users]
    record = quotes.records([contractor.id])[contractor.id]
    return render_template("works/contractor.html", contractor=contractor, form=form, can_edit=can_edit,
                           person_form=person_form, record=record, today=local_today(),
                           orders=queries.board(contractor.alliance_id, contractor_id=contractor.id)[0])


@bp.route("/contractors/<int:contractor_id>/active", methods=["POST"])
def contractor_active(contractor_id: int):
    contractor = _contractor_or_404(contractor_id, "edit")
    active = request.form.get("active") == "1"
    register.set_active(current_user, contractor, active)
    flash(_("%(name)s is active again.", name=contractor.name) if active
          else _("%(name)s is deactivated: no new quotes or orders.", name=contractor.name), "success")
    return redirect(url_for("works.contractor", contractor_id=contractor.id))


@bp.route("/contractors/<int:contractor_id>/people", methods=["POST"])
def contractor_person(contractor_id: int):
    contractor = _contractor_or_404(contractor_id, "edit")
    form = PersonForm()
    with refusals() as attempt:
        _valid(form)
        if request.form.get("remove") == "1":
            register.remove_person(current_user, contractor, form.user_id.data)
        else:
            register.add_person(current_user, contractor, form.user_id.data)
    if attempt.ok:
        flash(_("Saved."), "success")
    return redirect(url_for("works.contractor", contractor_id=contractor.id))


# --- the works board --------------------------------------------------------------------------------


@bp.route("/alliances/<int:alliance_id>/works")
def board(alliance_id: int):
    alliance = db.get_or_404(Alliance, alliance_id)
    authz.require(current_user, "view_works", alliance)
    state_name = request.args.get("state", "")
    state = OrderState(state_name) if state_name in {s.value for s in OrderState} else None
    page = page_arg()
    rows, more = queries.board(alliance.id, state, page)
    return render_template("works/board.html", alliance=alliance, rows=rows, more=more, page=page, state=state,
                           states=list(OrderState), today=local_today())


# --- quotes -----------------------------------------------------------------------------------------


@bp.route("/projects/<int:project_id>/quotes", endpoint="quotes")
def quotes_page(project_id: int):
    project = db.get_or_404(Project, project_id)
    authz.require(current_user, "view", project)
    authz.require(current_user, "view_works", project)
    listed = [q for q in quotes.quotes_of(project.id) if authz.can(current_user, "view", q)]
    can_choose = authz.can(current_user, "choose_contractor", project)
    invite_form = InviteForm()
    if can_choose:
        asked = {q.contractor_id for q in listed}
        invite_form.contractor_ids.choices = [(c.id, c.name) for c in register.contractors_of(
            project.alliance_id, active_only=True) if c.id not in asked]
    return render_template(
        "works/quotes.html", project=project, quotes=listed, can_choose=can_choose,
        can_invite=can_choose and lifecycle.allows(project, "invite_quotes"), invite_form=invite_form,
        select_form=SelectForm(), records=quotes.records([q.contractor_id for q in listed]) if can_choose else {},
        can_select=can_choose and lifecycle.find(project.state, "contract") is not None,
        order=queries.order_of_project(project.id), today=local_today())


@bp.route("/projects/<int:project_id>/quotes/invite", methods=["POST"])
def invite(project_id: int):
    project = db.get_or_404(Project, project_id)
    authz.require(current_user, "choose_contractor", project)
    form = InviteForm()
    with refusals() as attempt:
        _valid(form)
        wanted = set(form.contractor_ids.data or [])
        chosen = [c for c in register.contractors_of(project.alliance_id) if c.id in wanted]
        made = quotes.invite(current_user, project, chosen, form.request_note.data or "")
    if attempt.ok:
        flash(_("%(n)s contractor(s) asked to quote.", n=len(made)), "success")
    return redirect(url_for("works.quotes", project_id=project.id))


def _quote_or_404(quote_id: int, action: str = "view"):
    quote = queries.load_quote(quote_id)
    if quote is None:
        abort(404)
    authz.require(current_user, action, quote)
    return quote


@bp.route("/quotes/<int:quote_id>", methods=["GET", "POST"])
def quote(quote_id: int):
    quote = _quote_or_404(quote_id)
    can_answer = authz.can(current_user, "answer", quote) and quotes.quotes.find(quote.state, "submit") is not None
    form = QuoteForm()
    if request.method == "GET" and quote.amount_fen is not None:
        form.amount.data, form.quote_scope.data = quote.amount_fen, quote.scope
        form.duration_days.data, form.valid_until.data = quote.duration_days, quote.valid_until
    if request.method == "POST":
        authz.require(current_user, "answer", quote)
        if form.validate_on_submit():
            with refusals(form) as attempt:
                quotes.submit(current_user, quote, quotes.Offer(form.amount.data, form.quote_scope.data or "",
                                                                form.duration_days.data, form.valid_until.data),
                              _files("photos"))
            if attempt.ok:
                flash(_("Your quote has been sent to the alliance."), "success")
                return redirect(url_for("works.quote", quote_id=quote.id))
    return render_template("works/quote.html", quote=quote, form=form, can_answer=can_answer,
                           can_compare=authz.can(current_user, "view_works", quote.project),
                           brief=queries.brief(quote.project_id),
                           can_decline=can_answer and quote.state == QuoteState.INVITED, reason_form=ReasonForm())


@bp.route("/quotes/<int:quote_id>/decline", methods=["POST"])
def decline(quote_id: int):
    quote = _quote_or_404(quote_id, "answer")
    form = ReasonForm()
    with refusals() as attempt:
        _valid(form)
        quotes.decline(current_user, quote, form.reason.data or "")
    if attempt.ok:
        flash(_("The alliance has been told you will not quote."), "success")
    return redirect(url_for("works.quote", quote_id=quote.id))


@bp.route("/quotes/<int:quote_id>/select", methods=["POST"])
def select(quote_id: int):
    quote = _quote_or_404(quote_id, "choose")
    form = SelectForm()
    with refusals() as attempt:
        _valid(form)
        order = quotes.select_quote(current_user, quote, form.reason.data or "", start_on=form.start_on.data)
    if attempt.ok:
        flash(_("%(name)s is chosen: the work order is made and the others have been told.",
                name=quote.contractor.name), "success")
        return redirect(url_for("works.order", work_order_id=order.id))
    return redirect(url_for("works.quotes", project_id=quote.project_id))


# --- the work order ---------------------------------------------------------------------------------


def _order_or_404(order_id: int, action: str = "view") -> WorkOrder:
    order = queries.load_order(order_id)
    if order is None:
        abort(404)
    authz.require(current_user, action, order)
    return order


def _next_step(order: WorkOrder, actions: dict[int, set[str]], payable: list[Milestone]) -> tuple[str, str] | None:
    """The first thing this user can do on the order, as (what, the anchor it is at): accept what waits for them;
    for the contractor's people the next step to mark done, for the alliance's staff the next payment to ask for."""
    for milestone in order.milestones:
        if "accept" in actions[milestone.id]:
            return _("Check and accept “%(name)s”", name=milestone.title), f"milestone-{milestone.id}"
    if works_for(current_user, order.contractor_id):
        for milestone in order.milestones:
            if "mark_done" in actions[milestone.id]:
                return _("Mark “%(name)s” done, with photos", name=milestone.title), f"milestone-{milestone.id}"
    if payable:
        return _("Ask for the payment of “%(name)s”", name=payable[0].title), f"milestone-{payable[0].id}"
    return None


@bp.route("/orders/<int:work_order_id>")
def order(work_order_id: int):
    order = _order_or_404(work_order_id)
    user = current_user
    records = queries.order_records(order)
    live = [p for p in records.payments if p.state != PaymentState.VOID]
    position = payments.position(order, live)
    values = payments.milestone_values(order, live)
    asked = {p.milestone_id for p in live}
    actions = {m.id: {t.action for t in orders.milestones.actions_for(user, m)} for m in order.milestones}
    can_pay = authz.can(user, "pay", order)
    payable = [m for m in order.milestones if can_pay and m.state == MilestoneState.ACCEPTED and m.id not in asked]
    punch_actions = {i.id: {t.action for t in orders.punch_items.actions_for(user, i)} for i in records.punch}
    change_actions = {c.id: {t.action for t in orders.changes.actions_for(user, c)} for c in records.changes}
    can_manage = authz.can(user, "manage", order)
    release_refusal = payments.release_refusal(order) if can_pay and position.retained_fen > 0 else None
    return render_template(
        "works/order.html", order=order, project=order.project, position=position, values=values, records=records,
        brief=queries.brief(order.project_id), can_view_project=authz.can(user, "view", order.project),
        actions=actions, payable={m.id for m in payable}, punch_actions=punch_actions, change_actions=change_actions,
        can_work=authz.can(user, "work", order) and orders.work_orders.allows(order, "log"),
        can_punch=authz.can(user, "raise_punch", order),
        can_change=authz.can(user, "propose_change", order) and orders.work_orders.allows(order, "change"),
        can_manage=can_manage, can_pay=can_pay, release_refusal=release_refusal,
        can_release=can_pay and position.retained_fen > 0 and release_refusal is None,
        warranty_ends=payments.warranty_ends(order), next_step=_next_step(order, actions, payable),
        done_form=DoneForm(), payment_form=PaymentForm(), reason_form=ReasonForm(), punch_form=PunchForm(),
        fix_form=FixForm(), change_form=ChangeForm(), approve_form=ApproveChangeForm(), today=local_today(),
        payment_of={p.milestone_id: p for p in live if p.milestone_id is not None},
        releases=[p for p in live if p.milestone_id is None],
    )


def _milestone_or_404(milestone_id: int) -> Milestone:
    milestone = queries.load_milestone(milestone_id)
    if milestone is None:
        abort(404)
    authz.require(current_user, "view", milestone)
    return milestone


def _back(order_id: int, anchor: str = ""):
    return redirect(url_for("works.order", work_order_id=order_id, _anchor=anchor or None))


@bp.route("/milestones/<int:milestone_id>/done", methods=["POST"])
def mark_done(milestone_id: int):
    milestone = _milestone_or_404(milestone_id)
    form = DoneForm()
    with refusals() as attempt:
        _valid(form)
        orders.mark_done(current_user, milestone, form.done_note.data or "", _files("photos"))
    if attempt.ok:
        flash(_("“%(name)s” is marked done; the alliance has been asked to accept it.", name=milestone.title),
              "success")
    return _back(milestone.order_id, f"milestone-{milestone.id}")


@bp.route("/milestones/<int:milestone_id>/accept", methods=["POST"])
def accept(milestone_id: int):
    milestone = _milestone_or_404(milestone_id)
    with refusals() as attempt:
        _valid(ReasonForm())
        orders.accept(current_user, milestone)
    if attempt.ok:
        flash(_("“%(name)s” is accepted.", name=milestone.title), "success")
    return _back(milestone.order_id, f"milestone-{milestone.id}")


@bp.route("/milestones/<int:milestone_id>/send-back", methods=["POST"])
def send_back(milestone_id: int):
    milestone = _milestone_or_404(milestone_id)
    form = ReasonForm()
    with refusals() as attempt:
        _valid(form)
        orders.send_back(current_user, milestone, form.reason.data or "")
    if attempt.ok:
        flash(_("“%(name)s” was sent back; the contractor has been told why.", name=milestone.title), "success")
    return _back(milestone.order_id, f"milestone-{milestone.id}")


@bp.route("/milestones/<int:milestone_id>/pay", methods=["POST"])
def pay(milestone_id: int):
    milestone = _milestone_or_404(milestone_id)
    form = PaymentForm()
    with refusals() as attempt:
        _valid(form)
        payment = payments.request_milestone_payment(current_user, milestone, _files("receipts"),
                                                     idempotency_key=form.idempotency_key.data,
                                                     payee_account=form.payee_account.data or "")
    if attempt.ok:
        flash(_("The payment has been asked for: the leads approve it, then the treasurer pays."), "success")
        return redirect(url_for("funds.expense", request_id=payment.expense_request_id))
    return _back(milestone.order_id, f"milestone-{milestone.id}")


@bp.route("/orders/<int:work_order_id>/retention", methods=["POST"])
def release(work_order_id: int):
    order = _order_or_404(work_order_id, "pay")
    form = PaymentForm()
    with refusals() as attempt:
        _valid(form)
        payment = payments.request_retention_release(current_user, order, _files("receipts"),
                                                     idempotency_key=form.idempotency_key.data,
                                                     payee_account=form.payee_account.data or "")
    if attempt.ok:
        flash(_("The release of the retention has been asked for."), "success")
        return redirect(url_for("funds.expense", request_id=payment.expense_request_id))
    return _back(order.id, "money")


@bp.route("/orders/<int:work_order_id>/milestones", methods=["GET", "POST"])
def edit_milestones(work_order_id: int):
    order = _order_or_404(work_order_id, "manage")
    form = MilestonesForm()
    if request.method == "GET":
        for milestone in order.milestones:
            form.rows.append_entry({"id": milestone.id, "name": milestone.title, "due_on": milestone.due_on,
                                    "share_percent": milestone.share_percent,
                                    "photos_needed": milestone.photos_needed})
    elif form.validate_on_submit():
        rows = [{"id": r.data["id"] or 0, "name": r.data["name"], "due_on": r.data["due_on"],
                 "share_percent": r.data["share_percent"], "photos_needed": r.data["photos_needed"]}
                for r in form.rows]
        with refusals() as attempt:
            orders.edit_milestones(current_user, order, rows)
        if attempt.ok:
            flash(_("The milestones are saved."), "success")
            return _back(order.id, "milestones")
    return render_template("works/milestones.html", order=order, form=form)


@bp.route("/orders/<int:work_order_id>/log", methods=["GET", "POST"])
def log(work_order_id: int):
    order = _order_or_404(work_order_id, "work")
    form = LogForm()
    if request.method == "GET":
        form.day.data = local_today()
    if form.validate_on_submit():
        with refusals(form) as attempt:
            orders.add_log_entry(current_user, order, day=form.day.data, work_done=form.work_done.data or "",
                                 crew_size=form.crew_size.data, weather=form.weather.data or "",
                                 problems=form.problems.data or "", photos=_files("photos"),
                                 idempotency_key=form.idempotency_key.data)
        if attempt.ok:
            flash(_("The day is in the site log."), "success")
            return _back(order.id, "site-log")
    return render_template("works/log_form.html", order=order, form=form)


@bp.route("/orders/<int:work_order_id>/punch", methods=["POST"])
def raise_punch(work_order_id: int):
    order = _order_or_404(work_order_id, "raise_punch")
    form = PunchForm()
    with refusals() as attempt:
        _valid(form)
        item = orders.raise_punch(current_user, order, form.description.data or "", _files("photos"),
                                  idempotency_key=form.idempotency_key.data)
    if attempt.ok:
        flash(_("Punch item #%(n)s is on the list; the contractor has been told.", n=item.number), "success")
    return _back(order.id, "punch")


@bp.route("/punch/<int:punch_id>/<any(fix, verify, reopen, close):punch_step>", methods=["POST"])
def punch(punch_id: int, punch_step: str):
    action = punch_step
    item = queries.load_punch(punch_id)
    if item is None:
        abort(404)
    authz.require(current_user, "view", item)
    with refusals() as attempt:
        if action == "fix":
            form = FixForm()
            _valid(form)
            orders.fix_punch(current_user, item, form.fix_note.data or "", _files("photos"))
        else:
            form = ReasonForm()
            _valid(form)
            orders.decide_punch(current_user, item, action, form.reason.data or "")
    if attempt.ok:
        flash(_("Punch item #%(n)s: %(state)s.", n=item.number, state=item.state.label), "success")
    return _back(item.order_id, f"punch-{item.id}")


@bp.route("/orders/<int:work_order_id>/changes", methods=["POST"])
def propose_change(work_order_id: int):
    order = _order_or_404(work_order_id, "propose_change")
    form = ChangeForm()
    with refusals() as attempt:
        _valid(form)
        change = orders.propose_change(current_user, order, form.amount.data, form.change_scope.data or "",
                                       idempotency_key=form.idempotency_key.data)
    if attempt.ok:
        flash(_("Change order #%(n)s waits for a lead's approval.", n=change.number), "success")
    return _back(order.id, "changes")


@bp.route("/changes/<int:change_id>/<any(approve, reject, withdraw):change_step>", methods=["POST"])
def change(change_id: int, change_step: str):
    action = change_step
    change = queries.load_change(change_id)
    if change is None:
        abort(404)
    authz.require(current_user, "view", change)
    with refusals() as attempt:
        if action == "approve":
            form = ApproveChangeForm()
            _valid(form)
            extra = Shares(form.shop_share.data or 0, form.fund_share.data or 0, form.subsidy_share.data or 0)
            orders.approve_change(current_user, change, extra if extra.total_fen else None, form.reason.data or "")
        else:
            form = ReasonForm()
            _valid(form)
            orders.decide_change(current_user, change, action, form.reason.data or "")
    if attempt.ok:
        flash(_("Change order #%(n)s: %(state)s.", n=change.number, state=change.state.label), "success")
    return _back(change.order_id, f"change-{change.id}")
