"""Each ClickHouse server's config for the four cluster layouts, parsed back from its XML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from tracker.schema.cluster import ClusterError, Inputs, Layout, check_node, node_config, plan
from tracker.schema.render import Topology, render

NODES = (1, 2, 3, 6)
# (layout, nodes) -> (shards, replicas per shard), or None where the layout cannot be built.
SHAPES: dict[tuple[Layout, int], tuple[int, int] | None] = {
    (Layout.SINGLE, 1): (1, 1),
    (Layout.REPLICATED, 1): (1, 1),
    (Layout.REPLICATED, 2): (1, 2),
    (Layout.REPLICATED, 3): (1, 3),
    (Layout.REPLICATED, 6): (1, 6),
    (Layout.SHARDED, 1): (1, 1),
    (Layout.SHARDED, 2): (2, 1),
    (Layout.SHARDED, 3): (3, 1),
    (Layout.SHARDED, 6): (6, 1),
    (Layout.HYBRID, 6): (3, 2),
}
KEEPERS = {1: 1, 2: 2, 3: 3, 6: 5}  # an odd quorum from 3 nodes on


def parsed(layout: Layout, nodes: int) -> list[ET.Element]:
    cluster = plan(Inputs(nodes=nodes, layout=layout))
    return [ET.fromstring(node_config(cluster, node)) for node in cluster.nodes]


def text(root: ET.Element, path: str) -> str:
    found = root.find(path)
    assert found is not None, path
    assert found.text is not None, path
    return found.text


@pytest.mark.parametrize("nodes", NODES)
@pytest.mark.parametrize("layout", list(Layout))
def test_every_node_config_has_its_macros_shards_and_keeper_raft_list(
    layout: Layout, nodes: int
) -> None:
    shape = SHAPES.get((layout, nodes))
    if shape is None:
        with pytest.raises(ClusterError, match=r"layout is one node|does not add up"):
            plan(Inputs(nodes=nodes, layout=layout))
        return
    shards, replicas = shape
    roots = parsed(layout, nodes)
    hosts = (
        ["localhost"]
        if layout is Layout.SINGLE
        else [f"v4-tracker-{i}" for i in range(1, nodes + 1)]
    )
    raft_ids: set[str] = set()
    for index, root in enumerate(roots):
        assert text(root, "macros/shard") == str(index // replicas + 1)
        assert text(root, "macros/replica") == str(index % replicas + 1)
        assert text(root, "macros/layer") == "1"
        assert text(root, "macros/cluster") == "tracker_cluster"
        assert text(root, "interserver_http_host") == hosts[index]
        assert (
            text(root, "default_replica_path")
            == "/clickhouse/tables/{layer}-{shard}/{database}/{table}"
        )
        assert text(root, "default_replica_name") == "{replica}"
        assert text(root, "distributed_ddl/path") == "/clickhouse/task_queue/ddl"
        listed = [
            [text(r, "host") for r in shard.findall("replica")]
            for shard in root.findall("remote_servers/tracker_cluster/shard")
        ]
        assert listed == [hosts[s * replicas : (s + 1) * replicas] for s in range(shards)]
        assert all(
            text(s, "internal_replication") == "true"
            for s in root.findall("remote_servers/tracker_cluster/shard")
        )
        raft = [
            (text(s, "id"), text(s, "hostname"), text(s, "port"))
            for s in root.findall("keeper_server/raft_configuration/server")
        ]
        keeper_hosts = [text(n, "host") for n in root.findall("zookeeper/node")]
        assert keeper_hosts == hosts[: KEEPERS[nodes]]  # every node knows every Keeper
        if index < KEEPERS[nodes]:
            assert raft == [(str(i + 1), h, "9444") for i, h in enumerate(keeper_hosts)]
            server_id = text(root, "keeper_server/server_id")
            assert server_id == str(index + 1)
            assert server_id in {r[0] for r in raft}
            raft_ids.add(server_id)
        else:
            assert root.find("keeper_server") is None
    assert len(raft_ids) == KEEPERS[nodes]  # unique ids, each in the list


def test_the_go_containers_variables_give_the_defaults() -> None:
    env = {
        "NUM_NODES": "3",
        "CONTAINER_NAME_PATTERN": "ch",
        "CLUSTER_NAME": "analytics",
        "LAYER": "2",
        "REPLICA": "",  # Go's rule: set empty, the cluster is sharded
        "KEEPER_SERVERS": "7:ch-1:9555,8:ch-2:9555,9:ch-3:9555",
    }
    cluster = plan(Inputs.from_env(env))
    assert cluster.layout is Layout.SHARDED
    root = ET.fromstring(node_config(cluster, cluster.nodes[1]))
    assert [text(s, "replica/host") for s in root.findall("remote_servers/analytics/shard")] == [
        "ch-1",
        "ch-2",
        "ch-3",
    ]
    assert (
        text(root, "macros/shard"),
        text(root, "macros/layer"),
        text(root, "macros/cluster"),
    ) == ("2", "2", "analytics")
    assert text(root, "keeper_server/server_id") == "8"
    assert text(root, "keeper_server/raft_configuration/server/port") == "9555"
    flagged = Inputs.from_env({**env, "CLUSTER_TOPOLOGY": "hybrid"}, nodes=4, replicas=2)
    assert plan(flagged).layout is Layout.HYBRID
    assert len(plan(flagged).shards()) == 2


def test_a_renamed_cluster_is_the_name_in_every_statement_of_the_ddl() -> None:
    """Go's DDL said `tracker_cluster` whatever CLUSTER_NAME the servers were given."""
    statements = render(Topology.CLUSTER, cluster="analytics")
    assert all(" ON CLUSTER analytics" in statement for statement in statements)
    assert "tracker_cluster" not in "\n".join(statements)
    assert "ENGINE = Distributed(analytics, sfpla, events_local, cityHash64(vid))" in "\n".join(
        statements
    )


def test_shard_and_replica_that_contradict_the_layout_are_refused() -> None:
    """Go's 3-node example gave each node its own shard inside a one-shard cluster."""
    cluster = plan(Inputs(nodes=3, layout=Layout.REPLICATED))
    check_node(cluster, cluster.nodes[1], "1", "2")
    with pytest.raises(
        ClusterError, match="SHARD=2 does not match node 2 of the replicated layout"
    ):
        check_node(cluster, cluster.nodes[1], "2", "1")


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            Inputs(name="tracker-cluster"),
            "CLUSTER_NAME 'tracker-cluster' is not a plain identifier",
        ),
        (Inputs(pattern="bad name"), "Host name 'bad name'"),
        (Inputs(keeper_servers="1:host"), "KEEPER_SERVERS entry '1:host': expected id:host:port"),
        (Inputs(nodes=4, layout=Layout.HYBRID, replicas=3), "4 nodes with 3 replicas per shard"),
    ],
)
def test_inputs_that_make_no_cluster_say_what_to_change(inputs: Inputs, message: str) -> None:
    with pytest.raises(ClusterError, match=message):
        plan(inputs)


def test_cluster_topology_xml_is_refused_with_the_flag_to_use() -> None:
    with pytest.raises(ClusterError, match=re.escape("use --topology single|replicated|sharded")):
        Inputs.from_env({"CLUSTER_TOPOLOGY": "<shard><replica>…</replica></shard>"})
