-- A database as the Go tracker's `make schema-load` leaves it, in the form its DDL has
-- (ON CLUSTER tracker_cluster, Replicated engines without Keeper arguments, `T_local` tables
-- behind `Distributed(tracker_cluster, sfpla, T_local, rand())` tables), written from the facts
-- of its schema: names, types, defaults, engines and keys. It is the early-2026 variant that
-- existing deployments still run: `events` is ReplacingMergeTree(created_at) partitioned by
-- (oid, hhash, month), its device and author columns are still named `did` and `auth`, it has no
-- `arm_id` or `mcid`, and visitor_interests' confidences are Float32. A subset of the 226
-- objects: the rest is missing, as after a partial load. Statements end with ";" at a line end.

CREATE DATABASE IF NOT EXISTS sfpla ON CLUSTER tracker_cluster ENGINE = Atomic;

CREATE TABLE sfpla.sequences_local ON CLUSTER tracker_cluster (
    name String DEFAULT '',
    seq UInt32 DEFAULT 0,
    updated_at DateTime64(3) DEFAULT now64(3)
) ENGINE = ReplicatedReplacingMergeTree(updated_at)
ORDER BY name;

CREATE TABLE IF NOT EXISTS sfpla.sequences ON CLUSTER tracker_cluster AS sfpla.sequences_local
ENGINE = Distributed(tracker_cluster, sfpla, sequences_local, rand());

INSERT INTO sfpla.sequences (name, seq) VALUES ('DB_VER', 3);

CREATE TABLE sfpla.events_local ON CLUSTER tracker_cluster (
    eid UUID DEFAULT generateUUIDv4(),
    oid UUID DEFAULT '00000000-0000-0000-0000-000000000000',
    org LowCardinality(String) DEFAULT '',
    vid UUID DEFAULT '00000000-0000-0000-0000-000000000000',
    did UUID DEFAULT '00000000-0000-0000-0000-000000000000',
    sid UUID DEFAULT '00000000-0000-0000-0000-000000000000',
    hhash String DEFAULT '',
    app String DEFAULT '',
    rel String DEFAULT '',
    cflags Int64 DEFAULT 0,
    created_at DateTime64(3) DEFAULT now64(3),
    uid UUID DEFAULT '00000000-0000-0000-0000-000000000000',
    tid UUID DEFAULT '00000000-0000-0000-0000-000000000000',
    last String DEFAULT '',
    url String DEFAULT '',
    ip String DEFAULT '',
    iphash String DEFAULT '',
    lat Float64 DEFAULT 0.0,
    lon Float64 DEFAULT 0.0,
    ptyp String DEFAULT '',
    bhash String DEFAULT '',
    auth UUID DEFAULT '00000000-0000-0000-0000-000000000000',
    duration Int64 DEFAULT 0,
    xid String DEFAULT '',
    split String DEFAULT '',
    ename String DEFAULT '',
    source String DEFAULT '',
    medium String DEFAULT '',
    campaign String DEFAULT '',
    content String DEFAULT '',
    country String DEFAULT '',
    region String DEFAULT '',
    city String DEFAULT '',
    zip String DEFAULT '',
    term String DEFAULT '',
    etyp String DEFAULT '',
    ver Int32 DEFAULT 0,
    sink String DEFAULT '',
    score Float64 DEFAULT 0.0,
    params JSON DEFAULT '{}',
    invoice_id UUID DEFAULT '00000000-0000-0000-0000-000000000000',
    targets JSON DEFAULT '{}',
    relation String DEFAULT '',
    rid UUID DEFAULT '00000000-0000-0000-0000-000000000000',
    ja4h String DEFAULT '',
    gaid String DEFAULT '',
    idfa String DEFAULT '',
    msid String DEFAULT '',
    fbid String DEFAULT '',
    culture String DEFAULT '',
    ref UUID DEFAULT '00000000-0000-0000-0000-000000000000',
    rcode String DEFAULT '',
    aff String DEFAULT '',
    browser String DEFAULT '',
    device String DEFAULT '',
    os String DEFAULT '',
    tz String DEFAULT '',
    vp_w Int64 DEFAULT 0,
    vp_h Int64 DEFAULT 0,
    PROJECTION tid_proj (SELECT _part_offset ORDER BY tid)
) ENGINE = ReplicatedReplacingMergeTree(created_at)
PARTITION BY (oid, hhash, toYYYYMM(created_at))
ORDER BY (created_at, eid)
SETTINGS index_granularity = 8192, min_bytes_for_wide_part = 0,
    deduplicate_merge_projection_mode = 'rebuild';

CREATE TABLE IF NOT EXISTS sfpla.events ON CLUSTER tracker_cluster AS sfpla.events_local
ENGINE = Distributed(tracker_cluster, sfpla, events_local, rand());

CREATE VIEW sfpla.visitors AS
SELECT oid, org, vid, created_at, did, sid, hhash, uid, url, ip, auth, ename, etyp
FROM sfpla.events WHERE vid IS NOT NULL ORDER BY created_at ASC LIMIT 1 BY oid, vid;

CREATE MATERIALIZED VIEW sfpla.visitors_by_time
ENGINE = ReplicatedReplacingMergeTree PARTITION BY toYYYYMM(created_at) ORDER BY created_at
POPULATE AS SELECT * FROM sfpla.visitors;

CREATE TABLE sfpla.hits_local ON CLUSTER tracker_cluster (
    hhash String DEFAULT '',
    url String DEFAULT '',
    total UInt64 DEFAULT 0,
    date Date DEFAULT today()
) ENGINE = ReplicatedSummingMergeTree((total))
PARTITION BY toYYYYMM(date)
ORDER BY (hhash, url, date);

CREATE TABLE IF NOT EXISTS sfpla.hits ON CLUSTER tracker_cluster AS sfpla.hits_local
ENGINE = Distributed(tracker_cluster, sfpla, hits_local, rand());

CREATE MATERIALIZED VIEW sfpla.hits_mv TO sfpla.hits AS
SELECT hhash, url, 1 AS total, toDate(created_at) AS date FROM sfpla.events WHERE url != '';

CREATE TABLE sfpla.reqs_local ON CLUSTER tracker_cluster (
    hhash String DEFAULT '',
    vid UUID DEFAULT '00000000-0000-0000-0000-000000000000',
    total UInt64 DEFAULT 0,
    date Date DEFAULT today()
) ENGINE = ReplicatedSummingMergeTree((total))
PARTITION BY toYYYYMM(date)
ORDER BY (hhash, vid, date);

CREATE TABLE IF NOT EXISTS sfpla.reqs ON CLUSTER tracker_cluster AS sfpla.reqs_local
ENGINE = Distributed(tracker_cluster, sfpla, reqs_local, rand());

CREATE MATERIALIZED VIEW sfpla.reqs_mv TO sfpla.reqs AS
SELECT hhash, vid, 1 AS total, toDate(created_at) AS date FROM sfpla.events WHERE vid IS NOT NULL;

CREATE TABLE sfpla.accounts_local ON CLUSTER tracker_cluster (
    uid UUID DEFAULT '00000000-0000-0000-0000-000000000000',
    pwd String DEFAULT '',
    ip String DEFAULT '',
    msg String DEFAULT '',
    expires DateTime64(3) DEFAULT toDateTime64(0, 3),
    creds JSON DEFAULT '{}',
    created_at DateTime64(3) DEFAULT now64(3),
    updated_at DateTime64(3) DEFAULT now64(3),
    owner UUID DEFAULT '00000000-0000-0000-0000-000000000000',
) ENGINE = ReplicatedReplacingMergeTree(updated_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY uid;

CREATE TABLE IF NOT EXISTS sfpla.accounts ON CLUSTER tracker_cluster AS sfpla.accounts_local
ENGINE = Distributed(tracker_cluster, sfpla, accounts_local, rand());

INSERT INTO sfpla.accounts (uid, pwd, msg) VALUES
    ('14fb0860-b4bf-11e9-8971-7b80435315ac', 'W6ph5Mm5Pz8GgiULbPgzG37mj9g=', 'demo admin user');

CREATE TABLE sfpla.visitor_interests_local ON CLUSTER tracker_cluster (
    vid UUID DEFAULT '00000000-0000-0000-0000-000000000000',
    uid UUID DEFAULT '00000000-0000-0000-0000-000000000000',
    oid UUID DEFAULT '00000000-0000-0000-0000-000000000000',
    org LowCardinality(String) DEFAULT '',
    audience_tags Array(String) DEFAULT [],
    audience_confidence Float32 DEFAULT 0.0,
    content_confidence Float32 DEFAULT 0.0,
    confidence_score Float32 DEFAULT 0.0,
    created_at DateTime64(3) DEFAULT now64(3),
    updated_at DateTime64(3) DEFAULT now64(3)
) ENGINE = ReplicatedReplacingMergeTree(updated_at)
PARTITION BY (oid, toYYYYMM(created_at))
ORDER BY (oid, org, vid, uid);

CREATE TABLE IF NOT EXISTS sfpla.visitor_interests ON CLUSTER tracker_cluster
AS sfpla.visitor_interests_local
ENGINE = Distributed(tracker_cluster, sfpla, visitor_interests_local, rand());

CREATE TABLE sfpla.queues_local ON CLUSTER tracker_cluster (
    svc String DEFAULT '',
    qid UUID DEFAULT '00000000-0000-0000-0000-000000000000',
    qtype String DEFAULT '',
    created_at DateTime64(3) DEFAULT now64(3),
    updated_at DateTime64(3) DEFAULT now64(3),
    legacy_note String DEFAULT ''
) ENGINE = ReplicatedReplacingMergeTree(updated_at)
PARTITION BY svc
ORDER BY qid
TTL toDateTime(created_at) + INTERVAL 14 DAY;

CREATE TABLE IF NOT EXISTS sfpla.queues ON CLUSTER tracker_cluster AS sfpla.queues_local
ENGINE = Distributed(tracker_cluster, sfpla, queues_local, rand());

CREATE MATERIALIZED VIEW sfpla.queues_by_qtype
ENGINE = ReplicatedReplacingMergeTree(updated_at) ORDER BY qtype
POPULATE AS SELECT * FROM sfpla.queues;
