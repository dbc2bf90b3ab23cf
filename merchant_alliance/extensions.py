"""Extension objects, created unbound here and initialised in the app factory."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

import sqlalchemy as sa
from flask import has_request_context
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

# Named constraints, so that Alembic migrations can alter them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


SQLITE_BUSY_TIMEOUT_MS = 10_000


@event.listens_for(Engine, "connect")
def _sqlite_for_several_users(dbapi_connection, connection_record) -> None:
    """SQLite as a small server needs it: readers never wait for a writer (WAL), a writer waits its turn
    instead of failing at once."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # an in-memory database keeps its own mode
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a power cut loses at most the last commits
        cursor.close()


# PostgreSQL: a transaction that only read ends with COMMIT, which for the data is the same as ROLLBACK.
# psycopg forgets every prepared statement at a ROLLBACK, and every request's transaction ends with one
# when its session closes; so no statement would ever stay prepared from one request to the next, and
# every query of every page would be planned again (the user's own query: 0.7 ms of planning each time).
_READS_ONLY = re.compile(r"\s*(?:SELECT|SHOW)\b", re.IGNORECASE)


@event.listens_for(Engine, "begin")
def _nothing_written_yet(conn) -> None:
    conn.info["wrote"] = False  # the DB-API connection's own dict: one transaction at a time


@event.listens_for(Engine, "before_cursor_execute")
def _note_writes(conn, cursor, statement, parameters, context, executemany) -> None:
    if not _READS_ONLY.match(statement):  # anything else (a write, a savepoint, a WITH …) counts as one
        conn.info["wrote"] = True


@event.listens_for(Engine, "rollback")
def _end_reads_with_commit(conn) -> None:
    """Runs just before a rollback: a PostgreSQL transaction that wrote nothing and had no error commits
    instead, and the rollback that follows finds nothing to do."""
    if conn.dialect.name != "postgresql" or conn.info.get("wrote", True):
        return
    from psycopg.pq import TransactionStatus  # (the PostgreSQL driver: not imported on SQLite)

    dbapi_connection = conn.connection.dbapi_connection
    if dbapi_connection.info.transaction_status == TransactionStatus.INTRANS:  # (a failed one is rolled back)
        dbapi_connection.commit()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Database(SQLAlchemy):
    def paginate(self, select, *, page: int | None = None, per_page: int | None = None, **kwargs):
        """`db.paginate`, reading `?page=` and `?per_page=` through the one checked helper: a malformed or huge
        page is a 400 that says so, not an offset beyond what the database can count."""
        if has_request_context():
            from merchant_alliance.inputs import int_arg, page_arg

            page = page_arg() if page is None else page
            per_page = int_arg("per_page", 20, minimum=1, maximum=100) if per_page is None else per_page
        return super().paginate(select, page=page, per_page=per_page, **kwargs)

    def page_of_rows(self, select, *, page: int, per_page: int, total: int | None = None) -> RowPage:
        """A page of a select() of rows; `total` when the caller knows it already (else one COUNT)."""
        if total is None:
            total = self.session.scalar(sa.select(sa.func.count()).select_from(select.order_by(None).subquery()))
        items = self.session.execute(select.limit(per_page).offset((max(page, 1) - 1) * per_page)).all()
        return RowPage(items, page, per_page, total or 0)


@dataclass
class RowPage:
    """One page of rows (not ORM objects), shaped like Flask-SQLAlchemy's pagination for the templates."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max((self.total + self.per_page - 1) // self.per_page, 1)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1

    def __iter__(self):
        return iter(self.items)


# Objects keep their values after a commit instead of being reloaded on next use: what a view shows
# after saving (the flash message, the redirect) then never needs the database again, so a database
# that fails right after the commit cannot turn a saved action into an error page.
db = Database(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def value_enum(enum_class: type, length: int = 30) -> db.Enum:
    """A column type storing a StrEnum by its value ("shop_owner"): readable in SQL, stable on renames."""
    return db.Enum(enum_class, native_enum=False, length=length, validate_strings=True,
                   values_callable=lambda members: [m.value for m in members])
