"""`flask doctor`: checks that what the database says and what the file store holds still agree.

An engine only: each domain registers the checks that know its invariants (`register_check`), and the
command runs them all. A check yields one plain-language finding per problem; no finding, no problem.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

Check = Callable[[], Iterable[str]]


@dataclass(frozen=True)
class Finding:
    check: str
    message: str


CHECKS: dict[str, Check] = {}


def register_check(name: str, check: Check) -> None:
    """Add a named check; registering the same name again replaces it (an app built twice in tests)."""
    CHECKS[name] = check


def run_checks(names: Iterable[str] | None = None) -> list[Finding]:
    """Every finding of the named checks (all of them by default), in registration order."""
    wanted = list(CHECKS) if names is None else list(names)
    unknown = [name for name in wanted if name not in CHECKS]
    if unknown:
        raise KeyError(f"unknown checks: {', '.join(unknown)}")
    return [Finding(name, message) for name in wanted for message in CHECKS[name]()]
