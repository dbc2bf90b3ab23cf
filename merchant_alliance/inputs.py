"""What the app accepts from a request, checked once for every route: ids, numbers, dates and text it can store.

- Ids in URLs go through a bounded `int` converter: a number beyond any id matches no route (404).
- Integer and date query arguments are read with `int_arg`, `page_arg` and `date_arg`: a malformed or
  out-of-range value is a 400 page that says what is wrong, never an overflow in the database.
- Text that neither PostgreSQL nor a page can hold (a NUL byte, a lone surrogate) is refused before any
  view, extension or the login throttle sees it.
- Dates typed into forms use `DayField`, which keeps them between FIRST_DAY and LAST_DAY.
"""

from __future__ import annotations

import re
from datetime import date

from flask import Flask, request
from flask_babel import lazy_gettext as _l
from werkzeug.routing import IntegerConverter, Map
from wtforms import DateField

from merchant_alliance.errors import BadInput
from merchant_alliance.timeutil import FIRST_DAY, LAST_DAY

# Ids are INTEGER columns: 32 bits on PostgreSQL, which refuses a larger number even in a comparison.
MAX_ID = 2**31 - 1
MAX_PAGE = 1_000_000  # pages beyond this are a typing mistake; the offset stays far below what SQL can count

# NUL is refused by PostgreSQL in text; a lone surrogate cannot be encoded as UTF-8 for the database or the page.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

UNSTORABLE_MESSAGE = _l("The text sent contains a character that cannot be stored (such as a NUL byte). "
                        "Please remove it and try again.")
NOT_A_NUMBER = _l("“%(name)s” must be a whole number from %(min)s to %(max)s.")
BAD_DATE = _l("Dates are written like 2026-11-26.")
DATE_OUT_OF_RANGE = _l("Choose a date from %(first)s to %(last)s.")


class IdConverter(IntegerConverter):
    """`<int:…>` in every route: at most MAX_ID (and not negative), so a huge id is a 404, not an overflow."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def init_app(app: Flask) -> None:
    """Install the bounded `int` converter (before any blueprint adds its routes) and the text check."""
    app.url_map.converters["int"] = IdConverter
    # First of all before_request functions, so that CSRF, the login throttle and the views never see such text.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_unstorable_text)


def _texts() -> list[str]:
    texts = [request.path]
    for values in (request.view_args or {}, request.args, request.form):
        for key, value in (values.items(multi=True) if hasattr(values, "getlist") else values.items()):
            texts.append(key)
            if isinstance(value, str):
                texts.append(value)
    for key, upload in request.files.items(multi=True):
        texts.extend((key, upload.filename or ""))
    return texts


def refuse_unstorable_text() -> None:
    """A 400 with a clear message for text the database or the page cannot hold, anywhere in the request."""
    if any(UNSTORABLE.search(text) for text in _texts()):
        raise BadInput(UNSTORABLE_MESSAGE)


def int_arg(name: str, default: int | None = None, *, minimum: int = 0, maximum: int = MAX_ID) -> int | None:
    """The whole number in query argument `name`, `default` when absent or empty; 400 when malformed or out of
    range (an id beyond MAX_ID, a negative page)."""
    text = request.args.get(name, "").strip()
    if not text:
        return default
    # Only ASCII digits: int() would also take "１２", "1_000" and " 12 " and a 5,000-digit string raises.
    if not re.fullmatch(r"[+-]?[0-9]{1,20}", text) or not minimum <= int(text) <= maximum:
        raise BadInput(NOT_A_NUMBER, name=name, min=minimum, max=maximum)
    return int(text)


def page_arg(name: str = "page") -> int:
    """The page number asked for (1 when absent), from 1 to MAX_PAGE."""
    return int_arg(name, 1, minimum=1, maximum=MAX_PAGE)


def check_day(day: date) -> date:
    """`day` when it lies between FIRST_DAY and LAST_DAY; a ValueError with a clear message otherwise."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(str(DATE_OUT_OF_RANGE % {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()}))
    return day


def parse_day(text: str) -> date:
    """A date written 2026-11-26, within the sane range; a ValueError with a clear message otherwise."""
    try:
        day = date.fromisoformat(text.strip()) if re.fullmatch(r"\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\s*", text) else None
    except ValueError:
        day = None
    if day is None:
        raise ValueError(str(BAD_DATE))
    return check_day(day)


def date_arg(name: str) -> date | None:
    """The date in query argument `name` (None when absent or empty); 400 with the reason when malformed or
    outside FIRST_DAY … LAST_DAY."""
    text = request.args.get(name, "")
    if not text.strip():
        return None
    try:
        return parse_day(text)
    except ValueError as error:
        raise BadInput(str(error)) from None


class DayField(DateField):
    """A date typed into a form: written 2026-11-26 and between FIRST_DAY and LAST_DAY, or a clear form error.

    Dates outside that range overflow time zone conversions and fall outside every statement."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["render_kw"] = {"min": FIRST_DAY.isoformat(), "max": LAST_DAY.isoformat(), **kwargs.get("render_kw", {})}
        super().__init__(*args, **kwargs)

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist:
            return
        text = " ".join(valuelist)
        if not text.strip():
            self.data = None
            return
        try:
            self.data = parse_day(text)
        except ValueError:
            self.data = None
            raise
