"""Importing the shop register from a CSV file saved by Excel: preview every row's errors, then import all at once."""

from __future__ import annotations

import html
import io
import re

import pytest
from flask_babel import force_locale
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from config import TestingConfig
from merchant_alliance import create_app
from merchant_alliance.accounts.models import Alliance, Street
from merchant_alliance.audit import AuditEvent
from merchant_alliance.errors import DomainError
from merchant_alliance.extensions import db
from merchant_alliance.shops import services
from merchant_alliance.shops.models import Shop
from tests.factories import PASSWORD
from tests.helpers import login_as

CLEAN_ROWS = [
    ("梧桐咖啡", "18号", "6.5", "餐饮", "138 0013 8000", "91310106MA1FL5XX7K"),
    ("静安书店", "20", "", "文化", "021-62481234", ""),
    ("弄堂面馆", "99", "4米", "餐饮", "", ""),
]
CHINESE_HEADER = "店名,门牌号,门面宽度（米）,业态,联系电话,营业执照号"
ENGLISH_HEADER = "Shop name,House number,Facade width (m),Business type,Contact phone,Licence number"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


def csv_text(header: str = CHINESE_HEADER, rows=CLEAN_ROWS, delimiter: str = ",") -> str:
    lines = [header.replace(",", delimiter)] + [delimiter.join(row) for row in rows]
    return "\r\n".join(lines) + "\r\n"  # as Excel writes it


def error_file(taken: str) -> str:
    """One clean row and one mistake of each kind, with the line each is on."""
    return "\n".join([
        "店名,门牌号,门面宽度,联系电话",
        "梧桐咖啡,18,6.5,13800138000",  # line 2: fine
        ",19,,",  # 3: no name
        "静安书店,18,,",  # 4: 18 again
        f"弄堂面馆,{taken},,",  # 5: already on the register
        "百乐花店,21,,12345",  # 6: bad phone
        "晨光烘焙,22,abc,",  # 7: bad width
        "",
    ])


ERRORS_BY_LINE = {
    3: "The shop name is missing.",
    4: "House number 18 appears twice in the file (line 2).",
    5: "House number {taken} is already in the register.",
    6: "12345 is not a valid phone number.",
    7: "The facade width must be a number of metres between 0 and 200.",
}


@pytest.fixture
def world(world):
    """The two-street world, with messages in English so the tests can read them."""
    with force_locale("en"):
        yield world


@pytest.fixture(scope="module")
def parsing_app():
    """One small app for reading files: an in-memory SQLite database holding an empty alliance."""
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI="sqlite://")
    with app.app_context():
        db.create_all()
        alliance = Alliance(street=Street(name="静安寺街道"), name="愚园路商家联盟", road="愚园路")
        db.session.add(alliance)
        db.session.commit()
        app.config["EMPTY_ALLIANCE_ID"] = alliance.id
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def no_db(parsing_app):
    with parsing_app.app_context(), force_locale("en"):
        yield


@pytest.fixture
def empty_alliance(no_db, parsing_app):
    return db.session.get(Alliance, parsing_app.config["EMPTY_ALLIANCE_ID"])


def shop_count(alliance_id: int) -> int:
    db.session.rollback()  # as at the end of a request: only what was committed counts
    return db.session.scalar(select(func.count(Shop.id)).where(Shop.alliance_id == alliance_id))


def house_numbers(alliance_id: int) -> set[str]:
    db.session.rollback()
    return set(db.session.scalars(select(Shop.house_number).where(Shop.alliance_id == alliance_id)))


@pytest.fixture
def failing_audit_insert(app):
    """The database fails while the import is writing: after the shops' INSERT, on the audit event's."""

    def fail(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_EVENTS"):
            raise OperationalError(statement, parameters, Exception("disk I/O error"))

    event.listen(db.engine, "before_cursor_execute", fail)
    yield
    event.remove(db.engine, "before_cursor_execute", fail)


# --- reading the file --------------------------------------------------------------------------


@pytest.mark.parametrize("encoded", [
    pytest.param(csv_text().encode("utf-8-sig"), id="utf8-bom"),
    pytest.param(csv_text().encode("utf-8"), id="utf8"),
    pytest.param(csv_text().encode("gb18030"), id="gb18030-excel-on-chinese-windows"),
])
def test_every_encoding_excel_saves_is_read_the_same(no_db, encoded):
    assert services.decode_csv(encoded) == csv_text()


@pytest.mark.parametrize("content, message", [
    pytest.param(PNG, "This is not a CSV text file.", id="png"),
    pytest.param("店名,门牌号\n".encode("utf-16"), "This is not a CSV text file.", id="utf16"),
    pytest.param(b"\xff\xfe\xfa\xfb" * 8, "The file's text encoding is not recognised.", id="garbage"),
    pytest.param(b"a" * (services.MAX_IMPORT_BYTES + 1), "The file is larger than 1 MB.", id="too-big"),
])
def test_a_file_that_is_not_a_csv_text_is_refused_with_a_clear_message(no_db, content, message):
    with pytest.raises(DomainError) as refused:
        services.decode_csv(content)
    assert str(refused.value).startswith(message)


# --- the preview -------------------------------------------------------------------------------


def test_the_preview_lists_every_rows_error_with_its_line_and_the_file_is_never_imported(world):
    taken = world.a.shop.house_number
    before = shop_count(world.a.alliance.id)

    preview = services.preview_import(world.a.alliance, error_file(taken))

    assert not preview.ok
    assert preview.error_count == 5
    assert preview.problems == []
    assert [row.line for row in preview.rows] == [2, 3, 4, 5, 6, 7]
    found = {row.line: " ".join(row.data.errors.values()) for row in preview.rows if not row.data.ok}
    assert found == {line: message.format(taken=taken) for line, message in ERRORS_BY_LINE.items()}

    with pytest.raises(DomainError, match="The file has 5 errors; nothing was imported."):
        services.import_shops(world.a.lead, world.a.alliance, error_file(taken))
    assert shop_count(world.a.alliance.id) == before
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "shops_imported")) == 0


@pytest.mark.parametrize("text", [
    pytest.param(csv_text(), id="chinese-headers"),
    pytest.param(csv_text(ENGLISH_HEADER), id="english-headers"),
    pytest.param(csv_text("name,house_number,facade_width_m,business_type,contact_phone,licence_number"),
                 id="field-names"),
    pytest.param(csv_text("商户名称,门牌,门头宽度,行业,电话,统一社会信用代码"), id="other-chinese-headers"),
    pytest.param(csv_text(delimiter=";"), id="semicolons"),
    pytest.param(csv_text(delimiter="\t"), id="tabs"),
    pytest.param(csv_text().replace("\r\n", "\n"), id="unix-newlines"),
])
def test_a_clean_file_previews_ok_whatever_its_headers_and_delimiter(empty_alliance, text):
    preview = services.preview_import(empty_alliance, text)
    assert preview.ok, (preview.problems, [r.data.errors for r in preview.rows])
    assert [row.data.values["house_number"] for row in preview.rows] == ["18", "20", "99"]
    first = preview.rows[0].data.values
    assert (first["name"], first["contact_phone"], str(first["facade_width_m"])) == ("梧桐咖啡", "13800138000", "6.50")


def test_quoted_cells_blank_lines_and_extra_columns_are_handled(empty_alliance):
    text = '店名,门牌号,备注\n"咖啡, 书店",18,二楼\n\n,,\n"老""上海""面馆",19,\n'
    preview = services.preview_import(empty_alliance, text)
    assert preview.ok
    assert [(r.line, r.data.values["name"]) for r in preview.rows] == [(2, "咖啡, 书店"), (5, '老"上海"面馆')]


@pytest.mark.parametrize("text, problem", [
    pytest.param("", "The file is empty.", id="empty"),
    pytest.param("店名,门牌号\r\n", "The file has no shops in it.", id="header-only"),
    pytest.param("店名,联系电话\n梧桐咖啡,13800138000\n", "The file has no column for House number.", id="no-number"),
    pytest.param("门牌号\n18\n", "The file has no column for Shop name.", id="no-name"),
    pytest.param("名字,号码\n梧桐咖啡,18\n", "The file has no column for Shop name.", id="unknown-headers"),
])
def test_a_file_without_shops_or_required_columns_says_what_is_missing(empty_alliance, text, problem):
    preview = services.preview_import(empty_alliance, text)
    assert not preview.ok
    assert problem in preview.problems


def test_a_file_with_too_many_rows_is_refused(empty_alliance):
    rows = [(f"店{i}", str(i), "", "", "", "") for i in range(services.MAX_IMPORT_ROWS + 1)]
    preview = services.preview_import(empty_alliance, csv_text(rows=rows))
    assert not preview.ok
    assert preview.problems == [f"The file has more than {services.MAX_IMPORT_ROWS} rows."]


# --- importing ---------------------------------------------------------------------------------


def test_a_clean_file_imports_every_row_in_one_go_and_only_once(world):
    alliance_id = world.a.alliance.id
    text = services.decode_csv(csv_text().encode("utf-8-sig"))

    shops = services.import_shops(world.a.lead, world.a.alliance, text)

    assert len(shops) == 3
    assert house_numbers(alliance_id) == {world.a.shop.house_number, world.a.other_shop.house_number,
                                          "18", "20", "99"}
    cafe = db.session.scalar(select(Shop).where(Shop.alliance_id == alliance_id, Shop.house_number == "18"))
    assert (cafe.name, cafe.contact_phone, cafe.licence_number) == ("梧桐咖啡", "13800138000", "91310106MA1FL5XX7K")
    assert cafe.active
    [imported] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "shops_imported")).all()
    assert (imported.actor_id, imported.alliance_id, imported.details["count"]) == (world.a.lead.id, alliance_id, 3)

    with pytest.raises(DomainError, match="The file has 3 errors; nothing was imported."):
        services.import_shops(world.a.lead, world.a.alliance, text)
    assert shop_count(alliance_id) == 5

    # Another alliance has its own numbering.
    services.import_shops(world.b.lead, world.b.alliance, text)
    assert {"18", "20", "99"} <= house_numbers(world.b.alliance.id)


@pytest.mark.usefixtures("failing_audit_insert")
def test_when_the_database_fails_mid_import_nothing_is_written(world):
    alliance_id = world.a.alliance.id
    before = shop_count(alliance_id)
    with pytest.raises(OperationalError):
        services.import_shops(world.a.lead, world.a.alliance, csv_text())
    assert shop_count(alliance_id) == before


# --- the pages ---------------------------------------------------------------------------------


def import_url(side) -> str:
    return f"/alliances/{side.alliance.id}/shops/import"


def upload(client, side, content: bytes, filename: str = "shops.csv"):
    # Encoded in memory: for bodies over 500 kB the test client's own encoder spools to a temporary
    # file that it never closes, which the ResourceWarning filter would report against this test.
    boundary, body = encode_multipart(MultiDict({"file": FileStorage(io.BytesIO(content), filename, "file")}))
    return client.post(import_url(side), data=body, content_type=f"multipart/form-data; boundary={boundary}")


def confirmed_content(page: str) -> str:
    """The checked file as the preview page carries it to the confirm step."""
    match = re.search(r'<input id="content" name="content" type="hidden" value="([^"]*)"', page)
    assert match, "the preview has no confirm form"
    return html.unescape(match.group(1))


def preview_rows(page: str) -> dict[int, str]:
    """Line number → the problems shown on that row of the preview table."""
    body = page[page.index("<tbody>"):page.index("</tbody>")]
    rows = {}
    for row in re.findall(r"<tr.*?</tr>", body, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        rows[int(cells[0])] = " ".join(html.unescape(m) for m in re.findall(r'<span class="error">(.*?)</span>',
                                                                             cells[-1]))
    return rows


@pytest.fixture
def lead(client, world):
    """The lead of world.a, logged in, reading English."""
    client.set_cookie("lang", "en")
    login_as(world.a.lead, client)
    return client


def test_uploading_a_file_with_errors_shows_each_rows_error_and_imports_nothing(lead, world):
    taken = world.a.shop.house_number
    before = shop_count(world.a.alliance.id)
    form = lead.get(import_url(world.a)).get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in form
    assert 'type="file"' in form and 'name="file"' in form

    response = upload(lead, world.a, error_file(taken).encode("utf-8-sig"))

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The file has 5 errors; nothing has been imported." in page
    shown = preview_rows(page)
    assert shown[2] == ""
    assert {line: text for line, text in shown.items() if text} == {
        line: message.format(taken=taken) for line, message in ERRORS_BY_LINE.items()}
    assert 'name="step"' not in page  # no import button
    assert shop_count(world.a.alliance.id) == before

    # Even a hand-made confirm request with that file imports nothing.
    response = lead.post(import_url(world.a), data={"step": "confirm", "content": error_file(taken)})
    assert response.status_code == 302
    assert response.headers["Location"] == import_url(world.a)
    assert "The file has 5 errors; nothing was imported." in lead.get(import_url(world.a)).get_data(as_text=True)
    assert shop_count(world.a.alliance.id) == before


def test_a_clean_file_with_chinese_headers_and_a_bom_previews_then_imports(lead, world):
    alliance_id = world.a.alliance.id
    preview = upload(lead, world.a, csv_text().encode("utf-8-sig")).get_data(as_text=True)
    assert "All 3 rows are correct." in preview
    assert "Import 3 shops" in preview
    assert shop_count(alliance_id) == 2  # nothing yet

    response = lead.post(import_url(world.a), data={"step": "confirm", "content": confirmed_content(preview)})

    assert response.status_code == 302
    assert response.headers["Location"] == f"/alliances/{alliance_id}/shops"
    register = lead.get(response.headers["Location"]).get_data(as_text=True)
    assert "3 shops imported." in register
    assert "梧桐咖啡" in register and "静安书店" in register and "弄堂面馆" in register
    assert house_numbers(alliance_id) >= {"18", "20", "99"}
    assert shop_count(alliance_id) == 5


def test_a_gb18030_file_from_excel_on_chinese_windows_imports_once_even_if_confirmed_twice(lead, world):
    alliance_id = world.a.alliance.id
    preview = upload(lead, world.a, csv_text(delimiter=";").encode("gb18030"), "店铺.csv").get_data(as_text=True)
    assert "All 3 rows are correct." in preview
    assert "梧桐咖啡" in preview
    content = confirmed_content(preview)

    first = lead.post(import_url(world.a), data={"step": "confirm", "content": content})
    second = lead.post(import_url(world.a), data={"step": "confirm", "content": content})  # a double tap

    assert first.headers["Location"] == f"/alliances/{alliance_id}/shops"
    assert second.headers["Location"] == import_url(world.a)
    assert "nothing was imported" in lead.get(import_url(world.a)).get_data(as_text=True)
    assert shop_count(alliance_id) == 5
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "shops_imported")) == 1


@pytest.mark.parametrize(("content", "filename", "message"), [
    (PNG, "shops.csv", "This is not a CSV text file."),
    (b"a,b\n" * (services.MAX_IMPORT_BYTES // 4 + 1), "big.csv", "The file is larger than 1 MB."),
    (b"", "empty.csv", "The file is empty."),
    ("店名,联系电话\n梧桐咖啡,13800138000\n".encode(), "shops.csv", "The file has no column for House number."),
], ids=["a-picture", "too-big", "empty", "no-house-number-column"])
def test_an_unusable_file_is_refused_with_a_clear_message(lead, world, content, filename, message):
    before = shop_count(world.a.alliance.id)
    response = upload(lead, world.a, content, filename)
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert message in page
    assert 'name="step"' not in page
    assert shop_count(world.a.alliance.id) == before


def test_sending_the_form_without_a_file_asks_for_one(lead, world):
    before = shop_count(world.a.alliance.id)
    no_file = lead.post(import_url(world.a), data={}, content_type="multipart/form-data")
    assert "Please choose a CSV file." in no_file.get_data(as_text=True)
    assert shop_count(world.a.alliance.id) == before


@pytest.mark.usefixtures("failing_audit_insert")
def test_when_the_database_fails_during_the_import_the_lead_sees_an_error_and_nothing_is_written(lead, world):
    alliance_id = world.a.alliance.id
    before = shop_count(alliance_id)
    response = lead.post(import_url(world.a), data={"step": "confirm", "content": csv_text()})
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)
    assert shop_count(alliance_id) == before


def test_a_file_near_the_size_limit_imports_completely(lead, world):
    # As many shops as allowed, with long Chinese names: about 0.6 MB, 1.8 MB once the confirm form URL-encodes it.
    rows = [(f"{'愚园路老字号商店' * 12}{i}", f"1399弄{i}", "6.5", "餐饮", "", "")
            for i in range(services.MAX_IMPORT_ROWS)]
    content = csv_text(rows=rows).encode("utf-8-sig")
    assert 0.5 * services.MAX_IMPORT_BYTES < len(content) < services.MAX_IMPORT_BYTES

    preview = upload(lead, world.a, content).get_data(as_text=True)
    assert f"All {services.MAX_IMPORT_ROWS} rows are correct." in preview
    response = lead.post(import_url(world.a), data={"step": "confirm", "content": confirmed_content(preview)})
    assert response.status_code == 302
    assert shop_count(world.a.alliance.id) == services.MAX_IMPORT_ROWS + 2


def test_only_the_lead_may_import(app, world):
    before = shop_count(world.a.alliance.id)
    for user, status in ((world.a.treasurer, 403), (world.a.officer, 403), (world.b.lead, 404)):
        client = app.test_client()
        client.post("/login", data={"login": user.phone, "password": PASSWORD})
        assert client.get(import_url(world.a)).status_code == status
        assert upload(client, world.a, csv_text().encode()).status_code == status
        assert client.post(import_url(world.a), data={"step": "confirm", "content": csv_text()}).status_code == status
    assert shop_count(world.a.alliance.id) == before


def test_errors_point_at_the_line_a_row_starts_on_even_after_a_cell_spanning_lines(app, world):
    text = '店名,门牌号,联系电话\n"两行\n的店名",1,13800000000\n坏电话的店,2,123\n'
    preview = services.preview_import(world.a.alliance, text)
    assert [row.line for row in preview.rows] == [2, 4]
    assert preview.rows[0].data.ok and "contact_phone" in preview.rows[1].data.errors


def test_searching_the_register_for_a_percent_sign_finds_nothing_rather_than_everything(app, client, world):
    login_as(world.a.lead, client)
    page = client.get(f"/alliances/{world.a.alliance.id}/shops?q=%25").get_data(as_text=True)
    assert world.a.shop.name not in page
