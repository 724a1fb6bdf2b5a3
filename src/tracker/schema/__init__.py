"""DDL and topologies: the table catalogue (``tables``) and its renderer (``render``).

``model`` holds the declarative types, ``tables`` the catalogue of the Go schema's tables the
tracker touches, ``render`` the SQL for embedded chDB or a ClickHouse cluster.
"""
