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
