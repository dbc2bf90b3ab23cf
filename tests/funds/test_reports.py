"""The open books: a month's statement in Shanghai time, contributions by shop, the monthly chart and the
spreadsheets members download. Every report costs the same few queries however big the fund grows."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime

import pytest
from werkzeug.datastructures import FileStorage

from merchant_alliance.errors import DomainError
from merchant_alliance.extensions import db
from merchant_alliance.funds import reports, services
from merchant_alliance.funds.models import EntryKind, PaymentMethod
from merchant_alliance.timeutil import utcnow
from tests.factories import ShopFactory
from tests.fixtures.funds import entry
from tests.funds.test_views import receipt_jpeg
from tests.helpers import counted_queries, login_as

BOM = b"\xef\xbb\xbf"


def key() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def english(client):
    """Pages and spreadsheets in English, whatever the catalogue holds."""
    client.set_cookie("lang", "en")
    return client


def record(world, fund, kind: EntryKind, fen: int, at: datetime | None = None, **details):
    if kind == EntryKind.CONTRIBUTION:
        details.setdefault("shop", world.a.shop)
    return entry(fund, kind, fen, by=world.a.treasurer, occurred_on=at, **details)


@pytest.fixture
def autumn(world, fund, monkeypatch):
    """Five entries around the end of October 2026. Shanghai is UTC+8, so 31 October 17:00 UTC is already
    1 November there, and 30 November 16:00 UTC is midnight starting 1 December. (An entry may not be dated
    after today, so the ledger's today is 1 December 2026 at the earliest here.)"""
    real_today = services.local_today
    monkeypatch.setattr(services, "local_today", lambda: max(real_today(), date(2026, 12, 1)))
    return {
        "oct_contribution": record(world, fund, EntryKind.CONTRIBUTION, 1000_00, datetime(2026, 10, 15, 4, 0)),
        "oct_subsidy": record(world, fund, EntryKind.SUBSIDY, 500_00, datetime(2026, 10, 31, 15, 59),
                              counterparty="静安寺街道办"),
        "nov_contribution": record(world, fund, EntryKind.CONTRIBUTION, 234_50, datetime(2026, 10, 31, 17, 0),
                                   purpose="十一月出资"),
        "nov_expense": record(world, fund, EntryKind.EXPENSE, 300_00, datetime(2026, 11, 20, 2, 0),
                              counterparty="施工队", purpose="脚手架"),
        "dec_donation": record(world, fund, EntryKind.DONATION, 100_00, datetime(2026, 11, 30, 16, 0),
                               counterparty="赞助商"),
    }


def parse_csv(response) -> list[list[str]]:
    body = response.get_data()
    assert body.startswith(BOM)
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


# --- months ------------------------------------------------------------------------------------


def test_months_are_parsed_strictly_and_step_across_years():
    assert reports.Month.parse("2026-11") == reports.Month(2026, 11)
    assert str(reports.Month.parse(" 2026-1 ")) == "2026-01"
    for bad in ("2026-13", "2026-00", "abc", "", "2026-11-01", "26-11", "２０２６-11", "0001-01"):
        with pytest.raises(DomainError):
            reports.Month.parse(bad)
    assert reports.Month(2026, 12).next() == reports.Month(2027, 1)
    assert reports.Month(2027, 1).previous() == reports.Month(2026, 12)
    assert reports.Month(2026, 2).last_day.day == 28


def test_a_month_starts_at_shanghai_midnight():
    november = reports.Month(2026, 11)
    assert november.starts_utc() == datetime(2026, 10, 31, 16, 0)
    assert november.ends_utc() == datetime(2026, 11, 30, 16, 0)
    assert reports.Month.of(datetime(2026, 10, 31, 17, 0)) == november
    assert reports.Month.of(datetime(2026, 10, 31, 15, 59)) == reports.Month(2026, 10)
    assert [str(m) for m in reports.months_up_to(reports.Month(2026, 2), 3)] == ["2025-12", "2026-01", "2026-02"]


# --- the monthly statement ---------------------------------------------------------------------


def test_the_statement_follows_shanghai_months_with_a_running_balance(world, fund, autumn):
    october = reports.monthly_statement(fund.id, reports.Month(2026, 10))
    assert (october.opening_fen, october.income_fen, october.spending_fen, october.closing_fen) == \
        (0, 1500_00, 0, 1500_00)
    assert [line.id for line in october.lines] == [autumn["oct_contribution"].id, autumn["oct_subsidy"].id]

    november = reports.monthly_statement(fund.id, reports.Month(2026, 11))
    assert november.opening_fen == 1500_00
    assert [(line.id, line.amount_fen, line.balance_fen) for line in november.lines] == [
        (autumn["nov_contribution"].id, 234_50, 1734_50),
        (autumn["nov_expense"].id, -300_00, 1434_50),
    ]
    assert (november.income_fen, november.spending_fen, november.closing_fen) == (234_50, 300_00, 1434_50)
    assert november.lines[0].party == world.a.shop.name and november.lines[1].party == "施工队"

    december = reports.monthly_statement(fund.id, reports.Month(2026, 12))
    assert (december.opening_fen, december.closing_fen) == (1434_50, 1534_50)
    assert december.lines[0].party == "赞助商"
    assert reports.monthly_statement(fund.id, reports.Month(2027, 1)).lines == []


def test_a_reversal_is_on_the_statement_and_brings_the_balance_back(world, fund):
    record(world, fund, EntryKind.SUBSIDY, 800_00, counterparty="街道")
    mistake = record(world, fund, EntryKind.CONTRIBUTION, 200_00)
    reversal = services.reverse_entry(world.a.treasurer, mistake, "记错店铺", idempotency_key=key())
    statement = reports.monthly_statement(fund.id, reports.Month.of(utcnow()))
    assert [(line.kind, line.amount_fen, line.balance_fen) for line in statement.lines] == [
        (EntryKind.SUBSIDY, 800_00, 800_00),
        (EntryKind.CONTRIBUTION, 200_00, 1000_00),
        (EntryKind.REVERSAL, -200_00, 800_00),
    ]
    assert statement.lines[-1].reverses_id == mistake.id and statement.lines[-1].id == reversal.id
    assert (statement.income_fen, statement.spending_fen, statement.closing_fen) == (1000_00, 200_00, 800_00)
    assert statement.closing_fen == services.balance_fen(fund.id)


def test_a_page_of_the_statement_carries_the_running_balance_of_the_lines_before_it(client, english, world,
                                                                                     fund):
    day = datetime(2026, 9, 10, 2, 0)
    for n in range(7):
        record(world, fund, EntryKind.SUBSIDY, (n + 1) * 100_00, day.replace(hour=n + 1), counterparty=f"第{n}笔")
    month = reports.Month(2026, 9)
    whole = reports.monthly_statement(fund.id, month)
    second = reports.monthly_statement(fund.id, month, page=2, per_page=3)
    assert (second.line_count, second.first_line, len(whole.lines)) == (7, 4, 7)
    assert [(x.id, x.balance_fen) for x in second.lines] == [(x.id, x.balance_fen) for x in whole.lines[3:6]]
    assert (second.opening_fen, second.closing_fen) == (whole.opening_fen, whole.closing_fen) == (0, 2800_00)
    assert reports.monthly_statement(fund.id, month, page=9, per_page=3).lines == []

    login_as(world.a.owner, client)
    page = client.get(f"/alliances/{world.a.alliance.id}/fund/statement?month=2026-09&page=1").get_data(as_text=True)
    assert "第6笔" in page and "Next" not in page  # seven lines fit on one screen
    printable = client.get(f"/alliances/{world.a.alliance.id}/fund/statement/print?month=2026-09")
    assert printable.get_data(as_text=True).count("笔") == 7


def test_members_read_the_statement_page_month_by_month(client, english, world, autumn):
    login_as(world.a.owner, client)
    page = client.get(f"/alliances/{world.a.alliance.id}/fund/statement?month=2026-11").get_data(as_text=True)
    assert "November 2026" in page
    assert "¥1,500.00" in page and "¥1,734.50" in page and "¥1,434.50" in page
    assert page.index("十一月出资") < page.index("脚手架")  # oldest first
    assert "赞助商" not in page and "静安寺街道办" not in page  # December's and October's entries
    assert "month=2026-10" in page  # the previous month
    october = client.get(f"/alliances/{world.a.alliance.id}/fund/statement?month=2026-10").get_data(as_text=True)
    assert "静安寺街道办" in october and "month=2026-09" in october and "month=2026-11" in october
    assert f"/alliances/{world.a.alliance.id}/fund/statement/print?month=2026-11" in page
    assert f"/alliances/{world.a.alliance.id}/fund/statement.csv?month=2026-11" in page


def test_this_month_is_the_default_and_has_no_next_month(client, english, world, fund):
    record(world, fund, EntryKind.SUBSIDY, 42_00, counterparty="本月补贴")
    login_as(world.a.lead, client)
    this_month = reports.Month.of(utcnow())
    page = client.get(f"/alliances/{world.a.alliance.id}/fund/statement").get_data(as_text=True)
    assert "本月补贴" in page and "¥42.00" in page
    assert f"month={this_month.next()}" not in page and f"month={this_month.previous()}" in page


def test_the_printable_statement_is_a_sheet_of_its_own(client, english, world, autumn):
    login_as(world.a.officer, client)
    response = client.get(f"/alliances/{world.a.alliance.id}/fund/statement/print?month=2026-11")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert world.a.alliance.name in page and "资金池" in page and "November 2026" in page
    assert "Generated" in page and "Closing balance" in page and "¥1,434.50" in page
    assert 'class="topbar"' not in page  # no app chrome on paper


@pytest.mark.parametrize("month", ["2026-13", "abc", "2026-00", "2026-11-01"])
@pytest.mark.parametrize("page", ["statement", "statement/print", "statement.csv"])
def test_a_bad_month_gets_a_clear_400_not_a_crash(client, english, world, fund, page, month):
    login_as(world.a.owner, client)
    response = client.get(f"/alliances/{world.a.alliance.id}/fund/{page}?month={month}")
    assert response.status_code == 400
    assert "Months are written like 2026-11" in response.get_data(as_text=True)


@pytest.mark.parametrize("page", ["statement", "statement/print", "statement.csv", "entries.csv", "shops"])
def test_another_alliances_books_do_not_exist_for_a_member_of_alliance_b(client, world, autumn, page):
    login_as(world.b.owner, client)
    assert client.get(f"/alliances/{world.a.alliance.id}/fund/{page}?month=2026-11").status_code == 404
    assert client.get(f"/alliances/{world.b.alliance.id}/fund/{page}?month=2026-11").status_code == 200


def test_the_contractor_may_not_read_the_books(client, world, fund):
    login_as(world.a.contractor, client)
    for page in ("statement", "statement.csv", "entries.csv", "shops"):
        assert client.get(f"/alliances/{world.a.alliance.id}/fund/{page}").status_code == 403


# --- spreadsheets ------------------------------------------------------------------------------


def test_plain_yuan_is_what_a_spreadsheet_reads_as_a_number():
    assert [reports.plain_yuan(fen) for fen in (123_450, -300_00, 0, -1, 5, 100_000_000_00)] == [
        "1234.50", "-300.00", "0.00", "-0.01", "0.05", "100000000.00"]


def test_the_statement_csv_opens_in_excel_with_shanghai_dates(client, english, world, autumn):
    login_as(world.a.owner, client)
    response = client.get(f"/alliances/{world.a.alliance.id}/fund/statement.csv?month=2026-11")
    assert response.status_code == 200
    assert response.content_type == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="fund-statement-{world.a.alliance.id}-2026-11.csv"'
    rows = parse_csv(response)
    assert rows[0][:3] == ["Date", "Entry no.", "What"] and rows[0][-2:] == ["Amount (yuan)", "Balance (yuan)"]
    assert rows[1][0] == "2026-11-01" and rows[1][2] == "Opening balance" and rows[1][-1] == "1500.00"
    contribution, expense = rows[2], rows[3]
    assert contribution[0] == "2026-11-01"  # 31 October 17:00 UTC, the 1st in Shanghai
    assert contribution[4] == world.a.shop.name and contribution[-2:] == ["234.50", "1734.50"]
    assert expense[0] == "2026-11-20" and expense[-2:] == ["-300.00", "1434.50"]
    assert rows[-1][0] == "2026-11-30" and rows[-1][2] == "Closing balance" and rows[-1][-1] == "1434.50"
    assert len(rows) == 5


def test_the_entries_csv_keeps_chinese_names_and_honours_the_filters(client, english, world, fund):
    world.a.shop.name = "老上海馄饨店"
    db.session.commit()
    record(world, fund, EntryKind.CONTRIBUTION, 1234_50, datetime(2026, 11, 3, 2, 0), method=PaymentMethod.WECHAT_PAY,
           reference="4200001234", purpose="店招改造出资")
    record(world, fund, EntryKind.SUBSIDY, 500_00, datetime(2026, 11, 4, 2, 0), counterparty="静安寺街道办")
    record(world, fund, EntryKind.EXPENSE, 300_00, datetime(2026, 11, 5, 2, 0), counterparty="施工队")
    login_as(world.a.owner, client)
    base = f"/alliances/{world.a.alliance.id}/fund/entries.csv"

    response = client.get(base)
    assert response.headers["Content-Disposition"].startswith('attachment; filename="fund-entries-')
    rows = parse_csv(response)
    assert rows[0][:5] == ["Entry no.", "Date", "What", "Method", "Amount (yuan)"]
    by_kind = {row[2]: row for row in rows[1:]}
    assert by_kind["Contribution"][1] == "2026-11-03" and by_kind["Contribution"][4] == "1234.50"
    assert by_kind["Contribution"][5] == "老上海馄饨店" and by_kind["Contribution"][9] == "店招改造出资"
    assert by_kind["Expense"][4] == "-300.00" and by_kind["Subsidy"][7] == "静安寺街道办"
    assert [row[2] for row in rows[1:]] == ["Expense", "Subsidy", "Contribution"]  # newest first, as the list

    only_subsidies = parse_csv(client.get(f"{base}?kind=subsidy"))
    assert [row[2] for row in only_subsidies[1:]] == ["Subsidy"]
    from_the_4th = parse_csv(client.get(f"{base}?from=2026-11-04&to=2026-11-04"))
    assert [row[2] for row in from_the_4th[1:]] == ["Subsidy"]
    only_this_shop = parse_csv(client.get(f"{base}?shop={world.a.shop.id}"))
    assert [row[5] for row in only_this_shop[1:]] == ["老上海馄饨店"]


def test_members_get_the_csv_without_receipts_and_staff_with_them(client, english, world, fund):
    buffer, name = receipt_jpeg()
    record(world, fund, EntryKind.CONTRIBUTION, 500_00, receipt=FileStorage(buffer, name))
    url = f"/alliances/{world.a.alliance.id}/fund/entries.csv"
    login_as(world.a.owner, client)
    response = client.get(url)
    assert response.status_code == 200
    rows = parse_csv(response)
    assert "Receipt" not in rows[0] and b"/photos/" not in response.get_data()
    assert rows[1][4] == "500.00"
    client.post("/logout")
    login_as(world.a.treasurer, client)
    rows = parse_csv(client.get(url))
    assert rows[0][-1] == "Receipt" and "/photos/" in rows[1][-1]


def test_a_name_that_looks_like_a_formula_stays_text_in_the_spreadsheet(client, english, world, fund):
    record(world, fund, EntryKind.SUBSIDY, 10_00, counterparty='=HYPERLINK("http://evil.example","点我")')
    login_as(world.a.lead, client)
    rows = parse_csv(client.get(f"/alliances/{world.a.alliance.id}/fund/entries.csv"))
    assert rows[1][7].startswith("'=HYPERLINK")
    assert rows[1][4] == "10.00"


def test_the_project_filter_narrows_the_list_and_the_csv(client, english, world, fund, proposal):
    project = proposal(title="咖啡馆木质新店招", versions=0)
    record(world, fund, EntryKind.CONTRIBUTION, 700_00, project=project, purpose="项目出资")
    record(world, fund, EntryKind.CONTRIBUTION, 50_00, purpose="会费")
    login_as(world.a.owner, client)
    base = f"/alliances/{world.a.alliance.id}/fund/entries"
    everything = client.get(base).get_data(as_text=True)
    assert f'<option value="{project.id}">咖啡馆木质新店招</option>' in everything
    assert "项目出资" in everything and "会费" in everything
    filtered = client.get(f"{base}?project={project.id}").get_data(as_text=True)
    assert "项目出资" in filtered and "会费" not in filtered
    assert f'<option value="{project.id}" selected>' in filtered
    rows = parse_csv(client.get(f"{base}.csv?project={project.id}"))
    assert [(row[8], row[9]) for row in rows[1:]] == [("咖啡馆木质新店招", "项目出资")]
    assert f"entries.csv?project={project.id}" in filtered  # the download link keeps the filter


# --- contributions by shop ---------------------------------------------------------------------


def test_every_shop_is_listed_with_its_contributions_net_of_reversals(client, english, world, fund):
    quiet = ShopFactory(alliance=world.a.alliance, name="还没出资的店")
    ShopFactory(alliance=world.b.alliance, name="别的联盟的店")
    record(world, fund, EntryKind.CONTRIBUTION, 300_00, datetime(2026, 11, 1, 2, 0))
    record(world, fund, EntryKind.CONTRIBUTION, 200_00, datetime(2026, 11, 9, 2, 0))
    mistake = record(world, fund, EntryKind.CONTRIBUTION, 999_00, datetime(2026, 11, 20, 2, 0))
    services.reverse_entry(world.a.treasurer, mistake, "重复录入", idempotency_key=key())
    record(world, fund, EntryKind.CONTRIBUTION, 50_00, datetime(2026, 11, 2, 2, 0), shop=world.a.other_shop)
    record(world, fund, EntryKind.SUBSIDY, 5000_00, counterparty="街道")

    rows = {row.shop_id: row for row in reports.shop_contributions(fund.id)}
    assert set(rows) == {world.a.shop.id, world.a.other_shop.id, quiet.id}
    shop = rows[world.a.shop.id]
    assert (shop.total_fen, shop.payments, shop.last_paid_on) == (500_00, 2, datetime(2026, 11, 9, 2, 0))
    assert (rows[world.a.other_shop.id].total_fen, rows[world.a.other_shop.id].payments) == (50_00, 1)
    assert (rows[quiet.id].total_fen, rows[quiet.id].payments, rows[quiet.id].last_paid_on) == (0, 0, None)
    assert [row.shop_id for row in reports.shop_contributions(fund.id)][0] == world.a.shop.id  # biggest first

    login_as(world.a.owner, client)
    page = client.get(f"/alliances/{world.a.alliance.id}/fund/shops").get_data(as_text=True)
    assert "还没出资的店" in page and "¥0.00" in page and "¥500.00" in page and "¥550.00" in page
    assert "别的联盟的店" not in page and "¥999.00" not in page


# --- the overview's chart ----------------------------------------------------------------------


def test_monthly_flows_sort_entries_into_shanghai_months(fund, autumn):
    months = reports.months_up_to(reports.Month(2026, 12), 4)
    flows = reports.monthly_flows(fund.id, months)
    assert [(str(f.month), f.income_fen, f.spending_fen) for f in flows] == [
        ("2026-09", 0, 0), ("2026-10", 1500_00, 0), ("2026-11", 234_50, 300_00), ("2026-12", 100_00, 0)]
    assert reports.monthly_flows(fund.id, []) == []


def test_the_overview_draws_the_last_twelve_months_and_links_the_reports(client, english, world, fund):
    record(world, fund, EntryKind.SUBSIDY, 800_00, counterparty="静安寺街道办")
    login_as(world.a.owner, client)
    page = client.get(f"/alliances/{world.a.alliance.id}/fund").get_data(as_text=True)
    assert "静安寺街道办" in page  # among the latest entries
    assert page.count('<rect class="chart-bar chart-income"') == 12
    assert 'data-fen="80000"' in page and 'role="img"' in page
    this_month = str(reports.Month.of(utcnow()))
    assert f">{this_month}</text>" in page
    for link in ("fund/statement", "fund/shops", "fund/entries.csv"):
        assert f"/alliances/{world.a.alliance.id}/{link}" in page


# --- a fixed number of queries -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["fund", "fund/statement", "fund/statement/print", "fund/statement.csv",
                                  "fund/entries.csv", "fund/shops"])
def test_reports_issue_as_many_queries_for_many_entries_and_shops_as_for_few(client, world, fund, path):
    buffer, name = receipt_jpeg()
    record(world, fund, EntryKind.CONTRIBUTION, 100, receipt=FileStorage(buffer, name))
    login_as(world.a.lead, client)  # a lead sees receipts too: the most the page can show
    url = f"/alliances/{world.a.alliance.id}/{path}"

    def queries() -> int:
        db.session.expire_all()  # each request starts from a fresh session, as in production
        with counted_queries() as statements:
            response = client.get(url)
            assert response.status_code == 200
            response.get_data()
        return len(statements)

    few = queries()
    for n in range(30):
        shop = ShopFactory(alliance=world.a.alliance) if n % 3 == 0 else world.a.other_shop
        record(world, fund, EntryKind.CONTRIBUTION, 100 + n, shop=shop)
        if n % 5 == 0:
            record(world, fund, EntryKind.EXPENSE, 50, counterparty="施工队")
    assert queries() == few


def test_a_large_download_is_read_in_batches_that_miss_nothing_and_repeat_nothing(world, fund):
    moment = datetime(2026, 8, 1, 2, 0)
    for n in range(10):  # four entries share each moment: the batches must still split them exactly
        record(world, fund, EntryKind.SUBSIDY, (n + 1) * 100, moment.replace(hour=n // 4), counterparty=f"第{n}笔")
    whole = [row.id for row in db.session.execute(services.entry_rows(fund.id))]
    assert [row.id for row in services.iter_entry_rows(fund.id, batch=3)] == whole
    assert [row.id for row in services.iter_entry_rows(fund.id, batch=5)] == whole
    assert len(whole) == 10
