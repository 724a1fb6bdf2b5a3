"""A one-node ClickHouse cluster on chDB, for loading the cluster form of the schema (test support).

chDB has no Keeper and no distributed DDL, but given a ``remote_servers`` entry naming
``localhost`` at its own ``tcp_port`` it treats the cluster's one replica as itself: a
``Distributed`` table then reads and writes the local table, and materialized views on a
Distributed source fire, as on one node of a real cluster. DDL is run with ``ON CLUSTER`` removed
and ``Replicated*MergeTree`` engines (and their Keeper arguments) made plain, which is all that
differs on one node.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
from chdb import session

CONFIG = """<clickhouse>
    <tcp_port>9000</tcp_port>
    <remote_servers>
        <{cluster}>
            <shard>
                <internal_replication>true</internal_replication>
                <replica><host>localhost</host><port>9000</port></replica>
            </shard>
        </{cluster}>
    </remote_servers>
    <backups><allowed_path>/</allowed_path></backups>
</clickhouse>
"""

_ON_CLUSTER = re.compile(r" ON CLUSTER \w+")
_KEEPER_ARGS = re.compile(r"Replicated(\w*MergeTree)\('[^']*', '[^']*'(?:, )?")
_REPLICATED = re.compile(r"\bReplicated(\w*MergeTree)\b")


def one_node(sql: str) -> str:
    """``sql`` as it runs on a single node: no ON CLUSTER, no replication."""
    sql = _ON_CLUSTER.sub("", sql)
    sql = _KEEPER_ARGS.sub(r"\1(", sql)
    return _REPLICATED.sub(r"\1", sql)


class ChdbCluster:
    """A chDB store in ``path`` that is the one node of ``cluster``."""

    def __init__(self, path: Path, cluster: str = "tracker_cluster") -> None:
        path.mkdir(parents=True, exist_ok=True)
        config = path.parent / f"{path.name}-cluster.xml"
        config.write_text(CONFIG.format(cluster=cluster))
        self.session = session.Session(f"file:{path}?config-file={config}")
        self.statements: list[str] = []

    def query(self, sql: str, fmt: str = "TSV") -> bytes:
        """The ``Sink.query`` shape: what the migrations and the schema loader call."""
        self.statements.append(sql)
        data: bytes = self.session.query(one_node(sql), fmt).bytes()
        return data

    def rows(self, sql: str) -> list[dict[str, Any]]:
        out = self.session.query(sql, "JSONEachRow").bytes()
        return [orjson.loads(line) for line in out.splitlines() if line]

    def close(self) -> None:
        self.session.close()
