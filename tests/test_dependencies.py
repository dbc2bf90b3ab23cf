"""The dependency direction of DESIGN.md, read from the code's imports.

works and safety → funds → projects → shops → accounts; storage depends on no domain; authz is an engine
that knows only accounts; no view imports another domain's views. Imports under `if TYPE_CHECKING:` are
for type hints only and do not count; imports inside functions do.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

from merchant_alliance import DOMAINS

PACKAGE = Path(__file__).resolve().parent.parent / "merchant_alliance"
# Domains still to come are held to the same rules as soon as they exist.
ALL_DOMAINS = set(DOMAINS) | {"works", "safety", "api"}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> set[str]:
    """Every merchant_alliance module imported anywhere in `tree`, except for type hints."""
    found: set[str] = set()
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            found |= {name for child in node.orelse for name in _imports(ast.Module(body=[child], type_ignores=[]))}
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "merchant_alliance":
                found |= {f"merchant_alliance.{alias.name}" for alias in node.names}
            elif node.module.startswith("merchant_alliance."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("merchant_alliance.")}
        found |= _imports(node)
    return found


@cache
def graph() -> dict[str, set[str]]:
    """module name → the merchant_alliance modules it imports."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = _imports(ast.parse(path.read_text(encoding="utf-8")))
    return modules


def top(module: str) -> str:
    """The first part below merchant_alliance: the domain or the shared module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imported_by(package: str) -> dict[str, set[str]]:
    """For each module of `package`, the domains it imports (other than its own)."""
    return {module: {top(name) for name in imports if top(name) in ALL_DOMAINS and top(name) != package}
            for module, imports in graph().items() if top(module) == package}


def offenders(package: str, forbidden: set[str]) -> dict[str, set[str]]:
    return {module: found & forbidden for module, found in imported_by(package).items() if found & forbidden}


def test_the_graph_sees_the_imports_it_should():
    """The reader itself works: known imports are found, type-hint imports are not."""
    assert "merchant_alliance.projects.models" in graph()["merchant_alliance.funds.budgets"]
    assert "merchant_alliance.shops.models" not in graph()["merchant_alliance.accounts.services"]


def test_storage_imports_no_domain():
    assert offenders("storage", ALL_DOMAINS) == {}


def test_accounts_imports_no_other_domain():
    """Notifications is a shared service every domain may call (so may accounts)."""
    assert offenders("accounts", ALL_DOMAINS - {"notifications"}) == {}


def test_authz_is_an_engine_that_knows_only_accounts():
    found = {top(name) for name in graph()["merchant_alliance.authz"]}
    assert found & ALL_DOMAINS <= {"accounts"}


@pytest.mark.parametrize(("package", "never"), [
    ("shops", {"projects", "funds", "works", "safety"}),
    ("photos", {"projects", "funds", "works", "safety"}),
    ("projects", {"funds", "works", "safety"}),
    ("funds", {"works", "safety"}),
])
def test_dependencies_point_one_way(package, never):
    assert offenders(package, never) == {}


def test_no_view_imports_another_domains_views():
    def is_view(module: str) -> bool:
        return module.endswith(".views") or module.endswith("_views")

    crossing = {module: {name for name in imports if is_view(name) and top(name) != top(module)}
                for module, imports in graph().items() if is_view(module)}
    assert {module: names for module, names in crossing.items() if names} == {}


def test_create_app_names_no_domain_but_in_its_list():
    """Adding a domain is one line in DOMAINS: the factory imports no domain module directly."""
    factory = graph()["merchant_alliance"]
    assert {top(name) for name in factory} & ALL_DOMAINS == set()


# --- thin views: a view parses the request, calls a query or a service, renders or redirects -----------

VIEW_MODULES = sorted(path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*views.py"))
STATEMENT_BUILDERS = {"select", "update", "delete", "insert", "text"}
ONE_CALL_ARGUMENT = {"paginate", "first_or_404", "one_or_404"}  # db.paginate(queries.x(...)) and the like
READ_SIDE = {"queries", "services"}


class _ViewChecker(ast.NodeVisitor):
    """Finds the database work a view module does itself instead of calling `queries` or `services`.

    Allowed: `db.get_or_404(...)`; `db.session.get(Model, some_id)` for the URL's object, where `some_id` is a
    parameter of the function (the URL's path) or read from the URL's arguments (`int_arg`, `request.args`);
    `db.paginate(<one call to a queries or services function>)`. Anything else on `db.session` (execute,
    scalars, scalar, query, commit, rollback, add, ...), a statement built here (select, update, delete,
    insert, text), `Model.query` and other `db.` calls are reported as "function: what"; so is catching a
    DomainError, which `errors.refusals` turns into a message (with the rollback) for every view.
    """

    def __init__(self, tree: ast.Module) -> None:
        self.found: list[str] = []
        self.scope: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
        self.builders: set[str] = set()  # local names of sqlalchemy's statement builders
        self.sqlalchemy: set[str] = {"sqlalchemy", "sa"}  # local names of the sqlalchemy module
        self.modules: dict[str, str] = {}  # local name → merchant_alliance module it stands for
        self.functions: dict[str, str] = {}  # local name → the merchant_alliance module it was imported from
        self.models: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    local = alias.asname or alias.name
                    if node.module.split(".")[0] == "sqlalchemy" and alias.name in STATEMENT_BUILDERS:
                        self.builders.add(local)
                    elif node.module.startswith("merchant_alliance"):
                        if node.module.endswith(".models"):
                            self.models.add(local)
                        self.modules[local] = f"{node.module}.{alias.name}"
                        self.functions[local] = node.module
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "sqlalchemy":
                        self.sqlalchemy.add(alias.asname or alias.name)
                    elif alias.name.startswith("merchant_alliance.") and alias.asname:
                        self.modules[alias.asname] = alias.name
        self.visit(tree)

    def report(self, node: ast.AST, what: str) -> None:
        where = self.scope[-1].name if self.scope else "<module>"
        self.found.append(f"{where}: {what} (line {node.lineno})")

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.scope.append(node)
        self.generic_visit(node)
        self.scope.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def from_the_url(self) -> set[str]:
        """Names that hold a part of the URL: the function's parameters, values read by int_arg or request.args."""
        names = {arg.arg for function in self.scope for arg in
                 (*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs)}
        for function in self.scope:
            for node in ast.walk(function):
                if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                        and any(_reads_the_url(part) for part in ast.walk(node.value))):
                    names.add(node.targets[0].id)
        return names

    def is_read_side_call(self, node: ast.AST) -> bool:
        """One call to a function of a `queries` or `services` module, as it comes (no `.where()` added)."""
        if not isinstance(node, ast.Call):
            return False
        callee = node.func
        if isinstance(callee, ast.Attribute) and isinstance(callee.value, ast.Name):
            module = self.modules.get(callee.value.id, "")
        elif isinstance(callee, ast.Name):
            module = self.functions.get(callee.id, "")
        else:
            return False
        return module.rsplit(".", 1)[-1] in READ_SIDE

    def visit_Call(self, node: ast.Call) -> None:
        callee = node.func
        if isinstance(callee, ast.Name) and callee.id in self.builders:
            self.report(node, f"builds {callee.id}()")
        elif isinstance(callee, ast.Attribute):
            base = callee.value
            if isinstance(base, ast.Name) and base.id in self.sqlalchemy and callee.attr in STATEMENT_BUILDERS:
                self.report(node, f"builds {callee.attr}()")
            elif _is_db_session(base):
                url_object = (callee.attr == "get" and len(node.args) == 2 and isinstance(node.args[1], ast.Name)
                              and node.args[1].id in self.from_the_url())
                if not url_object:
                    self.report(node, f"db.session.{callee.attr}()")
            elif isinstance(base, ast.Name) and base.id == "db" and callee.attr != "get_or_404":
                if callee.attr not in ONE_CALL_ARGUMENT:
                    self.report(node, f"db.{callee.attr}()")
                elif not (node.args and self.is_read_side_call(node.args[0])):
                    self.report(node, f"db.{callee.attr}() of a statement not from queries or services")
        self.generic_visit(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        caught = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
        if any(isinstance(name, ast.Name | ast.Attribute) and ast.unparse(name).endswith("DomainError")
               for name in caught):
            self.report(node, "catches DomainError")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "query" and isinstance(node.value, ast.Name) and node.value.id in self.models:
            self.report(node, f"{node.value.id}.query")
        self.generic_visit(node)


def _reads_the_url(node: ast.AST) -> bool:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "int_arg":
        return True
    return (isinstance(node, ast.Attribute) and node.attr in {"args", "view_args"}
            and isinstance(node.value, ast.Name) and node.value.id == "request")


def _is_db_session(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "session"
            and isinstance(node.value, ast.Name) and node.value.id == "db")


def database_work_in_views(source: str) -> list[str]:
    return _ViewChecker(ast.parse(source)).found


def test_the_view_checker_sees_queries_written_in_a_view():
    """The checker itself works: each way of querying in a view is found, the allowed calls are not."""
    source = '''
from sqlalchemy import select, func, update as sa_update
from merchant_alliance.extensions import db
from merchant_alliance.shops import queries, services
from merchant_alliance.shops.models import Shop
from merchant_alliance.audit import events_for_scope

def shop(shop_id):
    shop = db.get_or_404(Shop, shop_id)
    same = db.session.get(Shop, shop_id)
    other_id = int_arg("other")
    other = db.session.get(Shop, other_id)
    rows = queries.register_rows(shop)
    page = db.paginate(services.notifications_for(shop.id))
    return rows, page

def bad(shop_id, form):
    typed_id = form.shop_id.data
    db.session.get(Shop, typed_id)
    db.session.execute(select(Shop.id))
    db.session.scalars(services.signboards_of(shop_id))
    db.session.scalar(func.count())
    db.session.query(Shop)
    db.session.get(Shop, form.shop_id.data)
    db.session.commit()
    sa_update(Shop)
    db.paginate(events_for_scope(street_id=1))
    db.paginate(queries.register_rows(shop_id).where(Shop.active))
    Shop.query.all()
    try:
        services.create_shop(form)
    except (ValueError, DomainError):
        db.session.rollback()
'''
    assert [line.split(" (")[0] for line in database_work_in_views(source)] == [
        "bad: db.session.get()", "bad: db.session.execute()", "bad: builds select()", "bad: db.session.scalars()",
        "bad: db.session.scalar()", "bad: db.session.query()", "bad: db.session.get()",
        "bad: db.session.commit()", "bad: builds sa_update()",
        "bad: db.paginate() of a statement not from queries or services",
        "bad: db.paginate() of a statement not from queries or services", "bad: Shop.query",
        "bad: catches DomainError", "bad: db.session.rollback()",
    ]


@pytest.mark.parametrize("module", VIEW_MODULES)
def test_views_leave_the_database_to_queries_and_services(module):
    """No function in a view module runs a query of its own: it is one call into `queries` or `services`
    (the URL's object by `db.get_or_404` or `db.session.get`), so the API, the CLI and the tests reach the
    same reads; and no view catches a refusal itself: `errors.refusals` rolls back and tells it, once."""
    source = (PACKAGE / module).read_text(encoding="utf-8")
    assert database_work_in_views(source) == []
