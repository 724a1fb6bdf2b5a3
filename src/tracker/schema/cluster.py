"""Each ClickHouse server's configuration for a tracker cluster, as ``config.d`` XML.

The Go tracker's container wrote one node's ``config.d/cluster.xml`` from environment variables
at boot. This renders the same files for every node of a layout, from the same variables
(`Inputs.from_env`), with the Go bugs fixed:

* four layouts: ``single`` (one node; Keeper with one member), ``replicated`` (1 shard x N),
  ``sharded`` (N x 1) and ``hybrid`` (N/R shards x R replicas, which Go could only take as
  hand-written ``CLUSTER_TOPOLOGY`` XML). Go picked sharded only when ``REPLICA`` was set empty,
  and its 3-node examples gave each node its own shard macro inside a one-shard cluster;
* macros follow the layout (``SHARD``/``REPLICA``, when set, must agree with it);
* ``CLUSTER_NAME`` names the ``remote_servers`` entry and a ``{cluster}`` macro, and the tracker
  uses the name it is given (``ClickHouseCluster``) in all its DDL: Go's DDL said
  ``tracker_cluster`` whatever the servers were told;
* Keeper runs on an odd number of nodes (all of them up to 3, then 3, then 5 from 5 nodes on), and
  every node names them in ``<zookeeper>`` instead of relying on an inferred client.

Every node gets: its ``interserver_http_host``, macros ``shard``, ``replica``, ``layer``, ``cluster``, Go's
``default_replica_path``/``default_replica_name``, ``remote_servers``, ``zookeeper``,
``distributed_ddl`` and, on Keeper members, ``keeper_server`` with the raft list. Listen
addresses and ports are left to the server's own config (the default ports are assumed: native
9000 in ``remote_servers``, Keeper 2181 and raft 9444), so the file adds to the official image's
config without repeating an element it sets.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from tracker.schema.render import DEFAULT_CLUSTER, KEEPER_PATH, REPLICA_NAME

TCP_PORT = 9000  # the servers' own ports (HTTP 8123, native 9000) are their defaults
KEEPER_CLIENT_PORT, KEEPER_RAFT_PORT = 2181, 9444
DEFAULT_PATTERN = "v4-tracker"
DDL_QUEUE = "/clickhouse/task_queue/ddl"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")


class Layout(StrEnum):
    SINGLE = "single"
    REPLICATED = "replicated"
    SHARDED = "sharded"
    HYBRID = "hybrid"


class ClusterError(ValueError):
    """Inputs that do not make a cluster; the message says what to change."""


@dataclass(frozen=True)
class Node:
    index: int  # 1-based, the container's number in CONTAINER_NAME_PATTERN-<index>
    name: str  # the container (and directory) name
    host: str  # how the other nodes reach it (localhost for a single node)
    shard: int
    replica: int
    keeper_id: int | None  # raft server id when this node runs Keeper


@dataclass(frozen=True)
class Cluster:
    name: str
    layout: Layout
    layer: str
    nodes: tuple[Node, ...]
    keepers: tuple[tuple[int, str, int], ...]  # (raft id, host, raft port)

    def shards(self) -> list[list[Node]]:
        count = max(node.shard for node in self.nodes)
        return [
            sorted((n for n in self.nodes if n.shard == s), key=lambda n: n.replica)
            for s in range(1, count + 1)
        ]


@dataclass(frozen=True)
class Inputs:
    """What a cluster is made from; `from_env` reads the Go container's variables."""

    nodes: int = 1
    layout: Layout | None = None  # None: Go's rule (REPLICA set empty → sharded, else replicated)
    replicas: int = 2  # hybrid: replicas per shard
    pattern: str = DEFAULT_PATTERN
    name: str = DEFAULT_CLUSTER
    layer: str = "1"
    keeper_servers: str = ""  # "id:host:port,..." (KEEPER_SERVERS); empty: generated
    shard: str | None = None  # SHARD / REPLICA of one node: checked against the layout
    replica: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], **flags: object) -> Inputs:
        values: dict[str, object] = {
            "pattern": env.get("CONTAINER_NAME_PATTERN") or DEFAULT_PATTERN,
            "name": env.get("CLUSTER_NAME") or DEFAULT_CLUSTER,
            "layer": env.get("LAYER") or "1",
            "keeper_servers": env.get("KEEPER_SERVERS", ""),
            "shard": env.get("SHARD") or None,
            "replica": env.get("REPLICA") or None,
        }
        if env.get("NUM_NODES"):
            values["nodes"] = _whole("NUM_NODES", env["NUM_NODES"])
        topology = env.get("CLUSTER_TOPOLOGY", "").strip()
        if topology in Layout.__members__.values():
            values["layout"] = Layout(topology)
        elif topology:
            raise ClusterError(
                "CLUSTER_TOPOLOGY holds shard XML: use --topology single|replicated|sharded|"
                "hybrid (with --replicas) instead; every layout is generated."
            )
        elif "REPLICA" in env and not env["REPLICA"]:
            values["layout"] = Layout.SHARDED  # Go's rule: REPLICA set empty selects sharded
        values.update({k: v for k, v in flags.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def _whole(what: str, text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise ClusterError(f"{what} is {text!r}: expected a whole number of at least 1.")
    return int(text)


def _keepers(inputs: Inputs, nodes: list[tuple[int, str]]) -> tuple[tuple[int, str, int], ...]:
    if inputs.keeper_servers.strip():
        keepers = []
        for item in inputs.keeper_servers.split(","):
            parts = item.strip().split(":")
            if len(parts) != 3 or not parts[0].isdigit() or not parts[2].isdigit():
                raise ClusterError(
                    f"KEEPER_SERVERS entry {item.strip()!r}: expected id:host:port, "
                    "e.g. 1:v4-tracker-1:9444."
                )
            keepers.append((int(parts[0]), _host(parts[1]), int(parts[2])))
        return tuple(keepers)
    count = len(nodes) if len(nodes) <= 3 else 5 if len(nodes) >= 5 else 3
    return tuple((index, host, KEEPER_RAFT_PORT) for index, host in nodes[:count])


def _host(text: str) -> str:
    if not _HOST.fullmatch(text):
        raise ClusterError(f"Host name {text!r}: expected letters, digits, dots and hyphens.")
    return text


def plan(inputs: Inputs) -> Cluster:
    """Which node is which shard and replica, and which nodes run Keeper."""
    if not _IDENTIFIER.fullmatch(inputs.name):
        raise ClusterError(
            f"CLUSTER_NAME {inputs.name!r} is not a plain identifier: expected letters, digits "
            "and underscores (it is an XML element and a name in the tracker's DDL)."
        )
    _host(inputs.pattern)
    count = inputs.nodes
    layout = inputs.layout or (Layout.SINGLE if count == 1 else Layout.REPLICATED)
    replicas = {
        Layout.SINGLE: 1,
        Layout.REPLICATED: count,
        Layout.SHARDED: 1,
        Layout.HYBRID: inputs.replicas,
    }[layout]
    if layout is Layout.SINGLE and count != 1:
        raise ClusterError(f"The single layout is one node, not {count}: use --nodes 1.")
    if layout is Layout.HYBRID and (replicas < 2 or count % replicas or count // replicas < 2):
        raise ClusterError(
            f"A hybrid cluster of {count} nodes with {replicas} replicas per shard does not add "
            "up: expected at least 2 shards of at least 2 replicas (e.g. --nodes 6 --replicas 2)."
        )
    names = [f"{inputs.pattern}-{i}" for i in range(1, count + 1)]
    hosts = ["localhost"] if layout is Layout.SINGLE else names
    keepers = _keepers(inputs, list(enumerate(hosts, start=1)))
    keeper_ids = {host: kid for kid, host, _ in keepers}
    nodes = tuple(
        Node(
            i,
            names[i - 1],
            hosts[i - 1],
            (i - 1) // replicas + 1,
            (i - 1) % replicas + 1,
            keeper_ids.get(hosts[i - 1]),
        )
        for i in range(1, count + 1)
    )
    return Cluster(inputs.name, layout, inputs.layer, nodes, keepers)


def check_node(cluster: Cluster, node: Node, shard: str | None, replica: str | None) -> None:
    """SHARD and REPLICA given to one node's container must say what the layout says."""
    for what, given, expected in (("SHARD", shard, node.shard), ("REPLICA", replica, node.replica)):
        if given is not None and given != str(expected):
            raise ClusterError(
                f"{what}={given} does not match node {node.index} of the {cluster.layout} layout "
                f"(shard {node.shard}, replica {node.replica}): unset it or fix the node number."
            )


def _sub(parent: ET.Element, tag: str, text: object = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = str(text)
    return element


def node_config(cluster: Cluster, node: Node) -> str:
    """The ``config.d`` XML of one node."""
    root = ET.Element("clickhouse")
    root.append(
        ET.Comment(
            f" written by `tracker cluster render`: {node.name}, node {node.index} of "
            f"{len(cluster.nodes)} ({cluster.layout}), shard {node.shard}, replica {node.replica} "
        )
    )
    _sub(root, "interserver_http_host", node.host)
    macros = _sub(root, "macros")
    for tag, value in (
        ("cluster", cluster.name),
        ("shard", node.shard),
        ("replica", node.replica),
        ("layer", cluster.layer),
    ):
        _sub(macros, tag, value)
    _sub(root, "default_replica_path", KEEPER_PATH)
    _sub(root, "default_replica_name", REPLICA_NAME)
    servers = _sub(_sub(root, "remote_servers"), cluster.name)
    for shard in cluster.shards():
        element = _sub(servers, "shard")
        _sub(element, "internal_replication", "true")
        for member in shard:
            replica = _sub(element, "replica")
            _sub(replica, "host", member.host)
            _sub(replica, "port", TCP_PORT)
    keeper_client = _sub(root, "zookeeper")
    for _, host, _ in cluster.keepers:
        entry = _sub(keeper_client, "node")
        _sub(entry, "host", host)
        _sub(entry, "port", KEEPER_CLIENT_PORT)
    if node.keeper_id is not None:
        keeper = _sub(root, "keeper_server")
        _sub(keeper, "tcp_port", KEEPER_CLIENT_PORT)
        _sub(keeper, "server_id", node.keeper_id)
        _sub(keeper, "log_storage_path", "/var/lib/clickhouse/coordination/log")
        _sub(keeper, "snapshot_storage_path", "/var/lib/clickhouse/coordination/snapshots")
        coordination = _sub(keeper, "coordination_settings")
        _sub(coordination, "operation_timeout_ms", 10000)
        _sub(coordination, "session_timeout_ms", 30000)
        raft = _sub(keeper, "raft_configuration")
        for kid, host, port in cluster.keepers:
            server = _sub(raft, "server")
            _sub(server, "id", kid)
            _sub(server, "hostname", host)
            _sub(server, "port", port)
    _sub(_sub(root, "distributed_ddl"), "path", DDL_QUEUE)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


__all__ = [
    "Cluster",
    "ClusterError",
    "Inputs",
    "Layout",
    "Node",
    "check_node",
    "node_config",
    "plan",
]
