"""Writes that happen once, however often a form is sent and however many people press at the same moment.

- Every form that creates something carries a one-time key (`IdempotentForm`). The service runs its
  write through `submit_once`, which commits a `FormSubmission` row naming the key and what was made,
  in the same transaction: a second submit of the same form (a double tap, a resend after a timeout)
  gets what the first one made, and a second submit racing the first loses at the key's primary key
  and is answered the same way. Money rows carry their key in a column of their own (`write_once`).
- `lock_row` serialises writers of one record (a project's next version number, a fund's balance)
  for the rest of the transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import ForeignKey, String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from wtforms import HiddenField
from wtforms.validators import DataRequired, Length

from merchant_alliance import pagecache
from merchant_alliance.errors import DomainError
from merchant_alliance.extensions import db
from merchant_alliance.timeutil import utcnow

T = TypeVar("T")
MAX_KEY_LENGTH = 64
FORM_EXPIRED = _l("This form has expired. Please reload the page and try again.")


class FormSubmission(db.Model):
    """A form that was sent and what it made: the second submit of the same form finds it here."""

    __tablename__ = "form_submissions"
    __cached__ = False

    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotentForm(FlaskForm):
    """A form that creates something: it carries a one-time key, so sending it twice creates it once."""

    idempotency_key = HiddenField(validators=[DataRequired(), Length(max=MAX_KEY_LENGTH)])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.idempotency_key.data:
            self.idempotency_key.data = pagecache.fresh(pagecache.FRESH["key"](), "key")


def check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise DomainError(FORM_EXPIRED)


def write_once(write: Callable[[], T], earlier: Callable[[], T | None], conflict: DomainError | None = None) -> T:
    """Commit what `write` adds, unless `earlier` finds the result of the same form already: then that.

    A submit racing the first loses at a unique key and gets the first one's result. A refusal
    (DomainError) rolls everything back, files included, and is raised again. When another unique rule
    of the database refuses the write (someone else got there first), `conflict` says so to the user.
    """
    existing = earlier()
    if existing is not None:
        return existing
    try:
        result = write()
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = earlier()
        if existing is not None:
            return existing
        if conflict is not None:
            raise conflict from None
        raise
    except DomainError:
        db.session.rollback()
        # A rule may refuse this copy because the first copy of the same form was committed meanwhile
        # ("that name is taken"): then the answer is the first one's result, not the refusal.
        existing = earlier()
        if existing is not None:
            return existing
        raise
    return result


def submit_once(actor: Any, key: str | None, model: type[T], write: Callable[[], T], *,
                conflict: DomainError | None = None) -> T:
    """Run `write` (it adds rows, and does not commit) and commit, once per form key.

    `key` None means the call does not come from a form (the demo, the CLI): it just writes and commits.
    A key sent by someone else, or for another kind of record, is refused as an expired form. `conflict`:
    what to tell the user when a unique rule of the database refuses the write (see `write_once`).
    """
    user_id = getattr(actor, "id", None)
    object_type = model.__tablename__

    def earlier() -> T | None:
        if key is None:
            return None
        found = db.session.get(FormSubmission, key)
        if found is None:
            return None
        if found.user_id != user_id or found.object_type != object_type:
            raise DomainError(FORM_EXPIRED)
        return db.session.get(model, found.object_id)

    def write_and_note() -> T:
        result = write()
        if key is not None:
            db.session.flush()
            db.session.add(FormSubmission(key=key, user_id=user_id, object_type=object_type,
                                          object_id=result.id))
        return result

    if key is not None:
        check_key(key)
    return write_once(write_and_note, earlier, conflict)


def lock_row(model: type, row_id: int) -> None:
    """Hold one row for the rest of this transaction, so what was read from it is what is written after.

    PostgreSQL locks the row (SELECT … FOR UPDATE). SQLite has no row locks: a no-op UPDATE takes the
    database's write lock now, as BEGIN IMMEDIATE would, so a second writer waits for our commit.
    """
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(update(model).where(model.id == row_id).values(id=model.id)
                           .execution_options(cache_scopes=()))  # writes nothing anyone sees
    else:
        db.session.execute(select(model.id).where(model.id == row_id).with_for_update())
