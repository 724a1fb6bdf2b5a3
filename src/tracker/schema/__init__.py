"""DDL and topologies: the table catalogue (``tables``) and its renderer (``render``).

``model`` holds the declarative types, ``tables`` the catalogue of storage.md §2.2, ``render`` the
SQL for embedded chDB or a ClickHouse cluster.
"""
