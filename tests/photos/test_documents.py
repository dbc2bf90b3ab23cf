"""PDFs beside photos (a contractor's quote): checked by their content, stored all-or-nothing like photos, served
only as downloads to whoever may see the shop, kept by `flask storage gc` and reported by `flask doctor`."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from merchant_alliance.errors import DomainError
from merchant_alliance.extensions import db
from merchant_alliance.photos.models import Document, Photo
from merchant_alliance.photos.services import save_documents, split_attachments
from merchant_alliance.photos.upkeep import collect_garbage, referenced_keys
from merchant_alliance.storage.backends import get_storage
from tests.helpers import login_as
from tests.projects.helpers import upload

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def pdf(name: str = "报价单.pdf", data: bytes = PDF) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name, content_type="application/pdf")


def stored(prefix: str = "documents/") -> set[str]:
    return {item.key for item in get_storage().list(prefix)}


def saved(world, *files: FileStorage) -> tuple[list[Photo], list[Document]]:
    pictures, pdfs = split_attachments(list(files))
    from merchant_alliance.photos.services import save_photos

    photos = save_photos(world.a.lead, pictures, alliance=world.a.alliance, shop=world.a.shop)
    documents = save_documents(world.a.lead, pdfs, alliance=world.a.alliance, shop=world.a.shop)
    db.session.commit()
    return photos, documents


def test_photos_and_a_pdf_sent_together_are_each_stored_by_their_own_rules(app, world):
    photos, (document,) = saved(world, upload(filename="现场.jpg"), pdf())
    assert len(photos) == 1 and photos[0].content_type == "image/jpeg"
    assert (document.original_filename, document.bytes, document.shop_id) == ("报价单.pdf", len(PDF), world.a.shop.id)
    assert get_storage().get(document.key) == PDF  # kept as it came
    assert document.key in referenced_keys()


@pytest.mark.parametrize(("upload_of", "says"), [
    (lambda: pdf("报价单.pdf", b"<html><script>alert(1)</script></html>"), "neither a photo nor a PDF"),
    (lambda: pdf("截断.pdf", b"%PDF-1.4\n1 0 obj << >> endobj\n"), "neither a photo nor a PDF"),  # cut off: no %%EOF
])
def test_a_file_that_only_calls_itself_a_pdf_is_refused_and_nothing_is_stored(app, world, upload_of, says):
    before = stored(), stored("photos/")
    with force_locale("en"), pytest.raises(DomainError, match=says):
        saved(world, upload(filename="现场.jpg"), upload_of())
    db.session.rollback()
    assert (stored(), stored("photos/")) == before
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0


def test_a_pdf_above_the_limit_is_refused_with_the_limit(app, world):
    app.config["MAX_DOCUMENT_BYTES"] = 1024
    with force_locale("en"), pytest.raises(DomainError, match="报价单.pdf is larger than"):
        saved(world, pdf(data=PDF + b"0" * 2048 + b"\n%%EOF\n"))


def test_a_rolled_back_upload_leaves_no_file_behind(app, world):
    pictures, pdfs = split_attachments([pdf()])
    save_documents(world.a.lead, pdfs, alliance=world.a.alliance, shop=world.a.shop)
    assert len(stored()) == 1
    db.session.rollback()
    assert stored() == set()


def test_a_pdf_is_only_ever_a_download_for_whoever_sees_the_shop(app, world, client):
    _, (document,) = saved(world, pdf())
    login_as(world.a.owner, client)
    response = client.get(f"/documents/{document.id}")
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox"
    client.post("/logout")
    login_as(world.b.lead, client)  # another alliance: as if there were no such document
    assert client.get(f"/documents/{document.id}").status_code == 404


def test_gc_keeps_a_pdf_a_row_names_and_doctor_reports_one_whose_file_is_gone(app, world, runner):
    _, (document,) = saved(world, pdf())
    assert collect_garbage(older_than=timedelta(0)) == []
    assert get_storage().get(document.key) == PDF
    get_storage().delete(document.key)
    result = runner.invoke(args=["doctor", "--check", "storage-missing"])
    assert f"document {document.id} names {document.key}, which is not in the store" in result.output
