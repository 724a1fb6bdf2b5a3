"""`tracker cluster render`: each ClickHouse server's config for a replicated or sharded cluster.

    tracker cluster render --nodes 3 --topology replicated --out DIR

writes ``DIR/<CONTAINER_NAME_PATTERN>-<i>/config.d/cluster.xml`` for every node (with ``--node I``,
or ``SERVER_ID`` in the environment, only that node's, to ``DIR/config.d/cluster.xml``). The Go
container's variables give the defaults: ``NUM_NODES``, ``CONTAINER_NAME_PATTERN``,
``CLUSTER_NAME``, ``LAYER``, ``KEEPER_SERVERS``, ``CLUSTER_TOPOLOGY`` (a layout name), and
``SHARD``/``REPLICA``, which must agree with the layout. See docs/clickhouse-server.md.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from tracker.cli.common import Commands, UsageError
from tracker.schema.cluster import ClusterError, Inputs, Layout, check_node, node_config, plan

NAMES = ("cluster",)


def add_parsers(commands: Commands) -> None:
    cluster = commands.add_parser(
        "cluster", help="render the ClickHouse server configs of a tracker cluster"
    )
    cluster.add_argument("action", choices=("render",))
    cluster.add_argument("--nodes", type=int, help="number of ClickHouse servers (NUM_NODES)")
    cluster.add_argument(
        "--topology",
        choices=[layout.value for layout in Layout],
        help="single, replicated (1 shard), sharded (1 replica each) or hybrid (CLUSTER_TOPOLOGY)",
    )
    cluster.add_argument("--replicas", type=int, help="hybrid: replicas per shard (default 2)")
    cluster.add_argument(
        "--node", type=int, help="render only this node (default: SERVER_ID if set, else all)"
    )
    cluster.add_argument("--out", type=Path, required=True, help="directory to write into")


def run(args: argparse.Namespace) -> int:
    env = os.environ
    try:
        inputs = Inputs.from_env(
            env,
            nodes=args.nodes,
            layout=Layout(args.topology) if args.topology else None,
            replicas=args.replicas,
        )
        cluster = plan(inputs)
        only = args.node or (int(env["SERVER_ID"]) if env.get("SERVER_ID", "").isdigit() else None)
        if only is not None and not 1 <= only <= len(cluster.nodes):
            raise ClusterError(f"Node {only} is not one of the {len(cluster.nodes)} nodes.")
        nodes = [n for n in cluster.nodes if only is None or n.index == only]
        if only is not None:
            check_node(cluster, nodes[0], inputs.shard, inputs.replica)
    except ClusterError as exc:
        raise UsageError(str(exc)) from exc
    shards = len(cluster.shards())
    print(
        f"tracker: {cluster.layout} cluster {cluster.name!r}: {shards} shard(s) x "
        f"{len(cluster.nodes) // shards} replica(s), Keeper on {len(cluster.keepers)} node(s)"
    )
    for node in nodes:
        directory = args.out if only is not None else args.out / node.name
        path = directory / "config.d" / "cluster.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(node_config(cluster, node))
        keeper = f"keeper {node.keeper_id}" if node.keeper_id is not None else "no keeper"
        print(f"  {node.name}: shard {node.shard}, replica {node.replica}, {keeper} -> {path}")
    print(
        f"tracker: point the tracker at any node (ClickHouseUrl, e.g. "
        f"http://{cluster.nodes[0].name}:8123) with ClickHouseCluster set to {cluster.name!r}."
    )
    return 0
