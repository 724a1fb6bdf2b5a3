"""Fixtures of the backend tests' real parts (tests/integration/backends.py)."""

from tests.integration.backends import graph_api, moto_server, nats_server

__all__ = ["graph_api", "moto_server", "nats_server"]
