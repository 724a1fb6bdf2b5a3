"""Each cluster layout's rendered server config and DDL, loaded into the ClickHouse engine (chDB).

chDB runs no Keeper, no distributed DDL queue and no network, so this proves less than a real
cluster would. It proves: the node's ``config.d`` XML is a config ClickHouse loads (the cluster
and the macros read back from ``system.clusters`` and ``system.macros``); every statement of the
cluster DDL, with ``ON CLUSTER`` removed (and ``POPULATE``, which would read the views' sources
through Distributed tables, over the network), is valid and creates its table, with the Replicated
engines taking their Keeper paths from that node's macros (Keeper is ClickHouse's in-process test
Keeper, the one thing added to the rendered config); the Distributed tables name the cluster and
the deterministic sharding key. And on a one-shard cluster whose shard is chDB itself, the server
sink's insert into a Distributed table, replayed, is stored once with its views' rows. Not proven
here: ON CLUSTER execution, replication between replicas, an insert spread over several shards
(chDB reaches any other shard over the network, which has no server here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from tests.conftest import ROOT, cli

from tracker.schema.cluster import Inputs, Layout, node_config, plan
from tracker.schema.render import Topology, render
from tracker.schema.tables import ALL_TABLES, INNER_VIEWS, MATERIALIZED_VIEWS, VIEWS

TEST_KEEPER = (
    '<clickhouse><zookeeper replace="replace">'
    "<implementation>testkeeper</implementation></zookeeper></clickhouse>\n"
)
LOAD = """
import json, os, sys
from chdb import session
s = session.Session(f"file:{sys.argv[1]}/db?config-file={sys.argv[1]}/config.xml")
rows = lambda sql: [json.loads(l) for l in s.query(sql, "JSONEachRow").bytes().splitlines()]
out = {"clusters": rows("SELECT shard_num, replica_num, host_name FROM system.clusters WHERE cluster = 'analytics'"),
       "macros": {r["macro"]: r["substitution"] for r in rows("SELECT * FROM system.macros")}}
try:
    for sql in json.load(sys.stdin):
        s.query(sql)
except Exception as exc:
    print(sql[:300], exc, file=sys.stderr, flush=True)
    os._exit(1)
out["replicas"] = rows("SELECT table, zookeeper_path, replica_name FROM system.replicas WHERE database = 'sfpla'")
out["tables"] = rows("SELECT name, engine, engine_full FROM system.tables WHERE database = 'sfpla'")
print(json.dumps(out), flush=True)
os._exit(0)  # a replicated table waits for a Keeper session that never finishes on exit
"""
REPLAY = """
import json, os, sys
from pathlib import Path
from tests.chdb_cluster import ChdbCluster
from tracker.schema.render import Topology, render
from tracker.sinks.clickhouse import ClickHouseServerSink
node = ChdbCluster(Path(sys.argv[1]))
for sql in render(Topology.CLUSTER, full=False):
    # One node: the engines are made plain, so the plain engine's window keeps the tokens.
    node.query(sql.replace(" replicated_deduplication_window", " non_replicated_deduplication_window"))
rows = sys.stdin.buffer.read()
sink = ClickHouseServerSink("http://unused:8123", cluster="tracker_cluster")
out = []
for token in sys.argv[2:]:
    settings = ", ".join(f"{k} = {v!r}" for k, v in sink.insert_settings(token).items())
    node.session.query(f"INSERT INTO sfpla.events SETTINGS {settings} FORMAT JSONEachRow\\n".encode() + rows)
    counts = [node.rows(f"SELECT toInt64(count()) AS n FROM sfpla.{t}_local")[0]["n"] for t in ("events", "reqs")]
    out.append(counts)
print(json.dumps(out), flush=True)
os._exit(0)
"""
CASES = [(Layout.SINGLE, 1), (Layout.REPLICATED, 3), (Layout.SHARDED, 3), (Layout.HYBRID, 6)]


def load(layout: Layout, nodes: int, root: Path) -> tuple[Any, dict[str, Any]]:
    """Render the layout, load its last node's config and the DDL into chDB; what it reports."""
    cluster = plan(Inputs(nodes=nodes, layout=layout, name="analytics"))
    node = cluster.nodes[-1]
    folder = root / layout.value
    (folder / "config.d").mkdir(parents=True)
    (folder / "config.xml").write_text(node_config(cluster, node))
    (folder / "config.d" / "testkeeper.xml").write_text(TEST_KEEPER)
    # POPULATE would read the views' sources through Distributed tables: over the network.
    ddl = [
        s.replace(" ON CLUSTER analytics", "").replace("\nPOPULATE AS", " AS")
        for s in render(Topology.CLUSTER, cluster="analytics")
    ]
    result = subprocess.run(
        [sys.executable, "-c", LOAD, str(folder)],
        input=json.dumps(ddl).encode(),
        capture_output=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    return node, json.loads(result.stdout)


def test_each_layouts_config_and_ddl_load_into_the_clickhouse_engine(tmp_path: Path) -> None:
    with ThreadPoolExecutor(len(CASES)) as pool:
        loaded = list(pool.map(lambda case: load(*case, tmp_path), CASES))
    for (layout, nodes), (node, report) in zip(CASES, loaded, strict=True):
        cluster = plan(Inputs(nodes=nodes, layout=layout, name="analytics"))
        assert [(r["shard_num"], r["replica_num"], r["host_name"]) for r in report["clusters"]] == [
            (n.shard, n.replica, n.host) for n in cluster.nodes
        ], layout
        assert report["macros"] == {
            "cluster": "analytics", "shard": str(node.shard), "replica": str(node.replica), "layer": "1"
        }  # fmt: skip
        replicas = {r["table"]: r for r in report["replicas"]}
        inner = [name for name in replicas if name.startswith(".inner")]
        assert len(inner) == len(INNER_VIEWS), layout  # argument-less: default_replica_path
        assert set(replicas) - set(inner) == {f"{name}_local" for name in ALL_TABLES}, layout
        assert replicas["events_local"]["zookeeper_path"] == (
            f"/clickhouse/tables/1-{node.shard}/sfpla/events_local"
        )
        assert replicas["events_local"]["replica_name"] == str(node.replica)
        engines = {t["name"]: t for t in report["tables"]}
        views = len(VIEWS) + len(MATERIALIZED_VIEWS) + len(INNER_VIEWS)
        assert len(engines) == 2 * len(ALL_TABLES) + views + len(inner)
        assert engines["events"]["engine_full"] == (
            "Distributed('analytics', 'sfpla', 'events_local', cityHash64(vid))"
        )
        assert engines["hits"]["engine_full"].endswith("cityHash64(hhash, url))")
        assert engines["payments_local"]["engine"] == "ReplicatedReplacingMergeTree"


def test_the_render_command_writes_one_config_per_node(tmp_path: Path) -> None:
    out = cli(
        "cluster", "render", "--nodes", "3", "--topology", "replicated", "--out", str(tmp_path)
    )
    assert (
        "replicated cluster 'tracker_cluster': 1 shard(s) x 3 replica(s), Keeper on 3 node(s)"
        in out.stdout
    )
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.xml"))
    assert files == [f"v4-tracker-{i}/config.d/cluster.xml" for i in (1, 2, 3)]
    one = cli(
        "cluster", "render", "--out", str(tmp_path / "node2"),
        env={"NUM_NODES": "3", "SERVER_ID": "2", "CLUSTER_TOPOLOGY": "sharded", "SHARD": "2"},
    )  # fmt: skip
    assert "v4-tracker-2: shard 2, replica 1, keeper 2" in one.stdout
    assert (tmp_path / "node2" / "config.d" / "cluster.xml").exists()
    wrong = cli(
        "cluster", "render", "--out", str(tmp_path / "x"), check=False,
        env={"NUM_NODES": "3", "SERVER_ID": "2", "CLUSTER_TOPOLOGY": "replicated", "SHARD": "2"},
    )  # fmt: skip
    assert wrong.returncode == 2
    assert "SHARD=2 does not match node 2 of the replicated layout" in wrong.stderr


def test_the_cluster_compose_file_mounts_the_configs_the_render_command_writes(
    tmp_path: Path,
) -> None:
    """docker/compose.cluster.yml renders the configs, then each node copies its own by its host
    name: the names must be the ones `tracker cluster render` writes for that environment."""
    services = YAML(typ="safe").load((ROOT / "docker" / "compose.cluster.yml").read_text())[
        "services"
    ]
    render_step = services["cluster-config"]
    command = [str(arg) for arg in render_step["command"]]
    out = command.index("--out") + 1
    command[out] = str(tmp_path)
    cli(*command, env={k: str(v) for k, v in render_step["environment"].items()})
    for name, service in services.items():
        if name.startswith("clickhouse-"):
            config = tmp_path / service["hostname"] / "config.d" / "cluster.xml"
            assert config.exists(), name
            cluster = plan(Inputs(nodes=3, layout=Layout.REPLICATED, pattern="clickhouse"))
            node = next(n for n in cluster.nodes if n.name == service["hostname"])
            assert config.read_text() == node_config(cluster, node)


def test_a_batch_replayed_through_a_distributed_table_is_stored_once(tmp_path: Path) -> None:
    """The server sink's insert, sent twice to the `Distributed` events of a one-shard cluster
    on chDB (the shard is chDB itself): the token reaches the shard's table and its views' tables,
    so the replay stores nothing; another batch with the same rows is stored."""
    rows = b"\n".join(
        json.dumps({"vid": f"00000000-0000-4000-8000-{i % 7:012d}", "ename": "e"}).encode()
        for i in range(100)
    )
    result = subprocess.run(
        [sys.executable, "-c", REPLAY, str(tmp_path / "node"), "batch-1", "batch-1", "batch-2"],
        input=rows,
        capture_output=True,
        timeout=180,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    reqs = 7  # one reqs row per visitor and day, summed
    assert json.loads(result.stdout) == [[100, reqs], [100, reqs], [200, 2 * reqs]]
