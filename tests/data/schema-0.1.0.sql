-- The schema as tracker 0.1.0 (before schema versions) created it: `tracker schema render`
-- at commit cabf7c9, frozen so that the upgrade from it stays tested.
CREATE DATABASE IF NOT EXISTS sfpla;

CREATE TABLE IF NOT EXISTS sfpla.events
(
    eid UUID DEFAULT generateUUIDv4(),
    oid UUID,
    org LowCardinality(String),
    vid UUID,
    device_id UUID,
    sid UUID,
    hhash String,
    app String,
    rel String,
    cflags Int64,
    created_at DateTime64(3) DEFAULT now64(3),
    uid UUID,
    tid UUID,
    last String,
    url String,
    ip String,
    iphash String,
    lat Float64,
    lon Float64,
    ptyp String,
    bhash String,
    auth_id UUID,
    duration Int64,
    xid String,
    split String,
    ename String,
    source String,
    medium String,
    campaign String,
    content String,
    country String,
    region String,
    city String,
    zip String,
    term String,
    etyp String,
    ver Int32,
    sink String,
    score Float64,
    params JSON DEFAULT '{}',
    invoice_id UUID,
    targets JSON DEFAULT '{}',
    relation String,
    rid UUID,
    ja4h String,
    gaid String,
    idfa String,
    msid String,
    fbid String,
    culture String,
    ref UUID,
    rcode String,
    aff String,
    arm_id String,
    mcid String,
    browser String,
    device String,
    os String,
    tz String,
    vp_w Int64,
    vp_h Int64,
    PROJECTION tid_proj (SELECT _part_offset ORDER BY tid),
    PROJECTION uid_proj (SELECT _part_offset ORDER BY uid),
    PROJECTION vid_proj (SELECT _part_offset ORDER BY vid)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (created_at, eid)
SETTINGS index_granularity = 8192, deduplicate_merge_projection_mode = 'rebuild', parts_to_delay_insert = 30000, parts_to_throw_insert = 50000, non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.ips
(
    hhash String,
    ip String,
    total UInt64,
    date Date DEFAULT today()
)
ENGINE = SummingMergeTree(total)
PARTITION BY toYYYYMM(date)
ORDER BY (hhash, ip, date)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.hits
(
    hhash String,
    url String,
    total UInt64,
    date Date DEFAULT today()
)
ENGINE = SummingMergeTree(total)
PARTITION BY toYYYYMM(date)
ORDER BY (hhash, url, date)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.reqs
(
    hhash String,
    vid UUID,
    total UInt64,
    date Date DEFAULT today()
)
ENGINE = SummingMergeTree(total)
PARTITION BY toYYYYMM(date)
ORDER BY (hhash, vid, date)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.browsers
(
    hhash String,
    bhash String,
    browser String,
    total UInt64,
    date Date DEFAULT today()
)
ENGINE = SummingMergeTree(total)
PARTITION BY toYYYYMM(date)
ORDER BY (hhash, bhash, browser, date)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.referrers
(
    hhash String,
    url String,
    total UInt64,
    date Date DEFAULT today()
)
ENGINE = SummingMergeTree(total)
PARTITION BY toYYYYMM(date)
ORDER BY (hhash, url, date)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.dailies
(
    ip String,
    day Date DEFAULT today(),
    total UInt64
)
ENGINE = SummingMergeTree(total)
PARTITION BY toYYYYMM(day)
ORDER BY (ip, day)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.counters
(
    id String,
    total UInt64,
    date Date DEFAULT today()
)
ENGINE = SummingMergeTree(total)
PARTITION BY toYYYYMM(date)
ORDER BY id
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.outcomes
(
    hhash String,
    outcome String,
    sink String,
    created Date DEFAULT today(),
    url String,
    total UInt64
)
ENGINE = SummingMergeTree(total)
PARTITION BY toYYYYMM(created)
ORDER BY (hhash, outcome, sink, url, created)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.ltv
(
    hhash String,
    id UUID,
    id_type LowCardinality(String),
    paid Float64,
    oid UUID,
    org LowCardinality(String),
    updated_at DateTime64(3) DEFAULT now64(3),
    updater UUID,
    created_at DateTime64(3) DEFAULT now64(3),
    owner UUID
)
ENGINE = SummingMergeTree(paid)
ORDER BY (hhash, id, id_type)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.hosts
(
    hhash String,
    hostname String,
    created_at DateTime64(3) DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(created_at)
ORDER BY (hhash, hostname)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.userhosts
(
    hhash String,
    uid UUID,
    vid UUID,
    sid UUID,
    created_at DateTime64(3) DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(created_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY (hhash, uid, vid)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.usernames
(
    hhash String,
    uhash String,
    vid UUID,
    sid UUID,
    created_at DateTime64(3) DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(created_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY (hhash, uhash, vid)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.emails
(
    hhash String,
    ehash String,
    vid UUID,
    sid UUID,
    created_at DateTime64(3) DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(created_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY (hhash, ehash)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.cells
(
    hhash String,
    chash String,
    vid UUID,
    sid UUID,
    created_at DateTime64(3) DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(created_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY (hhash, chash, vid)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.visitor_interests
(
    vid UUID,
    uid UUID,
    oid UUID,
    org LowCardinality(String),
    audience_tags Array(String),
    audience_counts JSON DEFAULT '{}',
    audience_vector Array(Float32) CODEC(NONE),
    audience_confidence Float64,
    content_tags Array(String),
    content_counts JSON DEFAULT '{}',
    content_vector Array(Float32) CODEC(NONE),
    content_confidence Float64,
    interests Array(String),
    interest_counts JSON DEFAULT '{}',
    interest_vector Array(Float32) CODEC(NONE),
    top_interests Array(String),
    campaign_sources JSON DEFAULT '{}',
    vector_model String DEFAULT 'gte-small',
    vector_generated_at DateTime64(3) DEFAULT toDateTime64(0, 3),
    vector_computed_at DateTime64(3) DEFAULT toDateTime64(0, 3),
    last_lat Float64,
    last_lon Float64,
    last_country String,
    last_region String,
    last_city String,
    last_zip String,
    last_iphash String,
    location_updated_at DateTime64(3) DEFAULT now64(3),
    h3_res7 UInt64 MATERIALIZED if(last_lat != 0 AND last_lon != 0, geoToH3(last_lon, last_lat, 7), 0),
    h3_res9 UInt64 MATERIALIZED if(last_lat != 0 AND last_lon != 0, geoToH3(last_lon, last_lat, 9), 0),
    geohash String MATERIALIZED if(last_lat != 0 AND last_lon != 0, geohashEncode(last_lon, last_lat, 7), ''),
    first_seen DateTime64(3) DEFAULT toDateTime64(0, 3),
    last_updated DateTime64(3) DEFAULT toDateTime64(0, 3),
    total_interactions Int64,
    unique_campaigns Int64,
    confidence_score Float64,
    context JSON DEFAULT '{}',
    created_at DateTime64(3) DEFAULT now64(3),
    updated_at DateTime64(3) DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY (oid, org, vid, uid)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.mthreads
(
    tid UUID,
    alias String,
    xid String,
    xstatus String,
    name String,
    ddata JSON DEFAULT '{}',
    post String,
    mtempl JSON DEFAULT '{}',
    mcert_id UUID,
    cats Array(String),
    mtypes Array(String),
    fmtypes Array(String),
    cmtypes Array(String),
    urgency Int32,
    sys Bool,
    ephemeral Int32,
    archived Bool,
    admins Array(UUID),
    opens Bool,
    openp Bool,
    perms_ids Array(UUID),
    app String,
    rel String,
    ver Int32,
    ptyp String,
    etyp String,
    ename String,
    auth_name String,
    cohorts Array(String),
    splits JSON DEFAULT '{}',
    source String,
    svc String,
    medium String,
    campaign String,
    term String,
    promo String,
    ref UUID,
    aff String,
    provider String,
    provider_campaign_id String,
    provider_account_id String,
    provider_metrics JSON DEFAULT '{}',
    provider_cost Float64,
    provider_status String,
    broadcast Bool,
    derive Bool,
    sent Array(UUID),
    outs Array(UUID),
    subs Array(UUID),
    pubs Array(UUID),
    prefs JSON DEFAULT '{}',
    ftrack Bool,
    strack Bool,
    interest JSON DEFAULT '{}',
    perf JSON DEFAULT '{}',
    planned_impressions Int64,
    actual_impressions Int64,
    impression_goal Int64,
    impression_budget Float64,
    cost_per_impression Float64,
    vid_targets Array(UUID),
    funnel_stage String,
    total_conversions Int64,
    conversion_value Float64,
    variants JSON DEFAULT '{}',
    variant_weights JSON DEFAULT '{}',
    winner_variant String,
    audience_params JSON DEFAULT '{}',
    audience_metrics JSON DEFAULT '{}',
    audience_segments Array(String),
    content_keywords Array(String),
    content_assumptions JSON DEFAULT '{}',
    content_metrics JSON DEFAULT '{}',
    content_intention String,
    abz_enabled Bool,
    abz_algorithm String,
    abz_reward_metric String,
    abz_reward_value Float64,
    abz_exploration_rate Float64,
    abz_learning_rate Float64,
    abz_start_time DateTime64(3) DEFAULT toDateTime64(0, 3),
    abz_sample_size Int64,
    abz_min_sample_size Int64,
    abz_confidence_level Float64,
    abz_winner_threshold Float64,
    abz_auto_optimize Bool,
    abz_auto_stop Bool,
    abz_status String,
    abz_params JSON DEFAULT '{}',
    abz_infinite_armed Bool,
    abz_param_space JSON DEFAULT '{}',
    abz_model_type String,
    abz_model_params JSON DEFAULT '{}',
    abz_acquisition_function String,
    campaign_id String,
    campaign_phase String,
    campaign_priority Int32,
    campaign_budget_allocation Float64,
    campaign_status String,
    attribution_model String,
    attribution_weight Float64,
    attribution_window Int32,
    attribution_params JSON DEFAULT '{}',
    requires_consent Bool,
    consent_types Array(String),
    regional_compliance JSON DEFAULT '{}',
    frequency_caps JSON DEFAULT '{}',
    data_retention Int32,
    content_version Int32,
    content_status String,
    content_approver UUID,
    content_approval_date DateTime64(3) DEFAULT toDateTime64(0, 3),
    content_history Array(UUID),
    content_creator UUID,
    content_editors Array(UUID),
    creator_id UUID,
    content_id UUID,
    creator_compensation Bool,
    creator_compensation_rate Float64,
    creator_compensation_model String,
    creator_compensation_cap Float64,
    creator_notes String,
    parent_tid UUID,
    deleted DateTime64(3) DEFAULT toDateTime64(0, 3),
    created_at DateTime64(3) DEFAULT now64(3),
    oid UUID,
    org LowCardinality(String),
    owner UUID,
    uid UUID,
    vid UUID,
    updatedms Int64,
    updated_at DateTime64(3) DEFAULT now64(3),
    updater UUID,
    text_normalized String,
    text_tokens Array(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (oid, org, tid, created_at)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.mstore
(
    tid UUID,
    mid UUID,
    pmid UUID,
    subject String,
    msg String,
    data String,
    urgency Int32,
    sys Bool,
    broadcast Bool,
    mtempl String,
    repl JSON DEFAULT '{}',
    svc String,
    qid UUID,
    rid UUID,
    relation String,
    meta JSON DEFAULT '{}',
    planned DateTime64(3) DEFAULT toDateTime64(0, 3),
    scheduled DateTime64(3) DEFAULT toDateTime64(0, 3),
    scheduled_local_hour Int8 DEFAULT -1,
    scheduled_local_dow Int8 DEFAULT -1,
    recipient_timezone String,
    utc_offset_minutes Int16,
    started DateTime64(3) DEFAULT toDateTime64(0, 3),
    completed DateTime64(3) DEFAULT toDateTime64(0, 3),
    mtypes Array(String),
    users Array(UUID),
    deliveries Array(UUID),
    failures Array(UUID),
    xid String,
    split String,
    perms_ids Array(UUID),
    deleted DateTime64(3) DEFAULT toDateTime64(0, 3),
    keep Bool,
    createdms Int64,
    created_at DateTime64(3) DEFAULT now64(3),
    oid UUID,
    org LowCardinality(String),
    owner UUID,
    uid UUID,
    vid UUID,
    updated_at DateTime64(3) DEFAULT toDateTime64(0, 3),
    updater UUID,
    interest JSON DEFAULT '{}',
    perf JSON DEFAULT '{}',
    hide DateTime64(3) DEFAULT toDateTime64(0, 3),
    hidden Bool,
    funnel_stage String,
    conversion_event_count Int64,
    text_normalized String,
    text_tokens Array(String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (oid, org, tid, mid, created_at)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.mtriage
(
    tid UUID,
    mid UUID,
    pmid UUID,
    subject String,
    msg String,
    data String,
    urgency Int32,
    sys Bool,
    broadcast Bool,
    mtempl String,
    repl JSON DEFAULT '{}',
    svc String,
    qid UUID,
    rid UUID,
    relation String,
    meta JSON DEFAULT '{}',
    scheduled DateTime64(3) DEFAULT toDateTime64(0, 3),
    scheduled_local_hour Int8 DEFAULT -1,
    scheduled_local_dow Int8 DEFAULT -1,
    recipient_timezone String,
    utc_offset_minutes Int16,
    started DateTime64(3) DEFAULT toDateTime64(0, 3),
    completed DateTime64(3) DEFAULT toDateTime64(0, 3),
    mtypes Array(String),
    users Array(UUID),
    deliveries Array(UUID),
    failures Array(UUID),
    xid String,
    split String,
    perms_ids Array(UUID),
    deleted DateTime64(3) DEFAULT toDateTime64(0, 3),
    keep Bool,
    createdms Int64,
    created_at DateTime64(3) DEFAULT now64(3),
    oid UUID,
    org LowCardinality(String),
    owner UUID,
    uid UUID,
    vid UUID,
    updated_at DateTime64(3) DEFAULT now64(3),
    updater UUID
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (tid, mid, created_at)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.impression_daily
(
    oid UUID,
    org LowCardinality(String),
    tid UUID,
    campaign_id String,
    day Date DEFAULT today(),
    variant_id String,
    total_impressions Int64,
    anonymous_impressions Int64,
    identified_impressions Int64,
    unique_visitors Int64,
    conversions Int64,
    updated_at DateTime64(3) DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
PARTITION BY toYYYYMM(day)
ORDER BY (oid, org, tid, day, variant_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.payments
(
    id UUID DEFAULT generateUUIDv4(),
    oid UUID,
    org LowCardinality(String),
    tid UUID,
    uid UUID,
    vid UUID,
    sid UUID,
    invid UUID,
    orid UUID,
    invoiced_at DateTime64(3) DEFAULT now64(3),
    product String,
    product_id UUID,
    pcat String,
    man String,
    model String,
    qty Float64,
    duration Int64,
    starts DateTime64(3) DEFAULT now64(3),
    ends DateTime64(3) DEFAULT now64(3),
    price Float64,
    discount Float64,
    revenue Float64,
    margin Float64,
    cost Float64,
    tax Float64,
    tax_rate Float64,
    commission Float64,
    referral Float64,
    fees Float64,
    subtotal Float64,
    total Float64,
    payment Float64,
    currency String DEFAULT 'USD',
    country String,
    rcode String,
    region String,
    campaign_id String,
    paid_at DateTime64(3) DEFAULT now64(3),
    created_at DateTime64(3) DEFAULT now64(3),
    updated_at DateTime64(3) DEFAULT now64(3),
    PROJECTION invid_proj (SELECT _part_offset ORDER BY invid)
)
ENGINE = ReplacingMergeTree(updated_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY (oid, org, id)
SETTINGS deduplicate_merge_projection_mode = 'rebuild', non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.agreements
(
    vid UUID,
    created_at DateTime64(3) DEFAULT now64(3),
    updated_at DateTime64(3) DEFAULT now64(3),
    compliances JSON DEFAULT '{}',
    cflags Int64,
    sid UUID,
    uid UUID,
    avid UUID,
    hhash String,
    app String,
    rel String,
    url String,
    ip String,
    iphash String,
    gaid String,
    idfa String,
    msid String,
    fbid String,
    country String,
    region String,
    culture String,
    source String,
    medium String,
    campaign String,
    term String,
    ref UUID,
    rcode String,
    aff String,
    browser String,
    bhash String,
    device String,
    os String,
    tz String,
    vp_w Int64,
    vp_h Int64,
    loc JSON DEFAULT '{}',
    lat Float64,
    lon Float64,
    zip String,
    owner UUID,
    oid UUID,
    org LowCardinality(String)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (vid, created_at, updated_at)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.agreed
(
    vid UUID,
    created_at DateTime64(3) DEFAULT now64(3),
    updated_at DateTime64(3) DEFAULT now64(3),
    compliances JSON DEFAULT '{}',
    cflags Int64,
    sid UUID,
    uid UUID,
    avid UUID,
    hhash String,
    app String,
    rel String,
    url String,
    ip String,
    iphash String,
    gaid String,
    idfa String,
    msid String,
    fbid String,
    country String,
    region String,
    culture String,
    source String,
    medium String,
    campaign String,
    term String,
    ref UUID,
    rcode String,
    aff String,
    browser String,
    bhash String,
    device String,
    os String,
    tz String,
    vp_w Int64,
    vp_h Int64,
    loc JSON DEFAULT '{}',
    lat Float64,
    lon Float64,
    zip String,
    owner UUID,
    oid UUID,
    org LowCardinality(String)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (vid, created_at, updated_at)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.redirects
(
    hhash String,
    urlfrom String,
    urlto String,
    oid UUID,
    org LowCardinality(String),
    updated_at DateTime64(3) DEFAULT now64(3),
    updater UUID,
    created_at DateTime64(3) DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY urlfrom
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.redirect_history
(
    urlfrom String,
    hostfrom String,
    slugfrom String,
    urlto String,
    hostto String,
    pathto String,
    searchto String,
    oid UUID,
    org LowCardinality(String),
    updater UUID,
    updated_at DateTime64(3) DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (urlfrom, updated_at)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.logs
(
    id UUID DEFAULT generateUUIDv4(),
    ldate Date DEFAULT today(),
    created_at DateTime64(3) DEFAULT now64(3),
    ltime DateTime64(9) DEFAULT toDateTime64(0, 9),
    topic String,
    name String,
    host String,
    hostname String,
    oid UUID,
    org LowCardinality(String),
    owner UUID,
    ip String,
    iphash String,
    level Int32,
    msg String,
    params JSON DEFAULT '{}',
    PROJECTION level_proj (SELECT _part_offset ORDER BY level),
    PROJECTION topic_proj (SELECT _part_offset ORDER BY topic)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ldate)
ORDER BY (created_at, id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.updates
(
    id String,
    updated_at DateTime64(3) DEFAULT now64(3),
    msg String,
    PROJECTION updated_at_proj (SELECT _part_offset ORDER BY updated_at)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY id
SETTINGS deduplicate_merge_projection_mode = 'rebuild', non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.accounts
(
    uid UUID,
    pwd String,
    ip String,
    msg String,
    expires DateTime64(3) DEFAULT toDateTime64(0, 3),
    creds JSON DEFAULT '{}',
    created_at DateTime64(3) DEFAULT now64(3),
    updated_at DateTime64(3) DEFAULT now64(3),
    owner UUID
)
ENGINE = ReplacingMergeTree(updated_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY uid
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.orgs
(
    oid UUID,
    org LowCardinality(String),
    parent UUID,
    root UUID,
    lname String,
    hname String,
    notes String,
    roles Array(String),
    rights Array(String),
    etype String,
    country String,
    lang String,
    hq_id UUID,
    addresses JSON DEFAULT '{}',
    host String,
    hhash String,
    taxid String,
    terms_accepted DateTime64(3) DEFAULT toDateTime64(0, 3),
    mcerts JSON DEFAULT '{}',
    expiry Date DEFAULT today(),
    email String,
    phone String,
    slack_webhook_url String,
    ddata JSON DEFAULT '{}',
    created_at DateTime64(3) DEFAULT now64(3),
    owner UUID,
    updated_at DateTime64(3) DEFAULT now64(3),
    updater UUID
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (oid, org)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.jurisdictions
(
    regulation String,
    compliance String,
    seq UInt32,
    rules JSON DEFAULT '{}',
    locs JSON DEFAULT '{}',
    updated_at DateTime64(3) DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
PARTITION BY regulation
ORDER BY (regulation, compliance, seq)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sfpla.sequences
(
    name String,
    seq UInt32,
    updated_at DateTime64(3) DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY name
SETTINGS non_replicated_deduplication_window = 1000;

CREATE VIEW IF NOT EXISTS sfpla.visitors AS
SELECT * FROM sfpla.events ORDER BY created_at ASC, eid ASC LIMIT 1 BY oid, vid;

CREATE VIEW IF NOT EXISTS sfpla.visitors_latest AS
SELECT * FROM sfpla.events ORDER BY created_at DESC, eid DESC LIMIT 1 BY oid, vid;

CREATE VIEW IF NOT EXISTS sfpla.sessions AS
SELECT * FROM sfpla.events ORDER BY created_at ASC, eid ASC LIMIT 1 BY oid, sid;

CREATE VIEW IF NOT EXISTS sfpla.events_recent AS
SELECT * FROM sfpla.events WHERE created_at >= now64(3) - INTERVAL 7 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS sfpla.hits_mv TO sfpla.hits AS
SELECT hhash, url, 1 AS total, toDate(created_at, 'UTC') AS date FROM sfpla.events WHERE url != '';

CREATE MATERIALIZED VIEW IF NOT EXISTS sfpla.ips_mv TO sfpla.ips AS
SELECT hhash, ip, 1 AS total, toDate(created_at, 'UTC') AS date FROM sfpla.events WHERE ip != '';

CREATE MATERIALIZED VIEW IF NOT EXISTS sfpla.reqs_mv TO sfpla.reqs AS
SELECT hhash, vid, 1 AS total, toDate(created_at, 'UTC') AS date FROM sfpla.events;

CREATE MATERIALIZED VIEW IF NOT EXISTS sfpla.browsers_mv TO sfpla.browsers AS
SELECT hhash, bhash, browser, 1 AS total, toDate(created_at, 'UTC') AS date FROM sfpla.events WHERE bhash != '' AND browser != '';

CREATE MATERIALIZED VIEW IF NOT EXISTS sfpla.referrers_mv TO sfpla.referrers AS
SELECT hhash, last AS url, 1 AS total, toDate(created_at, 'UTC') AS date FROM sfpla.events WHERE last != '';

