"""The open books: monthly statement, per-shop contributions, monthly flows and CSV exports.

Plain functions taking a fund id. Every figure is summed by the database, and each report is a fixed
number of queries however many entries the fund holds. Months are Shanghai calendar months, while the
database stores naive UTC: a payment at 2026-10-31 17:00 UTC is on 1 November in Shanghai.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select

from merchant_alliance.errors import DomainError
from merchant_alliance.extensions import db
from merchant_alliance.funds.models import EntryKind, Fund, LedgerEntry, LedgerMonth, PaymentMethod
from merchant_alliance.inputs import DATE_OUT_OF_RANGE
from merchant_alliance.projects.models import Project
from merchant_alliance.shops.models import Shop
from merchant_alliance.timeutil import FIRST_DAY, LAST_DAY, SHANGHAI, local_day_start_utc

BAD_MONTH = _l("Months are written like 2026-11 (year, then month from 01 to 12).")
_MONTH_RE = re.compile(r"(\d{4})-(\d{1,2})", re.ASCII)
# Spreadsheets run a cell that starts like a formula; a shop name must never be one.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# --- months ------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month in Shanghai, where the street keeps its books."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """"2026-11" → Month(2026, 11); anything else is a DomainError with a clear message."""
        match = _MONTH_RE.fullmatch((text or "").strip())
        if match is None:
            raise DomainError(BAD_MONTH)
        year, number = int(match.group(1)), int(match.group(2))
        if not 1 <= number <= 12:
            raise DomainError(BAD_MONTH)
        if not FIRST_DAY.year <= year <= LAST_DAY.year:
            raise DomainError(DATE_OUT_OF_RANGE, first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat())
        return cls(year, number)

    @classmethod
    def of(cls, moment: datetime) -> Month:
        """The Shanghai month of a naive UTC moment."""
        local = local_date(moment)
        return cls(local.year, local.month)

    @property
    def first_day(self) -> date:
        return date(self.year, self.number, 1)

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)

    def next(self) -> Month:
        return Month(self.year + self.number // 12, self.number % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.number == 1), (self.number - 2) % 12 + 1)

    def starts_utc(self) -> datetime:
        """Midnight of the 1st in Shanghai, as naive UTC (for WHERE occurred_on >= …)."""
        return local_day_start_utc(self.first_day)

    def ends_utc(self) -> datetime:
        """The first instant of the next month, as naive UTC (exclusive)."""
        return self.next().starts_utc()

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.number:02d}"


def local_date(moment: datetime) -> date:
    """The Shanghai calendar day of a naive UTC moment."""
    return moment.replace(tzinfo=UTC).astimezone(SHANGHAI).date()


def months_up_to(last: Month, count: int) -> list[Month]:
    """`count` consecutive months ending with `last`, oldest first."""
    months = [last]
    while len(months) < count:
        months.append(months[-1].previous())
    return months[::-1]


# --- the monthly statement ---------------------------------------------------------------------


@dataclass(frozen=True)
class StatementLine:
    id: int
    occurred_on: datetime  # naive UTC
    day: date  # the Shanghai calendar day
    kind: EntryKind
    method: PaymentMethod | None
    amount_fen: int
    balance_fen: int  # the fund's balance just after this entry
    shop_name: str | None
    house_number: str | None
    counterparty: str
    project_title: str | None
    purpose: str
    reference: str
    reverses_id: int | None

    @property
    def party(self) -> str:
        """Who paid or was paid: the shop when there is one, else the counterparty as named."""
        return self.shop_name or self.counterparty


@dataclass(frozen=True)
class Statement:
    month: Month
    opening_fen: int
    income_fen: int
    spending_fen: int
    lines: list[StatementLine]
    line_count: int  # the month's lines in all; `lines` is one page of them when paginated
    first_line: int = 1  # the number of lines[0] within the month

    @property
    def closing_fen(self) -> int:
        return self.opening_fen + self.income_fen - self.spending_fen


def monthly_statement(fund_id: int, month: Month, *, page: int | None = None, per_page: int = 100) -> Statement:
    """Opening balance, the month's entries oldest first with a running balance, and totals.

    Two queries for the whole month (the printable sheet and the CSV); three for one `page` of it,
    whose running balance still counts every earlier line of the month. Income and spending go by
    sign, as in `services.totals`: a reversal of a contribution counts as money out, so opening +
    income − spending is always the closing balance.
    """
    start, end = month.starts_utc(), month.ends_utc()
    amount, occurred = LedgerEntry.amount_fen, LedgerEntry.occurred_on
    in_month = and_(occurred >= start, occurred < end)
    this_month = LedgerMonth.month == month.first_day
    opening, income, spending, count = db.session.execute(  # from the monthly sums, not every earlier entry
        select(
            func.coalesce(func.sum(LedgerMonth.income_fen - LedgerMonth.spending_fen)
                          .filter(LedgerMonth.month < month.first_day), 0),
            func.coalesce(func.sum(LedgerMonth.income_fen).filter(this_month), 0),
            func.coalesce(func.sum(LedgerMonth.spending_fen).filter(this_month), 0),
            func.coalesce(func.sum(LedgerMonth.entries).filter(this_month), 0),
        ).where(LedgerMonth.fund_id == fund_id, LedgerMonth.month <= month.first_day)
    ).one()
    opening = int(opening)  # PostgreSQL sums bigints as numeric
    running = func.sum(amount).over(order_by=(occurred, LedgerEntry.id), rows=(None, 0))
    month_lines = (
        select(LedgerEntry.id, occurred, LedgerEntry.kind, LedgerEntry.method, amount, running.label("running"),
               LedgerEntry.shop_id, LedgerEntry.counterparty, LedgerEntry.project_id, LedgerEntry.purpose,
               LedgerEntry.reference, LedgerEntry.reverses_id)
        .where(LedgerEntry.fund_id == fund_id, in_month)
        .subquery()
    )
    query = (
        select(month_lines.c.id, month_lines.c.occurred_on, month_lines.c.kind, month_lines.c.method,
               month_lines.c.amount_fen, month_lines.c.running, Shop.name, Shop.house_number,
               month_lines.c.counterparty, Project.title, month_lines.c.purpose, month_lines.c.reference,
               month_lines.c.reverses_id)
        .outerjoin(Shop, month_lines.c.shop_id == Shop.id)
        .outerjoin(Project, month_lines.c.project_id == Project.id)
        .order_by(month_lines.c.occurred_on, month_lines.c.id)
    )
    first = 1
    if page is not None:
        first = (max(page, 1) - 1) * per_page + 1
        query = query.limit(per_page).offset(first - 1)
    lines = [
        StatementLine(id=r[0], occurred_on=r[1], day=local_date(r[1]), kind=EntryKind(r[2]),
                      method=PaymentMethod(r[3]) if r[3] else None, amount_fen=int(r[4]),
                      balance_fen=opening + int(r[5]), shop_name=r[6], house_number=r[7], counterparty=r[8],
                      project_title=r[9], purpose=r[10], reference=r[11], reverses_id=r[12])
        for r in db.session.execute(query)
    ]
    return Statement(month=month, opening_fen=opening, income_fen=int(income), spending_fen=int(spending),
                     lines=lines, line_count=int(count), first_line=first)


# --- per-shop contributions --------------------------------------------------------------------


@dataclass(frozen=True)
class ShopContribution:
    shop_id: int
    name: str
    house_number: str
    active: bool
    total_fen: int
    payments: int
    last_paid_on: datetime | None  # naive UTC


def shop_contributions(fund_id: int) -> list[ShopContribution]:
    """Every shop of the fund's alliance with what it has contributed, in one GROUP BY query.

    A contribution that was reversed is left out together with its reversal (which carries the same
    shop and the opposite amount): the total is the same as netting them, and the count and the last
    payment date then speak only of money that stayed in the fund. Shops that gave nothing show 0.
    The entries are summed per shop first and the shops joined to those sums, so the ledger is read
    once, not once per shop.
    """
    # The few reversed entries, looked up once (not per contribution): fast on SQLite and PostgreSQL alike.
    reversed_ids = select(LedgerEntry.reverses_id).where(LedgerEntry.fund_id == fund_id,
                                                         LedgerEntry.kind == EntryKind.REVERSAL)
    per_shop = (
        select(LedgerEntry.shop_id, func.sum(LedgerEntry.amount_fen).label("total"),
               func.count(LedgerEntry.id).label("payments"), func.max(LedgerEntry.occurred_on).label("last"))
        .where(LedgerEntry.fund_id == fund_id, LedgerEntry.kind == EntryKind.CONTRIBUTION,
               LedgerEntry.id.not_in(reversed_ids))
        .group_by(LedgerEntry.shop_id)
        .subquery()
    )
    alliance_id = select(Fund.alliance_id).where(Fund.id == fund_id).scalar_subquery()
    total = func.coalesce(per_shop.c.total, 0)
    rows = db.session.execute(
        select(Shop.id, Shop.name, Shop.house_number, Shop.active, total.label("total"),
               func.coalesce(per_shop.c.payments, 0), per_shop.c.last)
        .outerjoin(per_shop, per_shop.c.shop_id == Shop.id)
        .where(Shop.alliance_id == alliance_id)
        .order_by(total.desc(), Shop.house_number)
    ).all()
    return [ShopContribution(shop_id=r[0], name=r[1], house_number=r[2], active=r[3], total_fen=int(r[4]),
                             payments=int(r[5]), last_paid_on=r[6]) for r in rows]


# --- money in and out per month ----------------------------------------------------------------


@dataclass(frozen=True)
class MonthFlow:
    month: Month
    income_fen: int
    spending_fen: int


def monthly_flows(fund_id: int, months: Sequence[Month]) -> list[MonthFlow]:
    """Income and spending for each of `months` (consecutive, oldest first), from the monthly sums."""
    if not months:
        return []
    rows = db.session.execute(
        select(LedgerMonth.month, func.sum(LedgerMonth.income_fen), func.sum(LedgerMonth.spending_fen))
        .where(LedgerMonth.fund_id == fund_id, LedgerMonth.month >= months[0].first_day,
               LedgerMonth.month <= months[-1].first_day)
        .group_by(LedgerMonth.month)
    ).all()
    found = {month: (int(income), int(spending)) for month, income, spending in rows}
    return [MonthFlow(month, *found.get(month.first_day, (0, 0))) for month in months]


# --- spreadsheets ------------------------------------------------------------------------------


def plain_yuan(fen: int) -> str:
    """An amount as a spreadsheet reads it: 1234.50, -300.00 (no currency sign, no thousands separator)."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{yuan}.{cents:02d}"


def _text(value: object) -> str:
    """A text cell that a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def entry_labels() -> dict[EntryKind | PaymentMethod | None, str]:
    """Every kind's and method's label, translated once per report rather than once per row."""
    return {None: "", **{kind: kind.label for kind in EntryKind}, **{method: method.label for method in PaymentMethod}}


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[str]], rows_per_chunk: int = 1000) -> Iterator[str]:
    """A CSV that Excel opens correctly (UTF-8 with a byte-order mark, CRLF line ends), a piece at a time,
    so a download of the whole ledger is streamed rather than built in memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow(row)
        if count % rows_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_document(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """The whole CSV as one string (for reports small enough to hold, like a month's statement)."""
    return "".join(csv_chunks(header, rows))


def statement_csv(statement: Statement) -> str:
    """The statement as a spreadsheet: an opening row, one row per entry, a closing row."""
    header = [_("Date"), _("Entry no."), _("What"), _("Method"), _("From / to"), _("House number"),
              _("Project"), _("Note"), _("Reference"), _("Amount (yuan)"), _("Balance (yuan)")]
    labels = entry_labels()
    first = statement.month.first_day.isoformat()
    last = statement.month.last_day.isoformat()
    rows = [[first, "", _("Opening balance"), "", "", "", "", "", "", "", plain_yuan(statement.opening_fen)]]
    for line in statement.lines:
        note = line.purpose
        if line.reverses_id:
            note = _("Reverses entry %(number)s. %(note)s", number=line.reverses_id, note=note).strip()
        rows.append([
            line.day.isoformat(), str(line.id), labels[line.kind], labels[line.method],
            _text(line.party), _text(line.house_number),
            _text(line.project_title), _text(note), _text(line.reference), plain_yuan(line.amount_fen),
            plain_yuan(line.balance_fen),
        ])
    rows.append([last, "", _("Closing balance"), "", "", "", "", "", "", "", plain_yuan(statement.closing_fen)])
    return csv_document(header, rows)


def entries_csv(rows: Iterable, receipt_url: Callable[[int], str] | None = None) -> Iterator[str]:
    """Rows of `services.entry_rows` as a spreadsheet, newest first, in pieces to stream.

    Without `receipt_url` (someone who may not see receipts) there is no receipt column at all.
    """
    header = [_("Entry no."), _("Date"), _("What"), _("Method"), _("Amount (yuan)"), _("Shop"),
              _("House number"), _("Counterparty"), _("Project"), _("Note"), _("Reference"),
              _("Reverses entry"), _("Reversed")]
    if receipt_url is not None:
        header.append(_("Receipt"))
    labels, reversed_mark = entry_labels(), _("yes")

    def cells(row) -> list[str]:
        line = [
            str(row.id), local_date(row.occurred_on).isoformat(), labels[row.kind], labels[row.method],
            plain_yuan(row.amount_fen), _text(row.shop_name), _text(row.house_number), _text(row.counterparty),
            _text(row.project_title), _text(row.purpose), _text(row.reference), str(row.reverses_id or ""),
            reversed_mark if row.is_reversed else "",
        ]
        if receipt_url is not None:
            line.append(receipt_url(row.receipt_photo_id) if row.receipt_photo_id else "")
        return line

    return csv_chunks(header, (cells(row) for row in rows))
