"""Extension objects, created unbound here and initialised in the app factory."""

from flask import has_request_context
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints, so that Alembic migrations can alter them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


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
