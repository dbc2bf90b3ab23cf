"""The fund's pages: the open books for members, and recording money for the treasurer."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from babel.dates import format_skeleton
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from merchant_alliance import authz, i18n
from merchant_alliance.accounts.models import Alliance, Role
from merchant_alliance.errors import DomainError, form_refusal, refusals
from merchant_alliance.extensions import db
from merchant_alliance.funds import budgets, charts, queries, reports, services
from merchant_alliance.funds.forms import FundForm, ReversalForm
from merchant_alliance.funds.models import EntryKind, Fund, LedgerEntry
from merchant_alliance.inputs import date_arg, int_arg, page_arg
from merchant_alliance.pagecache import alliance_scope, lazy
from merchant_alliance.timeutil import local_day_start_utc, utcnow

bp = Blueprint("funds", __name__)
PAGE_SIZE = 50
STATEMENT_PAGE_SIZE = 100  # lines per screen; the printable sheet and the CSV have the whole month
CHART_MONTHS = 12
CHART_ROWS = 20  # projects drawn in the budget chart (the newest); the table lists them all
CSV_BATCH = 2000  # rows fetched at a time for a download, so a large fund is not read into memory at once


@bp.before_request
@login_required
def require_login() -> None:
    """Every page here is for logged-in users."""


def alliance_or_404(alliance_id: int, action: str) -> Alliance:
    alliance = db.get_or_404(Alliance, alliance_id)
    authz.require(current_user, action, alliance)
    return alliance


def require_on_books(alliance: Alliance, action: str) -> None:
    """For something in the alliance's books (an entry, a pledge, a request): 404 for whoever may not read the
    books, as if it did not exist; 403 for a reader who may not do `action`."""
    if not authz.can(current_user, "view_books", alliance):
        abort(404)
    authz.require(current_user, action, alliance)


# Pages that show or write one fund: `?fund=<id>` picks another fund of the alliance than the main one.
FUND_PAGES = {"funds.overview", "funds.entries", "funds.entries_csv", "funds.statement", "funds.statement_print",
              "funds.statement_csv", "funds.shop_contributions", "funds.record", "funds.expense_list",
              "funds.new_expense"}


def fund_for_request(alliance: Alliance) -> Fund:
    """The fund the page is about: `?fund=<id>` (one of this alliance's, or 404), else the main fund."""
    fund_id = int_arg("fund")
    if fund_id is None:
        return services.default_fund(alliance)
    fund = db.session.get(Fund, fund_id)
    if fund is None or fund.alliance_id != alliance.id:
        abort(404)
    if not fund.is_default:
        g.fund_id = fund.id
    return fund


@bp.url_defaults
def keep_the_fund(endpoint: str, values: dict) -> None:
    """Links from a page about another fund than the main one stay on that fund."""
    if endpoint in FUND_PAGES and "fund" not in values and g.get("fund_id"):
        values["fund"] = g.fund_id


def books(alliance_id: int, action: str = "view_books", *, main: bool = False) -> tuple[Alliance, Fund]:
    """The alliance and the fund asked for (`main`: always the main fund), for someone who may do `action`
    (404/403 otherwise); the main fund comes with its alliance in one query."""
    if not main and int_arg("fund") is not None:
        alliance = alliance_or_404(alliance_id, action)
        return alliance, fund_for_request(alliance)
    found = queries.alliance_and_main_fund(alliance_id)
    if found is None:
        abort(404)
    authz.require(current_user, action, found[0])
    return found


def _month_label(month: reports.Month) -> str:
    """“November 2026” / “2026年11月”, in the reader's language."""
    return format_skeleton("yMMMM", month.first_day, locale=get_locale())


def _month_from_request() -> reports.Month:
    """?month=2026-11, this Shanghai month when absent; a DomainError (a 400 page) when malformed."""
    text = request.args.get("month", "")
    return reports.Month.parse(text) if text else reports.Month.of(utcnow())


def _csv_download(content: str | Iterable[str], filename: str) -> Response:
    """A CSV file the browser saves rather than shows (the text already starts with its BOM); pieces of
    text are streamed as they are made."""
    body = content.encode("utf-8") if isinstance(content, str) else \
        stream_with_context(piece.encode("utf-8") for piece in content)
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/alliances/<int:alliance_id>/fund")
def overview(alliance_id: int):
    alliance, fund = books(alliance_id)
    # Built only when the page's body is (not when it comes from the page cache).
    flows = lazy(reports.monthly_flows, fund.id, reports.months_up_to(reports.Month.of(utcnow()), CHART_MONTHS))
    chart = lazy(lambda: charts.income_spending_chart([(str(f.month), f.income_fen, f.spending_fen) for f in flows],
                                                      title=_("Money in and out, month by month"),
                                                      chart_id="fund-flows"))
    return render_template(
        "funds/overview.html", alliance=alliance, fund=fund, total=lazy(services.totals, fund.id),
        month=lazy(lambda: flows[-1]), recent=lazy(queries.recent_entries, fund.id, 10), flows=flows, chart=chart,
        can_record=authz.can(current_user, "record_money", alliance),
        can_see_receipts=authz.can(current_user, "view_receipts", alliance),
        can_request=authz.can(current_user, "request_expense", alliance),
        can_edit_rules=authz.can(current_user, "edit_fund_rules", alliance),
        funds=lazy(services.funds_of, alliance), fund_form=lazy(FundForm),
        cache_scopes=[alliance_scope(alliance.id)],
    )


def _filters_from_request() -> services.EntryFilters:
    args = request.args
    kind = args.get("kind")
    since_day, until_day = date_arg("from"), date_arg("to")
    return services.EntryFilters(
        kind=EntryKind(kind) if kind in EntryKind.__members__.values() else None,
        shop_id=int_arg("shop"),
        project_id=int_arg("project"),
        since=local_day_start_utc(since_day) if since_day else None,
        until=local_day_start_utc(until_day + timedelta(days=1)) if until_day else None,
    )


@bp.route("/alliances/<int:alliance_id>/fund/entries")
def entries(alliance_id: int):
    alliance, fund = books(alliance_id)
    filters = _filters_from_request()
    page = page_arg()
    # Built only when the page's body is (not when it comes from the page cache).
    total = lazy(services.count_entries, fund.id, filters)
    return render_template(
        "funds/entries.html", alliance=alliance, rows=lazy(services.entry_page, fund.id, filters, page, PAGE_SIZE),
        filters=filters, shops=lazy(queries.shop_names, alliance.id),
        projects=lazy(queries.project_titles, alliance.id),
        kinds=list(EntryKind),
        page=page, pages=lazy(lambda: max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)), total=total,
        args={k: v for k, v in request.args.items() if k != "page"},
        can_record=authz.can(current_user, "record_money", alliance),
        can_see_receipts=authz.can(current_user, "view_receipts", alliance),
        reversal_form=lazy(ReversalForm),
        cache_scopes=[alliance_scope(alliance.id)],
    )


@bp.route("/alliances/<int:alliance_id>/fund/entries.csv")
def entries_csv(alliance_id: int):
    """The entry list as a spreadsheet, with the list's filters; receipt links only for those who may see them."""
    alliance, fund = books(alliance_id)
    rows = services.iter_entry_rows(fund.id, _filters_from_request(), batch=CSV_BATCH)
    receipt_url = None
    if authz.can(current_user, "view_receipts", alliance):
        def receipt_url(photo_id: int) -> str:
            return url_for("photos.photo", photo_id=photo_id, size="display", _external=True)
    pieces = reports.entries_csv(rows, receipt_url)
    today = reports.local_date(utcnow()).isoformat()
    return _csv_download(pieces, f"fund-entries-{alliance.id}-{today}.csv")


def _statement_page(alliance_id: int, template: str, *, paginated: bool) -> str:
    """A month's statement rendered with `template`: the page (a page of lines at a time) or the printable sheet."""
    alliance, fund = books(alliance_id)
    month = _month_from_request()
    page = page_arg() if paginated else None
    # Built only when the page's body is (not when it comes from the page cache).
    statement = lazy(reports.monthly_statement, fund.id, month, page=page, per_page=STATEMENT_PAGE_SIZE)
    # A busy month has thousands of lines but at most 31 days: format each day once, not each line.
    days = lazy(lambda: {day: i18n.format_date(day, "short") for day in {line.day for line in statement.lines}})
    return render_template(
        template, alliance=alliance, fund=fund, statement=statement, days=days, labels=reports.entry_labels(),
        month_label=_month_label(month), previous=month.previous(),
        next=month.next() if month < reports.Month.of(utcnow()) else None, generated_at=utcnow(),
        page=page, pages=lazy(lambda: max((statement.line_count + STATEMENT_PAGE_SIZE - 1) // STATEMENT_PAGE_SIZE, 1)),
        cache_scopes=[alliance_scope(alliance.id)] if paginated else None,  # the printed sheet says when it was made
    )


@bp.route("/alliances/<int:alliance_id>/fund/statement")
def statement(alliance_id: int):
    return _statement_page(alliance_id, "funds/statement.html", paginated=True)


@bp.route("/alliances/<int:alliance_id>/fund/statement/print")
def statement_print(alliance_id: int):
    return _statement_page(alliance_id, "funds/statement_print.html", paginated=False)


@bp.route("/alliances/<int:alliance_id>/fund/statement.csv")
def statement_csv(alliance_id: int):
    alliance, fund = books(alliance_id)
    month = _month_from_request()
    text = reports.statement_csv(reports.monthly_statement(fund.id, month))
    return _csv_download(text, f"fund-statement-{alliance.id}-{month}.csv")


@bp.route("/alliances/<int:alliance_id>/fund/shops")
def shop_contributions(alliance_id: int):
    alliance, fund = books(alliance_id)
    return render_template("funds/shops.html", alliance=alliance, fund=fund,
                           rows=lazy(reports.shop_contributions, fund.id), cache_scopes=[alliance_scope(alliance.id)])


@bp.route("/alliances/<int:alliance_id>/fund/projects")
def project_budgets(alliance_id: int):
    """Every budgeted project: budget, fund's share, paid so far and the variance, as a table and a chart."""
    alliance, fund = books(alliance_id)
    lines = budgets.budget_lines(fund.id)
    chart = charts.budget_actual_chart([(line.title, line.budget_fen, line.actual_fen) for line in lines[:CHART_ROWS]],
                                       title=_("Budget against actual"), chart_id="budget-actual")
    return render_template("funds/projects.html", alliance=alliance, fund=fund, lines=lines, chart=chart,
                           charted=min(len(lines), CHART_ROWS),
                           totals={name: sum(getattr(line, name) for line in lines)
                                   for name in ("budget_fen", "fund_fen", "actual_fen", "variance_fen")})


@bp.route("/fund/entries/<int:entry_id>/reverse", methods=["POST"])
def reverse(entry_id: int):
    entry = db.get_or_404(LedgerEntry, entry_id)
    alliance = entry.fund.alliance
    require_on_books(alliance, "record_money")
    form = ReversalForm()
    if form.validate_on_submit():
        with refusals() as attempt:
            services.reverse_entry(current_user, entry, form.reason.data,
                                   idempotency_key=form.idempotency_key.data)
        if attempt.ok:
            flash(_("The entry has been reversed."), "success")
    else:
        flash(form_refusal(form, _("Please give a reason for the reversal.")), "error")
    return redirect(url_for("funds.entries", alliance_id=alliance.id,
                            **({} if entry.fund.is_default else {"fund": entry.fund_id})))


@bp.route("/alliances/<int:alliance_id>/funds", methods=["POST"])
def new_fund(alliance_id: int):
    """A lead opens another fund (e.g. a reserve fund) beside the main one."""
    alliance = alliance_or_404(alliance_id, "edit_fund_rules")
    form = FundForm()
    with refusals() as attempt:
        if not form.validate_on_submit():
            raise DomainError(_("Give the fund a name of at most 100 characters."))
        fund = services.create_fund(current_user, alliance, form.name.data,
                                   idempotency_key=form.idempotency_key.data)
    if not attempt.ok:
        return redirect(url_for("funds.overview", alliance_id=alliance.id))
    flash(_("The fund “%(name)s” is open.", name=fund.name), "success")
    return redirect(url_for("funds.overview", alliance_id=alliance.id, fund=fund.id))


# --- cards on the home page (added by funds.init_app) ---------------------------------------------------


def _alliances_as(user, role: Role) -> list[int]:
    return sorted({m.alliance_id for m in user.memberships if m.role == role and m.alliance_id and not m.pending})


def owner_home_panel(user, _user) -> dict:
    """The shop owner's pledges due soon or overdue, and the alliance's books one tap away."""
    shop_ids = sorted({m.shop_id for m in user.memberships if m.role == Role.SHOP_OWNER and m.shop_id})
    return {"money": queries.owner_money(shop_ids)} if shop_ids else {}


def lead_home_panel(user, _user) -> dict:
    """Expense requests waiting for this lead's approval and budgets to set."""
    alliance_ids = _alliances_as(user, Role.ALLIANCE_LEAD)
    return {"money": queries.lead_money(user, alliance_ids)} if alliance_ids else {}


def treasurer_home_panel(user, _user) -> dict:
    """Approved requests to pay, overdue pledges and this month's income and spending."""
    alliance_ids = _alliances_as(user, Role.TREASURER)
    return {"money": queries.treasurer_money(alliance_ids)} if alliance_ids else {}
