"""Page fragments cached under the version of the data they show, so a cached fragment is never stale.

Every row belongs to one or more *scopes*: `alliance:7` for what an alliance's pages show, `user:3` for
what only one user sees, `global` for what any page may show (a user's name, a street). A transaction
that writes rows draws a new version for each of their scopes, in the same transaction, just before it
commits. A cached fragment's key holds the versions of the scopes it reads, so any write that can change
it changes its key; a fragment is never invalidated, it just stops being asked for.

A model says where its rows are shown:
- by default, a row with an `alliance_id` belongs to that alliance, any other row to `global`;
- `cache_scopes(self)` names the scopes itself (a ledger entry belongs to its fund's alliance);
- `__cached__ = False`: no cached fragment shows the table (sessions, throttles, the outbox);
- `__cache_ignores__`: columns no cached fragment shows (a user's last login).

Bulk statements (`session.execute(update(Model)…)`) bump `global` unless they name their scopes with the
execution option `cache_scopes`. Under `CACHE_CHECK_WRITES` (the test suite), a commit that wrote a
table without accounting for it fails, so a new way of writing cannot slip past the versions.

In templates: `{% call cached("name", scopes) %} … {% endcall %}` around the expensive part of a page,
with the view passing what the part reads as `lazy(...)` values, built only when the fragment is.
"""

from __future__ import annotations

import functools
import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from flask_caching import Cache
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import BigInteger, String, bindparam, event, inspect, select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, make_transient_to_detached, mapped_column
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.local import LocalProxy

from merchant_alliance.extensions import db

GLOBAL = "global"
ALLIANCE_SCOPE_PREFIX, USER_SCOPE_PREFIX = "alliance:", "user:"
OWN_VERSIONS = "page_cache_versions"  # what the session loader reads with the user: "scope=version,…"
cache = Cache()


def alliance_scope(alliance_id: int) -> str:
    return f"{ALLIANCE_SCOPE_PREFIX}{alliance_id}"


def user_scope(user_id: int) -> str:
    return f"{USER_SCOPE_PREFIX}{user_id}"


def own_scopes(user: Any) -> set[str]:
    """The scopes whose versions come with the request's user: global, the user's own, and the alliances
    they hold a role in or own a shop of (accounts.sessions.own_scope_versions reads the same)."""
    alliances = {m.alliance_id if m.shop_id is None else m.shop.alliance_id for m in user.memberships}
    return {GLOBAL, user_scope(user.id), *(alliance_scope(a) for a in alliances if a is not None)}


class CacheVersion(db.Model):
    """A scope's version: a random number drawn afresh by every transaction that changes what its pages show.

    Random rather than counted, so that no number comes back: a database restored from a backup (or a test
    rolled back) would otherwise reach an old count again with other data behind it."""

    __tablename__ = "cache_versions"
    __cached__ = False

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


def init_app(app: Flask) -> None:
    app.config.setdefault("CACHE_TYPE", "SimpleCache")
    app.config.setdefault("CACHE_DEFAULT_TIMEOUT", 3600)  # an hour unread: gone (a key is never stale)
    cache.init_app(app)
    app.jinja_env.globals["cached"] = cached
    if app.config.get("CACHE_CHECK_WRITES"):
        check_writes()


# --- which scopes a transaction changed -----------------------------------------------------------------


def scopes_of(obj: Any) -> set[str]:
    """The scopes whose pages show `obj`."""
    model = type(obj)
    if not getattr(model, "__cached__", True):
        return set()
    own = getattr(obj, "cache_scopes", None)
    if own is not None:
        return set(own())
    alliance_id = getattr(obj, "alliance_id", None)
    return {alliance_scope(alliance_id)} if alliance_id is not None else {GLOBAL}


def scopes_via(*path: str) -> Callable[[Any], Iterable[str]]:
    """A `cache_scopes` method for rows shown wherever the row at `path` is (e.g. `scopes_via("fund")`)."""

    def cache_scopes(self: Any) -> Iterable[str]:
        parent = self
        for name in path:
            parent = getattr(parent, name)
            if parent is None:
                return {GLOBAL}
        return scopes_of(parent)

    return cache_scopes


def scopes_of_role_scope(row: Any) -> set[str]:
    """For a membership or invitation: the shop's or alliance's scope it grants a role in, else `global`."""
    if row.shop_id is not None:
        return scopes_of(row.shop)
    return {alliance_scope(row.alliance_id)} if row.alliance_id is not None else {GLOBAL}


def _changed(obj: Any) -> bool:
    """Whether a dirty row changed a column some page may show."""
    ignored = getattr(type(obj), "__cache_ignores__", ())
    state = inspect(obj)
    return any(state.attrs[key].history.has_changes() for key in _shown_attributes(state.mapper)
               if key not in ignored)


@functools.cache
def _shown_attributes(mapper: Any) -> tuple[str, ...]:
    """A row's columns, and its links kept in an association table (other links change the other row)."""
    return (*mapper.column_attrs.keys(), *(r.key for r in mapper.relationships if r.secondary is not None))


@functools.cache
def _tables_of(mapper: Any) -> frozenset[str]:
    return frozenset({*(t.name for t in mapper.tables),
                      *(r.secondary.name for r in mapper.relationships if r.secondary is not None)})


def _pending(session: Session) -> tuple[set[str], set[str]]:
    """(scopes, tables) this session's transaction has changed so far."""
    return session.info.setdefault("cache_scopes", set()), session.info.setdefault("cache_tables", set())


def touch(session: Session, scopes: Iterable[str], tables: Iterable[str] = ()) -> None:
    """Count `scopes` as changed by this transaction (for writes the ORM does not see, e.g. Core statements
    in a flush hook); `tables` are the tables those writes touched."""
    pending_scopes, pending_tables = _pending(session)
    pending_scopes.update(scopes)
    pending_tables.update(tables)


@event.listens_for(Session, "after_flush")
def _note_flushed_rows(session: Session, flush_context: Any) -> None:
    scopes, tables = _pending(session)
    for obj in (*session.new, *session.deleted, *session.dirty):
        tables.update(_tables_of(inspect(obj).mapper))  # accounted for, whether or not a page shows the change
        if obj not in session.dirty or _changed(obj):
            scopes.update(scopes_of(obj))


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_statements(state: Any) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    named = state.execution_options.get("cache_scopes")
    mapper = state.bind_mapper
    table = getattr(state.statement, "table", None)
    tables = {table.name} if getattr(table, "name", None) else set()
    if named is None:
        model = mapper.class_ if mapper is not None else None
        named = () if model is not None and not getattr(model, "__cached__", True) else (GLOBAL,)
    touch(state.session, named, tables)


@event.listens_for(Session, "before_commit")
def _bump_versions(session: Session) -> None:
    session.flush()  # the last changes, so that their scopes are known
    scopes = sorted(session.info.pop("cache_scopes", ()))  # one order everywhere: no deadlock between bumps
    tables = session.info.pop("cache_tables", set())
    written = session.info.pop("tables_written", None)
    if scopes:
        bump(session, scopes)
    if written is not None and (unaccounted := written - tables - _unshown_tables()):
        raise AssertionError(
            f"a commit wrote {sorted(unaccounted)} without telling the page cache: name the scopes "
            "(execution option cache_scopes, pagecache.touch) or mark the model __cached__ = False")


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    for key in ("cache_scopes", "cache_tables", "tables_written"):
        session.info.pop(key, None)


def bump(session: Session, scopes: list[str]) -> None:
    table = CacheVersion.__table__
    insert = postgres_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    version = secrets.randbits(62)
    statement = insert(table).values([{"scope": s, "version": version} for s in scopes]).on_conflict_do_update(
        index_elements=[table.c.scope], set_={"version": version})
    session.execute(statement, execution_options={"cache_scopes": ()})


@functools.cache
def _unshown_tables() -> frozenset[str]:
    return frozenset(table.name for mapper in db.Model.registry.mappers
                     if not getattr(mapper.class_, "__cached__", True) for table in mapper.tables)


_WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)', re.IGNORECASE)


@functools.cache
def check_writes() -> None:
    """Make every commit prove it accounted for each table it wrote (`CACHE_CHECK_WRITES`, for tests)."""

    @event.listens_for(Engine, "before_cursor_execute")
    def _seen(conn, cursor, statement, parameters, context, executemany) -> None:
        match = _WRITE.match(statement)
        session = conn.info.get("pagecache.session")
        if match and session is not None and match.group(1) != CacheVersion.__tablename__:
            session.info.setdefault("tables_written", set()).add(match.group(1))

    @event.listens_for(Session, "after_begin")
    def _link(session, transaction, connection) -> None:
        connection.info["pagecache.session"] = session
        session.info["pagecache.connection_info"] = connection.info  # outlives the closed Connection

    @event.listens_for(Session, "after_transaction_end")
    def _unlink(session, transaction) -> None:
        if transaction.parent is None and (info := session.info.pop("pagecache.connection_info", None)):
            info.pop("pagecache.session", None)


# --- the cached fragments --------------------------------------------------------------------------------


@functools.cache
def _versions_statement(count: int) -> Any:
    """A SELECT of `count` scopes' versions, built once (plain parameters: nothing to expand per request)."""
    return select(CacheVersion.scope, CacheVersion.version).where(
        CacheVersion.scope.in_([bindparam(f"s{i}") for i in range(count)]))


def _versions_read_with_user() -> dict[str, int]:
    """The versions read with the request's user (a scope without a row is at version 0), or {}."""
    if not has_request_context() or not current_user.is_authenticated:
        return {}
    if (read := current_user.read_with.get(OWN_VERSIONS, False)) is False:
        return {}
    found = dict.fromkeys(own_scopes(current_user), 0)
    for pair in (read or "").split(","):
        if pair:
            scope, _, version = pair.rpartition("=")
            found[scope] = int(version)
    return found


def versions(scopes: Iterable[str]) -> tuple[tuple[str, int], ...]:
    """The current version of each scope (and of `global`): from the user's own query when they are the
    user's own scopes, else in one query."""
    wanted = sorted({GLOBAL, *scopes})
    known = g.get("page_cache_own_versions")
    if known is None:
        known = g.page_cache_own_versions = _versions_read_with_user()
    if known.keys() >= set(wanted):
        return tuple((scope, known[scope]) for scope in wanted)
    found = dict(db.session.execute(_versions_statement(len(wanted)),
                                    {f"s{i}": scope for i, scope in enumerate(wanted)}).all())
    return tuple((scope, found.get(scope, 0)) for scope in wanted)


# Values that must be new on every page view even when the fragment around them is not: the session's CSRF
# token and a form's one-time submission key. A cached fragment keeps a mark where each was.
FRESH: dict[str, Callable[[], str]] = {"csrf": generate_csrf, "key": lambda: uuid.uuid4().hex}
_MARK = re.compile("\x00(\\w+):(\\d+)\x00")


def fresh(value: str, kind: str) -> str:
    """Note that `value` (made by `FRESH[kind]`) is one of this page view's own; returns it."""
    if has_request_context():
        g.setdefault("fresh_values", {})[value] = kind
    return value


def cached(name: str, scopes: Iterable[str] | None, caller: Callable[[], str]) -> Markup:
    """The fragment `caller` renders, from the cache when nothing it shows has changed since.

    The key holds the page's address, the viewer, the language, today's date and the versions of
    `scopes` (and `global`); no `scopes` (None), no caching. CSRF tokens and submission keys in it are made
    afresh for each view. Only GET requests use the cache (a refused form shows what was typed).
    """
    if scopes is None or request.method not in ("GET", "HEAD") or not current_app.config.get("PAGE_CACHE", True):
        return caller()
    from merchant_alliance import i18n, timeutil

    viewer = current_user.get_id() if current_user.is_authenticated else "-"
    wanted = tuple(scopes)
    read = g.setdefault("page_cache_versions", {})  # a page of several fragments reads the versions once
    if wanted not in read:
        read[wanted] = versions(wanted)
    key = "|".join(map(str, ("fragment", name, request.full_path, viewer, i18n.current_locale_code(),
                             timeutil.local_today(), read[wanted])))
    marked = cache.get(key)
    if marked is None:
        fresh(generate_csrf(), "csrf")
        html = str(caller())
        marked = html
        for number, (value, kind) in enumerate(g.get("fresh_values", {}).items()):
            marked = marked.replace(value, f"\x00{kind}:{number}\x00")
        cache.set(key, marked)
        g.page_cache_misses = g.get("page_cache_misses", 0) + 1
    else:
        made: dict[str, str] = {}
        html = _MARK.sub(lambda m: made.get(m[0]) or made.setdefault(m[0], FRESH[m[1]]()), marked)
    return Markup(html)  # noqa: S704 - what a template rendered (and escaped) before


# Rows kept in this process by `remembered`, under the versions of their scopes when they were read.
_REMEMBERED: dict[tuple, tuple] = {}
REMEMBERED_MAX = 2000


def remembered(name: str, scopes: Iterable[str], load: Callable[[], tuple | None]) -> tuple | None:
    """The ORM rows `load()` reads (a tuple, or None), kept in this process under the versions of `scopes` (and
    `global`), and put into the request's session without a query while those versions hold: any write to the
    rows changes a version (see above), so kept rows are never stale. As for fragments, only GET requests use
    what is kept. Rows put back are clean copies (`Session.merge(load=False)`); a row's unloaded attributes load
    as usual when read."""
    if not has_request_context() or request.method not in ("GET", "HEAD") or \
            not current_app.config.get("PAGE_CACHE", True):
        return load()
    key = (name, versions(scopes))
    kept = _REMEMBERED.get(key)
    if kept is not None:
        return tuple(db.session.merge(row, load=False) for row in kept)
    rows = load()
    if rows is not None:
        if len(_REMEMBERED) >= REMEMBERED_MAX:
            _REMEMBERED.clear()
        _REMEMBERED[key] = tuple(_detached_copy(row) for row in rows)  # never the request's own instances
    return rows


def _detached_copy(row: Any) -> Any:
    """A copy of `row`'s loaded columns that no session holds (so another thread's request may merge it while
    this one goes on using, expiring or closing its own row)."""
    state = inspect(row)
    copy = state.mapper.class_manager.new_instance()
    for attribute in state.mapper.column_attrs:
        if attribute.key in state.dict:
            set_committed_value(copy, attribute.key, state.dict[attribute.key])
    make_transient_to_detached(copy)
    return copy


def lazy(build: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A value for a template, built the first time the template uses it (never, when the fragment
    that uses it comes from the cache)."""
    once = functools.cache(functools.partial(build, *args, **kwargs))
    return LocalProxy(once)
