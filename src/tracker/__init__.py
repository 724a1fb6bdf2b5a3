"""tracker: web and product telemetry into ClickHouse (embedded chDB by default)."""

__version__ = "0.1.0"
