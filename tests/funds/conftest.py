"""The fund's tests reuse the proposal fixtures: projects move through the lifecycle to be funded."""

from tests.projects.conftest import cast, client_as, in_request, proposal  # noqa: F401
