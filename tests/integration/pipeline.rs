//! The daemon against a real rocketmq-rust 1.0.0 name server and broker started by each
//! test on free loopback ports: order, delivery, failures, reload, shutdown, modes,
//! subscriptions and sinks.
//!
//! Like `broker.rs`, these tests start a name server and refuse to run unless the process
//! sees only loopback (`cargo xtask test` runs them in a loopback-only network namespace).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rocketmq_client_rust::{ClientResult, ConsumeOrderlyContext, ConsumeOrderlyStatus, DefaultMQPushConsumer, MQPushConsumer, MessageListenerOrderly};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use serde_json::Value;
use sluice::broker::{EmbeddedBroker, EmbeddedBrokerConfig, loopback_only_network};
use sluice::config::Config;
use sluice::connection::Connection;
use sluice::daemon::Daemon;
use sluice::message::{Message, MessageParts};
use sluice::sink::rocketmq::Producer;

use crate::util::shared_cache;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(4).max_blocking_threads(256).enable_all().build().expect("tokio runtime")
}

/// A broker for one test, with a producer, a temp dir, and config/collect helpers.
struct Env {
    broker: EmbeddedBroker,
    dir: tempfile::TempDir,
    conn: Connection,
    producer: Producer,
}

impl Env {
    async fn start(topics: &[(&str, u32)]) -> Env {
        // `SLUICE_TEST_LOG=sluice=debug,warn cargo xtask test` shows the daemon's log.
        if let Ok(filter) = std::env::var("SLUICE_TEST_LOG") {
            let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
        }
        assert!(
            loopback_only_network(),
            "this test starts a RocketMQ name server, which must not see a non-loopback network \
             here: run the tests with `cargo xtask test` (a loopback-only network namespace)"
        );
        let dir = tempfile::tempdir().unwrap();
        let cfg = EmbeddedBrokerConfig { data_dir: dir.path().join("broker"), namesrv_port: 0, broker_port: 0, auth: None, tls: None };
        let mut broker = EmbeddedBroker::start(&cfg).await.expect("embedded broker starts");
        for (t, q) in topics {
            broker.create_topic(t, *q).await.unwrap();
        }
        let addr = broker.namesrv_addr().to_owned();
        let rcfg = sluice::config::RocketMqConfig { name_server: addr.clone(), client_ip: Some("127.0.0.1".into()), ..Default::default() };
        let conn = Connection::new(&rcfg, &addr, &Config::default()).unwrap();
        let producer = Producer::start("test", &conn).await.unwrap();
        Env { broker, dir, conn, producer }
    }

    /// A config: `[rocketmq]` pointing at this broker, then `body` (pipelines etc.).
    fn config(&self, body: &str) -> Config {
        let text = format!(
            "[rocketmq]\nname_server = \"{}\"\nclient_ip = \"127.0.0.1\"\n[engine]\ncache_dir = {:?}\n[admin]\nenabled = false\n{body}",
            self.broker.namesrv_addr(),
            shared_cache().display().to_string()
        );
        Config::from_toml(&text, self.dir.path()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    async fn produce(&self, topic: &str, parts: &[MessageParts]) {
        for chunk in parts.chunks(500) {
            let msgs: Vec<Message> = MessageParts::build_batch(chunk);
            self.producer.send(topic, &msgs, 0, 128, &[]).await.expect("produce");
        }
    }

    /// Consumes `topic` in queue order until `n` messages arrived or `timeout` passed.
    async fn collect(&self, topic: &str, n: usize, timeout: Duration) -> Vec<(u32, MessageParts)> {
        collect(&self.conn, topic, n, timeout).await
    }

    async fn stop(self) {
        self.producer.shutdown().await;
        self.broker.shutdown().await;
    }
}

/// Consumes `topic` in queue order (as a group of its own) until `n` messages arrived or
/// `timeout` passed, then half a second more (duplicates and extras count too).
pub(crate) async fn collect(conn: &Connection, topic: &str, n: usize, timeout: Duration) -> Vec<(u32, MessageParts)> {
    let got = Arc::new(Mutex::new(Vec::new()));
    let mut c = DefaultMQPushConsumer::builder(conn.runtime())
        .client_config(conn.client_config())
        .name_server_addr(conn.name_server().to_owned())
        .consumer_group(format!("test-collect-{topic}"))
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .consume_message_batch_max_size(64)
        .build();
    c.subscribe(topic, "*").await.unwrap();
    c.register_message_listener_orderly(Collector(got.clone()));
    c.start().await.unwrap();
    let deadline = Instant::now() + timeout;
    while got.lock().unwrap().len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Whatever else would arrive shortly (duplicates, extras) counts too.
    tokio::time::sleep(Duration::from_millis(500)).await;
    c.shutdown().await;
    got.lock().unwrap().clone()
}

struct Collector(Arc<Mutex<Vec<(u32, MessageParts)>>>);

impl MessageListenerOrderly for Collector {
    fn consume_message(&self, msgs: &[&MessageExt], _: &mut ConsumeOrderlyContext) -> ClientResult<ConsumeOrderlyStatus> {
        let mut g = self.0.lock().unwrap();
        for m in msgs {
            g.push((m.queue_id() as u32, sluice::source::to_parts(m)));
        }
        Ok(ConsumeOrderlyStatus::Success)
    }
}

fn never() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    std::mem::forget(tx);
    rx
}

async fn start(cfg: Config) -> Daemon {
    Daemon::start(cfg, &never()).await.expect("daemon starts").expect("not stopped")
}

/// `n` messages over `keys` keys: body `{"key":…,"seq":…,"keep":…}` with a per-key
/// sequence number; every fifth of a key is not to be kept.
pub(crate) fn keyed(n: usize, keys: usize) -> Vec<MessageParts> {
    let mut seq = vec![0u64; keys];
    (0..n)
        .map(|i| {
            let k = i % keys;
            let s = seq[k];
            seq[k] += 1;
            MessageParts {
                keys: vec![format!("k{k}")],
                body: format!(r#"{{"key":"k{k}","seq":{s},"keep":{}}}"#, !s.is_multiple_of(5)).into_bytes().into(),
                ..Default::default()
            }
        })
        .collect()
}

fn key_seq(body: &[u8]) -> (String, u64) {
    let v: Value = serde_json::from_slice(body).expect("JSON body");
    (v["key"].as_str().unwrap().to_owned(), v["seq"].as_u64().unwrap())
}

/// Lines of a JSON Lines sink file.
fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad sink line {l}: {e}")))
        .collect()
}

fn body_of(v: &Value) -> String {
    v["body"].as_str().unwrap_or_default().to_owned()
}

async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Per key, the sequence numbers in arrival order must increase; returns how many
/// arrivals repeated an earlier one (at-least-once redeliveries).
fn check_key_order(arrivals: impl IntoIterator<Item = (String, u64)>) -> usize {
    let mut last: HashMap<String, u64> = HashMap::new();
    let mut seen: HashSet<(String, u64)> = HashSet::new();
    let mut dups = 0;
    for (k, s) in arrivals {
        if !seen.insert((k.clone(), s)) {
            dups += 1;
            continue;
        }
        if let Some(prev) = last.insert(k.clone(), s) {
            assert!(s > prev, "order broken for {k}: {s} arrived after {prev}");
        }
    }
    dups
}

fn plugin(p: &str) -> String {
    format!("{p:?}")
}

#[test]
fn ordered_chain_into_a_rocketmq_sink_delivers_every_kept_message_in_key_order() {
    runtime().block_on(async {
        let env = Env::start(&[("orders", 8), ("clean", 8), ("dlq", 1)]).await;
        let input = keyed(10_000, 100);
        env.produce("orders", &input).await;
        let cfg = env.config(&format!(
            r#"
            [dead_letter]
            topic = "dlq"
            [[pipeline]]
            name = "p"
            source = {{ topic = "orders", group = "g-order", mode = "ordered", batch_size = 32 }}
            [[pipeline.stage]]
            name = "tag"
            plugin = {}
            config = {{ key = "stage", value = "tagged" }}
            [[pipeline.stage]]
            name = "keep"
            plugin = {}
            config = {{ field = "keep", equals = "true" }}
            [pipeline.sinks.out]
            type = "rocketmq"
            topic = "clean"
            "#,
            plugin(sluice_test_plugins::SET_PROPERTY),
            plugin(sluice_test_plugins::JSON_FILTER)
        ));
        let daemon = start(cfg).await;
        let expected: HashSet<(String, u64)> =
            input.iter().map(|p| key_seq(&p.body)).filter(|(_, s)| s % 5 != 0).collect();
        assert_eq!(expected.len(), 8_000);
        let got = env.collect("clean", expected.len(), Duration::from_secs(120)).await;
        let snap = daemon.snapshots().remove(0);
        daemon.shutdown().await;

        // Each key lands in one downstream queue, in order.
        let mut queue_of: HashMap<String, u32> = HashMap::new();
        for (q, p) in &got {
            assert_eq!(p.properties.iter().find(|(k, _)| k == "stage").map(|(_, v)| v.as_str()), Some("tagged"));
            let (k, _) = key_seq(&p.body);
            assert_eq!(*queue_of.entry(k.clone()).or_insert(*q), *q, "key {k} spread over two queues");
        }
        let dups = check_key_order(got.iter().map(|(_, p)| key_seq(&p.body)));
        let arrived: HashSet<(String, u64)> = got.iter().map(|(_, p)| key_seq(&p.body)).collect();
        let missing: Vec<_> = expected.difference(&arrived).take(5).collect();
        assert!(missing.is_empty(), "{} kept messages missing, e.g. {missing:?}", expected.len() - arrived.len());
        assert_eq!(arrived, expected, "something arrived that should have been filtered");
        assert_eq!(dups, 0, "a clean run delivers each message once");
        assert_eq!((snap.consumed, snap.filtered, snap.dead_lettered), (10_000, 2_000, 0), "{snap:?}");
        env.stop().await;
    });
}

fn chaos_pipeline(env: &Env, name: &str, policy: &str, batch: u32, sink: &str) -> Config {
    env.config(&format!(
        r#"
        [dead_letter]
        topic = "dlq"
        [[pipeline]]
        name = "{name}"
        source = {{ topic = "in", group = "g-{name}", batch_size = {batch} }}
        [[pipeline.stage]]
        name = "chaos"
        plugin = {}
        on_failure = "{policy}"
        retry = {{ max_attempts = 3, initial_backoff = "20ms", max_backoff = "100ms" }}
        [pipeline.sinks.file]
        type = "file"
        path = "{sink}"
        "#,
        plugin(sluice_test_plugins::CHAOS)
    ))
}

fn one_key(bodies: &[&str]) -> Vec<MessageParts> {
    bodies.iter().map(|b| MessageParts { keys: vec!["k".into()], body: b.to_string().into_bytes().into(), ..Default::default() }).collect()
}

#[test]
fn retry_then_success_and_retry_exhausted_to_the_dead_letter_topic_with_context() {
    runtime().block_on(async {
        let env = Env::start(&[("in", 4), ("dlq", 1)]).await;
        let bodies = ["a", "retry-until:2", "b", "retry", "c"];
        env.produce("in", &one_key(&bodies)).await;
        let daemon = start(chaos_pipeline(&env, "p", "dead-letter", 8, "out.jsonl")).await;
        let out = env.path("out.jsonl");
        wait_for("4 messages in the sink", Duration::from_secs(60), || lines(&out).len() >= 4).await;
        let dlq = env.collect("dlq", 1, Duration::from_secs(30)).await;
        let snap = daemon.snapshots().remove(0);
        daemon.shutdown().await;

        let got: Vec<String> = lines(&out).iter().map(body_of).collect();
        assert_eq!(got, ["a", "retry-until:2", "b", "c"], "order kept around the retries");
        let stage = &snap.stages[0];
        // retry-until:2 → 2 retries; retry → 2 retries, then given up (3 attempts).
        assert_eq!(stage.retries, 4, "{snap:?}");
        assert_eq!(stage.failures.get("plugin-retry"), Some(&5), "{snap:?}");
        assert_eq!(snap.dead_lettered, 1);

        assert_eq!(dlq.len(), 1, "{dlq:?}");
        let d = &dlq[0].1;
        let prop = |k: &str| d.properties.iter().find(|(p, _)| p == k).map(|(_, v)| v.clone()).unwrap_or_default();
        assert_eq!(&d.body[..], b"retry");
        assert_eq!(d.keys, ["k"]);
        assert_eq!(prop("SLUICE_DLQ_PIPELINE"), "p");
        assert_eq!(prop("SLUICE_DLQ_STAGE"), "chaos");
        assert_eq!(prop("SLUICE_DLQ_PLUGIN"), "chaos");
        assert_eq!(prop("SLUICE_DLQ_CLASS"), "plugin-retry");
        assert_eq!(prop("SLUICE_DLQ_ATTEMPTS"), "3");
        assert_eq!(prop("SLUICE_DLQ_ORIGIN_TOPIC"), "in");
        assert_eq!(prop("SLUICE_DLQ_ORIGIN_OFFSET"), "3");
        assert!(prop("SLUICE_DLQ_ERROR").contains("chaos: retry requested"), "{}", prop("SLUICE_DLQ_ERROR"));
        assert!(!prop("SLUICE_DLQ_ORIGIN_MSG_ID").is_empty());
        let q: u32 = prop("SLUICE_DLQ_ORIGIN_QUEUE").parse().unwrap();
        assert!(q < 4);
        env.stop().await;
    });
}

#[test]
fn stop_policy_halts_the_pipeline_and_the_message_comes_back_for_a_skip_policy() {
    runtime().block_on(async {
        let env = Env::start(&[("in", 2), ("dlq", 1)]).await;
        let bodies: Vec<String> = (0..20).map(|i| if i == 10 { "reject".to_owned() } else { format!("m{i}") }).collect();
        let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
        env.produce("in", &one_key(&refs)).await;

        let daemon = start(chaos_pipeline(&env, "p", "stop", 4, "run1.jsonl")).await;
        let p = daemon.pipeline("p").unwrap();
        wait_for("the pipeline to stop", Duration::from_secs(60), || p.stopped_reason().is_some()).await;
        let reason = p.stopped_reason().unwrap();
        assert!(reason.contains("stage `chaos`") && reason.contains("offset 10") && reason.contains("reject"), "{reason}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut daemon = daemon;
        assert_eq!(daemon.reap_stopped().await, ["p"]);
        daemon.shutdown().await;
        let run1: Vec<String> = lines(&env.path("run1.jsonl")).iter().map(body_of).collect();
        let want: Vec<String> = (0..run1.len()).map(|i| format!("m{i}")).collect();
        assert_eq!(run1, want, "only messages before the failing one, in order");
        assert!(run1.len() <= 10);

        // Same group, policy skip: the rejected message was not committed, so it comes
        // back, is skipped, and everything after it flows.
        let daemon = start(chaos_pipeline(&env, "p", "skip", 4, "run2.jsonl")).await;
        let out2 = env.path("run2.jsonl");
        wait_for("the rest", Duration::from_secs(60), || lines(&out2).last().is_some_and(|l| body_of(l) == "m19")).await;
        let snap = daemon.snapshots().remove(0);
        daemon.shutdown().await;
        assert_eq!(snap.stages[0].skipped, 1, "{snap:?}");
        let mut seen = HashSet::new();
        let all: Vec<String> =
            run1.into_iter().chain(lines(&out2).iter().map(body_of)).filter(|b| seen.insert(b.clone())).collect();
        let want: Vec<String> = (0..20).filter(|i| *i != 10).map(|i| format!("m{i}")).collect();
        assert_eq!(all, want);
        env.stop().await;
    });
}

fn file_pipeline(env: &Env, group: &str, mode: &str, value: &str, sink: &str) -> Config {
    env.config(&format!(
        r#"
        [dead_letter]
        topic = "dlq"
        [shutdown]
        drain_timeout = "10s"
        [[pipeline]]
        name = "p"
        source = {{ topic = "in", group = "{group}", mode = "{mode}", batch_size = 16 }}
        [[pipeline.stage]]
        name = "tag"
        plugin = {}
        config = {{ key = "version", value = "{value}" }}
        [pipeline.sinks.file]
        type = "file"
        path = "{sink}"
        "#,
        plugin(sluice_test_plugins::SET_PROPERTY)
    ))
}

#[test]
fn reload_mid_stream_loses_and_reorders_nothing() {
    runtime().block_on(async {
        let env = Arc::new(Env::start(&[("in", 8), ("dlq", 1)]).await);
        let input = keyed(6_000, 50);
        let mut daemon = start(file_pipeline(&env, "g-reload", "ordered", "v1", "out.jsonl")).await;
        let producer = {
            let (env, input) = (env.clone(), input.clone());
            tokio::spawn(async move {
                for chunk in input.chunks(100) {
                    env.produce("in", chunk).await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        };
        let out = env.path("out.jsonl");
        wait_for("some messages through v1", Duration::from_secs(60), || lines(&out).len() >= 1_000).await;
        daemon.reload(file_pipeline(&env, "g-reload", "ordered", "v2", "out.jsonl")).await.expect("reload");
        producer.await.unwrap();
        wait_for("all messages", Duration::from_secs(120), || lines(&out).len() >= input.len()).await;
        daemon.shutdown().await;

        let got = lines(&out);
        let arrivals: Vec<(String, u64)> = got.iter().map(|l| key_seq(body_of(l).as_bytes())).collect();
        let dups = check_key_order(arrivals.clone());
        assert_eq!(dups, 0);
        assert_eq!(arrivals.iter().collect::<HashSet<_>>().len(), input.len());
        // Per key: v1 … v1 v2 … v2, never back.
        let mut version: HashMap<String, String> = HashMap::new();
        let mut v2 = 0;
        for l in &got {
            let (k, _) = key_seq(body_of(l).as_bytes());
            let v = l["properties"]["version"].as_str().unwrap().to_owned();
            if let Some(prev) = version.insert(k.clone(), v.clone()) {
                assert!(!(prev == "v2" && v == "v1"), "key {k} went back to v1 after v2");
            }
            v2 += usize::from(v == "v2");
        }
        assert!(v2 > 0 && v2 < got.len(), "the reload took effect mid-stream ({v2} of {} on v2)", got.len());
        Arc::try_unwrap(env).ok().expect("env").stop().await;
    });
}

#[test]
fn graceful_shutdown_mid_stream_then_restart_loses_nothing() {
    runtime().block_on(async {
        let env = Arc::new(Env::start(&[("in", 8), ("dlq", 1)]).await);
        let input = keyed(8_000, 100);
        // Produced while the pipeline runs, so that the shutdown lands mid-stream.
        let producer = {
            let (env, input) = (env.clone(), input.clone());
            tokio::spawn(async move {
                for chunk in input.chunks(100) {
                    env.produce("in", chunk).await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        };
        let daemon = start(file_pipeline(&env, "g-restart", "ordered", "x", "out.jsonl")).await;
        let out = env.path("out.jsonl");
        wait_for("a part of the stream", Duration::from_secs(60), || lines(&out).len() >= 1_500).await;
        let t = Instant::now();
        daemon.shutdown().await;
        let took = t.elapsed();
        let first_run = lines(&out).len();
        assert!(first_run < input.len(), "stopped mid-stream ({first_run})");
        assert!(took < Duration::from_secs(15), "shutdown took {took:?}");

        let daemon = start(file_pipeline(&env, "g-restart", "ordered", "x", "out.jsonl")).await;
        let want: HashSet<(String, u64)> = input.iter().map(|p| key_seq(&p.body)).collect();
        wait_for("every message after the restart", Duration::from_secs(120), || {
            lines(&out).iter().map(|l| key_seq(body_of(l).as_bytes())).collect::<HashSet<_>>().len() >= want.len()
        })
        .await;
        daemon.shutdown().await;
        let arrivals: Vec<(String, u64)> = lines(&out).iter().map(|l| key_seq(body_of(l).as_bytes())).collect();
        let dups = check_key_order(arrivals.clone());
        assert_eq!(arrivals.into_iter().collect::<HashSet<_>>(), want);
        eprintln!("shutdown took {took:?}; {first_run} before the restart; {dups} redelivered after it");
        producer.await.unwrap();
        Arc::try_unwrap(env).ok().expect("env").stop().await;
    });
}

#[test]
fn concurrent_mode_delivers_everything() {
    runtime().block_on(async {
        let env = Env::start(&[("in", 4), ("dlq", 1)]).await;
        let input = keyed(3_000, 30);
        env.produce("in", &input).await;
        let daemon = start(file_pipeline(&env, "g-conc", "concurrent", "x", "out.jsonl")).await;
        let out = env.path("out.jsonl");
        wait_for("all messages", Duration::from_secs(120), || lines(&out).len() >= input.len()).await;
        daemon.shutdown().await;
        let got: HashSet<(String, u64)> = lines(&out).iter().map(|l| key_seq(body_of(l).as_bytes())).collect();
        assert_eq!(got, input.iter().map(|p| key_seq(&p.body)).collect());
        env.stop().await;
    });
}

#[test]
fn tag_and_sql92_subscriptions_select_what_they_say() {
    runtime().block_on(async {
        let env = Env::start(&[("in", 4), ("dlq", 1)]).await;
        let input: Vec<MessageParts> = (0..400)
            .map(|i| MessageParts {
                keys: vec![format!("o{}", i % 40)],
                tags: Some(["created", "paid", "shipped"][i % 3].into()),
                properties: vec![("region".into(), ["eu", "us"][i % 2].into()), ("amount".into(), (i % 100).to_string())],
                body: format!("{i}").into_bytes().into(),
                ..Default::default()
            })
            .collect();
        env.produce("in", &input).await;
        let cfg = env.config(
            r#"
            [dead_letter]
            topic = "dlq"
            [[pipeline]]
            name = "tags"
            source = { topic = "in", group = "g-tags", tags = "paid || shipped" }
            sinks.f = { type = "file", path = "tags.jsonl" }
            [[pipeline]]
            name = "sql"
            source = { topic = "in", group = "g-sql", sql = "region = 'eu' AND amount >= 50" }
            sinks.f = { type = "file", path = "sql.jsonl" }
            "#,
        );
        let daemon = start(cfg).await;
        let want_tags: HashSet<String> = (0..400).filter(|i| i % 3 != 0).map(|i| i.to_string()).collect();
        let want_sql: HashSet<String> = (0..400).filter(|i| i % 2 == 0 && i % 100 >= 50).map(|i| i.to_string()).collect();
        let (t, s) = (env.path("tags.jsonl"), env.path("sql.jsonl"));
        let set = |p: &Path| lines(p).iter().map(body_of).collect::<HashSet<String>>();
        let deadline = Instant::now() + Duration::from_secs(60);
        while set(&t).len() < want_tags.len() || set(&s).len() < want_sql.len() {
            assert!(
                Instant::now() < deadline,
                "tags: {} of {}, sql: {} of {}; {:?}",
                set(&t).len(),
                want_tags.len(),
                set(&s).len(),
                want_sql.len(),
                daemon.snapshots()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        daemon.shutdown().await;
        assert_eq!(set(&t), want_tags);
        assert_eq!(set(&s), want_sql);
        env.stop().await;
    });
}

#[test]
fn http_sink_retries_until_accepted_with_a_stable_idempotency_key() {
    use axum::http::{HeaderMap, StatusCode};
    runtime().block_on(async {
        let env = Env::start(&[("in", 2), ("dlq", 1)]).await;
        env.produce("in", &one_key(&["a", "b", "c", "d", "e"])).await;
        // A server that fails its first two requests.
        type Seen = Arc<Mutex<Vec<(String, Vec<String>, u16)>>>;
        let seen: Seen = Arc::default();
        let app = axum::Router::new().route(
            "/ingest",
            axum::routing::post({
                let seen = seen.clone();
                move |headers: HeaderMap, body: axum::Json<Vec<Value>>| {
                    let seen = seen.clone();
                    async move {
                        let mut s = seen.lock().unwrap();
                        let code = if s.len() < 2 { 503 } else { 200 };
                        let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                        s.push((key, body.0.iter().map(body_of).collect(), code));
                        StatusCode::from_u16(code).unwrap()
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/ingest", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let daemon = start(env.config(&format!(
            r#"
            [dead_letter]
            topic = "dlq"
            [[pipeline]]
            name = "h"
            source = {{ topic = "in", group = "g-http", batch_size = 8 }}
            sinks.hook = {{ type = "http", url = "{url}", batch_size = 3 }}
            "#
        )))
        .await;
        wait_for("accepted requests", Duration::from_secs(60), || {
            seen.lock().unwrap().iter().filter(|r| r.2 == 200).flat_map(|r| r.1.clone()).count() >= 5
        })
        .await;
        let snap = daemon.snapshots().remove(0);
        daemon.shutdown().await;
        server.abort();
        let s = seen.lock().unwrap().clone();
        let accepted: Vec<String> = s.iter().filter(|r| r.2 == 200).flat_map(|r| r.1.clone()).collect();
        assert_eq!(accepted, ["a", "b", "c", "d", "e"], "{s:?}");
        assert!(s.iter().all(|r| r.0.len() == 64), "every request has a sha256 idempotency key: {s:?}");
        assert_eq!(s[0].0, s[1].0, "a resent batch keeps its key");
        assert_eq!(s[0].0, s[2].0);
        assert_eq!(snap.sinks[0].errors, 2, "{snap:?}");
        env.stop().await;
    });
}

#[test]
fn an_unreachable_name_server_is_waited_for_not_a_crash() {
    runtime().block_on(async {
        assert!(loopback_only_network(), "run with `cargo xtask test`");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let text = format!(
            "[rocketmq]\nname_server = \"127.0.0.1:{port}\"\n[admin]\nenabled = false\n[[pipeline]]\nname = \"p\"\n\
             source = {{ topic = \"t\", group = \"g\" }}\nsinks.o = {{ type = \"stdout\" }}\n"
        );
        let cfg = Config::from_toml(&text, Path::new(".")).unwrap();
        let (tx, rx) = tokio::sync::watch::channel(false);
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1_500)).await;
            tx.send(true).unwrap();
        });
        let t = Instant::now();
        let r = Daemon::start(cfg, &rx).await.expect("no error while waiting");
        assert!(r.is_none(), "stopped while waiting");
        assert!(t.elapsed() >= Duration::from_millis(1_400) && t.elapsed() < Duration::from_secs(10));
        stopper.await.unwrap();
    });
}

#[test]
fn sluice_run_reloads_on_sighup_and_on_a_changed_plugin_file_and_exits_cleanly_on_sigterm() {
    assert!(loopback_only_network(), "run with `cargo xtask test`");
    let dir = tempfile::tempdir().unwrap();
    // A plugin file that is replaced while the daemon runs.
    let hot = dir.path().join("hot.wasm");
    std::fs::copy(sluice_test_plugins::PASSTHROUGH, &hot).unwrap();
    let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let namesrv = free();
    let config = dir.path().join("sluice.toml");
    let write = |value: &str| {
        std::fs::write(
            &config,
            format!(
                r#"
                [rocketmq]
                name_server = "embedded"
                embedded = {{ data_dir = "broker", namesrv_port = {namesrv}, topics = {{ in = 2 }} }}
                [admin]
                enabled = false
                [reload]
                poll_interval = "200ms"
                [[pipeline]]
                name = "p"
                source = {{ topic = "in", group = "g" }}
                sinks.f = {{ type = "file", path = "out.jsonl" }}
                [[pipeline.stage]]
                plugin = {}
                config = {{ key = "v", value = "{value}" }}
                [[pipeline.stage]]
                plugin = "hot.wasm"
                "#,
                plugin(sluice_test_plugins::SET_PROPERTY)
            ),
        )
        .unwrap()
    };
    write("one");
    let mut child = crate::util::sluice()
        .args(["run", "--config"])
        .arg(&config)
        .env("SLUICE_LOG", "sluice=info,warn")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let reader = {
        let log = log.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                log.lock().unwrap().push_str(&(line + "\n"));
            }
        })
    };
    let wait_log = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !log.lock().unwrap().contains(what) {
            assert!(Instant::now() < deadline, "no `{what}` in the log:\n{}", log.lock().unwrap());
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_log("sluice running");
    let produce = |body: &str| {
        let input = dir.path().join("in.jsonl");
        std::fs::write(&input, format!("{{\"key\":\"k\",\"body\":\"{body}\"}}\n")).unwrap();
        let (code, _, err) = crate::util::output({
            let mut c = crate::util::sluice();
            c.args(["produce", "--name-server", &format!("127.0.0.1:{namesrv}"), "--topic", "in"]).arg(&input);
            c
        });
        assert_eq!(code, 0, "{err}");
    };
    let out = dir.path().join("out.jsonl");
    let wait_lines = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while lines(&out).len() < n {
            assert!(Instant::now() < deadline, "sink has {} lines, want {n}; log:\n{}", lines(&out).len(), log.lock().unwrap());
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    produce("first");
    wait_lines(1);
    write("two");
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    wait_log("configuration reloaded");
    produce("second");
    wait_lines(2);
    // Replace the plugin file: the daemon notices and reloads on its own.
    std::fs::copy(sluice_test_plugins::UPPERCASE, dir.path().join("hot.tmp")).unwrap();
    std::fs::rename(dir.path().join("hot.tmp"), &hot).unwrap();
    wait_log("plugin file changed");
    let reloads = || log.lock().unwrap().matches("configuration reloaded").count();
    let deadline = Instant::now() + Duration::from_secs(30);
    while reloads() < 2 {
        assert!(Instant::now() < deadline, "no second reload:\n{}", log.lock().unwrap());
        std::thread::sleep(Duration::from_millis(100));
    }
    produce("third");
    wait_lines(3);
    // `sluice consume` shows what the topic holds.
    let (code, stdout, err) = crate::util::output({
        let mut c = crate::util::sluice();
        c.args(["consume", "--name-server", &format!("127.0.0.1:{namesrv}"), "--topic", "in", "--count", "3", "--idle", "20s"]);
        c
    });
    assert_eq!(code, 0, "{err}");
    let consumed: Vec<String> = stdout.lines().map(|l| body_of(&serde_json::from_str(l).unwrap())).collect();
    assert_eq!(consumed.len(), 3, "{stdout}");
    assert!(["first", "second", "third"].iter().all(|b| consumed.iter().any(|c| c == b)), "{consumed:?}");
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "no exit 30 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    reader.join().unwrap();
    assert!(status.success(), "{status:?}; log:\n{}", log.lock().unwrap());
    let got: BTreeMap<String, String> =
        lines(&out).iter().map(|l| (body_of(l), l["properties"]["v"].as_str().unwrap_or_default().to_owned())).collect();
    assert_eq!(
        got,
        BTreeMap::from([("first".into(), "one".into()), ("second".into(), "two".into()), ("THIRD".into(), "two".into())])
    );
}

#[test]
fn sluice_check_reports_every_problem_with_its_key_path() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        format!(
            r#"
            [rocketmq]
            name_server = "127.0.0.1:9876"
            [[pipeline]]
            name = "orders"
            source = {{ topic = "orders", group = "g", mode = "sorted" }}
            sinks.out = {{ type = "stdout" }}
            [[pipeline]]
            name = "refunds"
            source = {{ topic = "refunds", group = "g2" }}
            sinks.out = {{ type = "stdout" }}
            [[pipeline.stage]]
            plugin = "missing.wasm"
            [[pipeline.stage]]
            plugin = {}
            limits = {{ memroy = "1 MiB" }}
            "#,
            plugin(sluice_test_plugins::CHAOS)
        ),
    )
    .unwrap();
    let (code, out, err) = crate::util::output({
        let mut c = crate::util::sluice();
        c.args(["check", "--config"]).arg(&config);
        c
    });
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("2 problems"), "{err}");
    assert!(err.contains("pipeline[orders].source.mode: unknown variant `sorted`, expected `ordered` or `concurrent`"), "{err}");
    assert!(err.contains("pipeline[refunds].stage[1].limits.memroy: unknown field `memroy`"), "{err}");

    // Once the file is right, the plugins are loaded: a missing file and a plugin that
    // refuses its configuration are reported with their stage.
    let text = std::fs::read_to_string(&config).unwrap().replace("mode = \"sorted\"", "mode = \"ordered\"").replace(
        "limits = { memroy = \"1 MiB\" }",
        "config = { refuse = \"yes\" }",
    );
    std::fs::write(&config, &text).unwrap();
    let (code, _, err) = crate::util::output({
        let mut c = crate::util::sluice();
        c.args(["check", "--config"]).arg(&config);
        c
    });
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("pipeline[refunds].stage[0].plugin: no plugin file at"), "{err}");
    std::fs::copy(sluice_test_plugins::PASSTHROUGH, dir.path().join("missing.wasm")).unwrap();
    let (code, _, err) = crate::util::output({
        let mut c = crate::util::sluice();
        c.args(["check", "--config"]).arg(&config);
        c
    });
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("pipeline[refunds].stage[1]: ") && err.contains("refused its configuration (key `refuse`)"), "{err}");
    // `sluice run` refuses to start on the same problems.
    let (code, _, err) = crate::util::output({
        let mut c = crate::util::sluice();
        c.args(["run", "--config"]).arg(&config);
        c
    });
    assert_eq!(code, 1);
    assert!(err.contains("is not valid; nothing was started") && err.contains("refused its configuration"), "{err}");
    std::fs::write(&config, text.replace("config = { refuse = \"yes\" }", "")).unwrap();
    let (code, out, err) = crate::util::output({
        let mut c = crate::util::sluice();
        c.args(["check", "--config"]).arg(&config);
        c
    });
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("OK (2 pipelines, 2 stages, every plugin loaded and initialised)"), "{out}");
}

#[test]
fn the_example_configs_are_valid() {
    for (file, plugins) in [("examples/quickstart.toml", false), ("examples/production.toml", false)] {
        let path = crate::util::root().join(file);
        let mut c = crate::util::sluice();
        c.args(["check", "--config"]).arg(&path).env("ROCKETMQ_ACCESS_KEY", "ak").env("ROCKETMQ_SECRET_KEY", "sk");
        if !plugins {
            c.arg("--no-plugins");
        }
        let (code, out, err) = crate::util::output(c);
        assert_eq!(code, 0, "{file}: {out}{err}");
    }
}

#[test]
fn outputs_go_to_their_destination_sink_or_route_and_unknown_ones_are_dead_lettered() {
    runtime().block_on(async {
        let env = Env::start(&[("in", 2), ("dlq", 1)]).await;
        env.produce("in", &one_key(&["a", "route:fraud", "route:suspicious", "route:nowhere", "b"])).await;
        let daemon = start(env.config(&format!(
            r#"
            [dead_letter]
            topic = "dlq"
            [[pipeline]]
            name = "r"
            source = {{ topic = "in", group = "g-route" }}
            default_sinks = ["main"]
            routes = {{ suspicious = ["fraud", "audit"] }}
            sinks.main = {{ type = "file", path = "main.jsonl" }}
            sinks.fraud = {{ type = "file", path = "fraud.jsonl" }}
            sinks.audit = {{ type = "file", path = "audit.jsonl" }}
            [[pipeline.stage]]
            plugin = {}
            "#,
            plugin(sluice_test_plugins::CHAOS)
        )))
        .await;
        let dlq = env.collect("dlq", 1, Duration::from_secs(60)).await;
        let file = |n: &str| lines(&env.path(n)).iter().map(body_of).collect::<Vec<_>>();
        wait_for("main", Duration::from_secs(30), || file("main.jsonl").len() >= 2).await;
        daemon.shutdown().await;
        assert_eq!(file("main.jsonl"), ["a", "b"]);
        assert_eq!(file("fraud.jsonl"), ["route:fraud", "route:suspicious"]);
        assert_eq!(file("audit.jsonl"), ["route:suspicious"]);
        assert_eq!(lines(&env.path("fraud.jsonl"))[1]["destination"], "suspicious");
        assert_eq!(dlq.len(), 1, "{dlq:?}");
        let d = &dlq[0].1;
        let prop = |k: &str| d.properties.iter().find(|(p, _)| p == k).map(|(_, v)| v.clone()).unwrap_or_default();
        assert_eq!(&d.body[..], b"route:nowhere");
        assert_eq!((prop("SLUICE_DLQ_STAGE").as_str(), prop("SLUICE_DLQ_CLASS").as_str()), ("routing", "invalid-output"));
        assert!(prop("SLUICE_DLQ_ERROR").contains("`nowhere`, which is neither a sink nor a route"), "{}", prop("SLUICE_DLQ_ERROR"));
        env.stop().await;
    });
}

#[test]
fn a_missing_topic_is_a_clear_start_up_error() {
    runtime().block_on(async {
        let env = Env::start(&[("in", 2), ("dlq", 1)]).await;
        let cfg = env.config(
            r#"
            [dead_letter]
            topic = "dlq"
            [[pipeline]]
            name = "p"
            source = { topic = "in", group = "g-missing" }
            sinks.out = { type = "rocketmq", topic = "no-such-topic" }
            "#,
        );
        let err = match Daemon::start(cfg, &never()).await {
            Ok(_) => panic!("started without its sink topic"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("1 topic(s) of the configuration cannot be found") && err.contains("no-such-topic"), "{err}");
        env.stop().await;
    });
}

/// A broker with `in` (2 queues) holding `a`, `reject`, `b` on one key, and an admin
/// endpoint with no pipeline yet.
async fn admin_fixture() -> (Env, Arc<sluice::admin::AdminState>, std::net::SocketAddr) {
    let env = Env::start(&[("in", 2), ("dlq", 1)]).await;
    env.produce("in", &one_key(&["a", "reject", "b"])).await;
    let state = sluice::admin::AdminState::new();
    let addr = sluice::admin::serve("127.0.0.1:0", state.clone()).await.unwrap();
    (env, state, addr)
}

#[test]
fn the_admin_endpoint_serves_every_metric_health_readiness_and_status() {
    runtime().block_on(async {
        let (env, state, addr) = admin_fixture().await;
        let get = |path: &str| {
            let url = format!("http://{addr}{path}");
            async move {
                let r = reqwest::get(&url).await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        assert_eq!(get("/healthz").await.0, 200);
        assert_eq!(get("/readyz").await.0, 503, "not ready before the daemon runs");
        let daemon = start(chaos_pipeline(&env, "m", "dead-letter", 8, "out.jsonl")).await;
        state.set_pipelines(daemon.pipelines(), daemon.name_server());
        state.set_ready(true);
        let out = env.path("out.jsonl");
        wait_for("the messages", Duration::from_secs(60), || lines(&out).len() >= 2).await;
        wait_for("the dead letter", Duration::from_secs(30), || daemon.snapshots()[0].dead_lettered == 1).await;
        assert_eq!(get("/readyz").await.0, 200);
        // Queues: the consumer holds both of `in`'s queues; everything is committed.
        let pipeline = daemon.pipeline("m").unwrap();
        wait_for("both queues committed", Duration::from_secs(30), || {
            let q = pipeline.queues();
            q.len() == 2 && q.iter().all(|q| q.lag == 0) && q.iter().map(|q| q.committed_offset).sum::<i64>() == 3
        })
        .await;

        let (code, text) = get("/metrics").await;
        assert_eq!(code, 200);
        for (name, kind, _) in sluice::admin::metrics::METRICS {
            let sample = match kind {
                prometheus_client::metrics::MetricType::Counter => format!("{name}_total"),
                prometheus_client::metrics::MetricType::Histogram => format!("{name}_bucket"),
                _ => name.to_string(),
            };
            assert!(text.lines().any(|l| l.starts_with(&sample)), "no {sample} in /metrics:\n{text}");
        }
        let has = |line: &str| assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
        has("sluice_messages_consumed_total{pipeline=\"m\"} 3");
        has("sluice_messages_dead_lettered_total{pipeline=\"m\"} 1");
        has("sluice_stage_failures_total{pipeline=\"m\",stage=\"chaos\",plugin=\"chaos\",class=\"plugin-reject\"} 1");
        has("sluice_sink_messages_sent_total{pipeline=\"m\",sink=\"file\"} 2");
        has("sluice_ready 1");
        assert!(text.contains("sluice_plugin_call_duration_seconds_bucket{le=\"0.00005\",pipeline=\"m\",stage=\"chaos\",plugin=\"chaos\"}"), "{text}");

        let queue_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("sluice_consumer_committed_offset{")).collect();
        assert_eq!(queue_lines.len(), 2, "{text}");
        assert!(queue_lines.iter().all(|l| l.contains("pipeline=\"m\",topic=\"in\",broker=\"") && l.contains(",queue=\"")), "{text}");
        assert_eq!(queue_lines.iter().map(|l| l.rsplit(' ').next().unwrap().parse::<i64>().unwrap()).sum::<i64>(), 3, "{text}");
        has("sluice_consumer_queues_assigned{pipeline=\"m\"} 2");
        assert_eq!(text.lines().filter(|l| l.starts_with("sluice_consumer_lag_messages{") && l.ends_with(" 0")).count(), 2, "{text}");

        let (code, status) = get("/status").await;
        assert_eq!(code, 200);
        let v: Value = serde_json::from_str(&status).unwrap();
        let p = &v["pipelines"][0];
        assert_eq!((p["pipeline"].as_str(), p["topic"].as_str(), p["mode"].as_str()), (Some("m"), Some("in"), Some("ordered")));
        assert_eq!(p["plugins"][0]["sha256"].as_str().map(str::len), Some(64), "{status}");
        assert_eq!(p["dead_lettered"], 1);
        assert_eq!(v["ready"], true);
        assert_eq!(p["queues"].as_array().map(Vec::len), Some(2), "{status}");
        assert_eq!(p["lag"], 0);
        assert!(p["rates"]["consumed_per_second"].is_number(), "{status}");
        let e = &p["last_errors"][0];
        assert_eq!((e["component"].as_str(), e["class"].as_str()), (Some("stage chaos"), Some("plugin-reject")), "{status}");
        assert!(e["message"].as_str().unwrap().contains("chaos: reject requested"), "{status}");
        // The chart data: one sample a second.
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let (_, history) = get("/api/history").await;
        let h: Value = serde_json::from_str(&history).unwrap();
        let samples = h["pipelines"]["m"].as_array().unwrap();
        assert!(samples.len() >= 2, "{history}");
        let last = samples.last().unwrap();
        assert_eq!((last["consumed"].as_u64(), last["delivered"].as_u64(), last["dead_lettered"].as_u64()), (Some(3), Some(2), Some(1)));
        daemon.shutdown().await;
        env.stop().await;
    });
}

#[test]
fn the_status_page_shows_each_pipeline_live_in_headless_chromium() {
    runtime().block_on(async {
        let (env, state, addr) = admin_fixture().await;
        let daemon = start(chaos_pipeline(&env, "m", "dead-letter", 8, "out.jsonl")).await;
        state.set_pipelines(daemon.pipelines(), daemon.name_server());
        state.set_ready(true);
        let pipeline = daemon.pipeline("m").unwrap();
        wait_for("the first three messages", Duration::from_secs(60), || {
            let s = pipeline.snapshot();
            s.consumed == 3 && s.dead_lettered == 1 && s.queues.len() == 2
        })
        .await;
        // A few samples of history, so that every chart has a line.
        tokio::time::sleep(Duration::from_secs(3)).await;

        // What the page displays, read from its DOM.
        const SHOWN: &str = r#"(() => {
            const s = document.querySelector('section.pipeline[data-pipeline="m"]');
            if (!s || !document.body.dataset.updated) return null;
            return {
                updated: document.body.dataset.updated,
                meta: document.getElementById('meta').textContent,
                state: s.querySelector('.state').textContent,
                totals: s.querySelector('.totals').textContent,
                charts: [...s.querySelectorAll('.chart')].map(c => ({
                    key: c.dataset.chart,
                    value: c.querySelector('.value').textContent,
                    lines: [...c.querySelectorAll('polyline')].map(p => p.getAttribute('points').trim().split(/\s+/).length),
                })),
                stages: [...s.querySelectorAll('table.stages tr')].slice(1).map(r => r.textContent),
                queues: [...s.querySelectorAll('table.queues tr')].slice(1).map(r => [...r.children].map(td => td.textContent)),
                errors: [...s.querySelectorAll('table.errors td.msg')].map(td => td.textContent),
                banner: getComputedStyle(document.getElementById('banner')).display,
            };
        })()"#;
        let url = format!("http://{addr}/");
        let (first, second) = tokio::task::block_in_place(|| {
            let mut browser = crate::browser::Browser::launch();
            let page = browser.open(&url);
            let first = browser.wait_for(&page, "pipeline m", SHOWN, Duration::from_secs(30), |v| !v.is_null());
            // Live: more messages arrive while the page stays open; it shows them without a reload.
            tokio::runtime::Handle::current().block_on(env.produce("in", &one_key(&["c", "d", "reject", "e"])));
            let second = browser.wait_for(&page, "the new messages", SHOWN, Duration::from_secs(60), |v| {
                v["totals"].as_str().is_some_and(|t| t.contains("consumed 7") && t.contains("dead-lettered 2"))
            });
            (first, second)
        });
        let shown = |v: &Value| format!("{v:#}");
        assert_eq!(first["state"], "running", "{}", shown(&first));
        assert!(first["meta"].as_str().unwrap().contains("ready"), "{}", shown(&first));
        assert!(first["totals"].as_str().unwrap().contains("consumed 3 · filtered 0 · dead-lettered 1"), "{}", shown(&first));
        let charts = first["charts"].as_array().unwrap();
        let keys: Vec<&str> = charts.iter().map(|c| c["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["throughput", "lag", "errors", "dead_letters"]);
        for c in charts {
            let lines = c["lines"].as_array().unwrap();
            assert!(!lines.is_empty() && lines.iter().all(|n| n.as_u64().unwrap() >= 2), "chart {} has no line: {}", c["key"], shown(&first));
        }
        assert_eq!(charts[0]["lines"].as_array().unwrap().len(), 2, "throughput draws in and out");
        assert_eq!(charts[1]["value"], "0", "nothing left to consume: {}", shown(&first));
        assert!(charts[3]["value"].as_str().unwrap().ends_with("1 total"), "{}", shown(&first));
        assert!(first["stages"][0].as_str().unwrap().starts_with("chaos3"), "stage row: {}", shown(&first));
        let queues = first["queues"].as_array().unwrap();
        assert_eq!(queues.len(), 2, "{}", shown(&first));
        assert_eq!(queues.iter().map(|q| q[3].as_str().unwrap().parse::<i64>().unwrap()).sum::<i64>(), 3, "committed offsets");
        assert!(queues.iter().all(|q| q[5] == "0"), "lag per queue: {}", shown(&first));
        assert!(first["errors"].as_array().unwrap().iter().any(|e| e.as_str().unwrap().contains("chaos: reject requested")), "{}", shown(&first));
        assert_eq!(first["banner"], "none");

        assert_ne!(second["updated"], first["updated"]);
        assert!(second["charts"][3]["value"].as_str().unwrap().ends_with("2 total"), "{}", shown(&second));
        let errors = second["errors"].as_array().unwrap();
        assert!(errors.len() >= 2, "both rejections listed: {}", shown(&second));
        daemon.shutdown().await;
        env.stop().await;
    });
}

#[test]
fn plugin_faults_are_dead_lettered_with_context_instances_rebuilt_and_the_breaker_trips() {
    runtime().block_on(async {
        let env = Env::start(&[("in", 2), ("dlq", 1)]).await;
        let faults = ["trap", "loop", "alloc", "panic", "fanout:5000", "malformed"];
        let bodies: Vec<&str> = std::iter::once("ok-1").chain(faults).chain(["ok-2"]).collect();
        env.produce("in", &one_key(&bodies)).await;
        let cfg = env.config(&format!(
            r#"
            [dead_letter]
            topic = "dlq"
            [[pipeline]]
            name = "faults"
            source = {{ topic = "in", group = "g-faults", batch_size = 16 }}
            sinks.file = {{ type = "file", path = "out.jsonl" }}
            [[pipeline.stage]]
            name = "chaos"
            plugin = {}
            limits = {{ memory = "64 MiB", deadline = "300ms", max_outputs_per_message = 1000 }}
            retry = {{ max_attempts = 2, initial_backoff = "10ms", max_backoff = "50ms" }}
            circuit_breaker = {{ consecutive_failures = 3, cooldown = "300ms" }}
            "#,
            plugin(sluice_test_plugins::CHAOS)
        ));
        let daemon = start(cfg).await;
        let out = env.path("out.jsonl");
        wait_for("the two good messages", Duration::from_secs(90), || lines(&out).len() >= 2).await;
        let dlq = env.collect("dlq", faults.len(), Duration::from_secs(60)).await;
        // Still serving after all that.
        env.produce("in", &one_key(&["ok-3"])).await;
        wait_for("a message after the faults", Duration::from_secs(60), || lines(&out).len() >= 3).await;
        let pipeline = daemon.pipeline("faults").unwrap();
        let rt = pipeline.runtime();
        let stage = &rt.stages[0];
        let plugin_stats = stage.plugin.as_ref().unwrap().stats();
        let trips = stage.stats.breaker_opened.load(std::sync::atomic::Ordering::Relaxed);
        drop(rt);
        daemon.shutdown().await;

        let got: Vec<String> = lines(&out).iter().map(body_of).collect();
        assert_eq!(got, ["ok-1", "ok-2", "ok-3"], "good messages pass, in order, around the faults");
        let prop = |d: &MessageParts, k: &str| d.properties.iter().find(|(p, _)| p == k).map(|(_, v)| v.clone()).unwrap_or_default();
        let letters: Vec<(String, String, String)> = dlq
            .iter()
            .map(|(_, d)| (String::from_utf8_lossy(&d.body).into_owned(), prop(d, "SLUICE_DLQ_CLASS"), prop(d, "SLUICE_DLQ_ATTEMPTS")))
            .collect();
        let expected = [
            ("trap", "trap", "2"),
            ("loop", "deadline", "2"),
            ("alloc", "memory", "2"),
            ("panic", "trap", "2"),
            ("fanout:5000", "invalid-output", "1"),
            ("malformed", "invalid-output", "1"),
        ];
        assert_eq!(
            letters,
            expected.iter().map(|(b, c, a)| (b.to_string(), c.to_string(), a.to_string())).collect::<Vec<_>>(),
            "one dead letter per fault, in order, with its class and attempts"
        );
        for (_, d) in &dlq {
            assert_eq!(prop(d, "SLUICE_DLQ_STAGE"), "chaos");
            assert!(!prop(d, "SLUICE_DLQ_ERROR").is_empty(), "{d:?}");
        }
        assert!(prop(&dlq[3].1, "SLUICE_DLQ_ERROR").contains("panicked"), "the panic message reaches the dead letter: {:?}", dlq[3].1);
        assert!(prop(&dlq[4].1, "SLUICE_DLQ_ERROR").contains("more than the stage's limit of 1000"), "{:?}", dlq[4].1);
        // Every crash discarded its instance; fresh ones replaced them.
        let discarded = |c: &str| plugin_stats.discarded.get(c).copied().unwrap_or(0);
        assert!(discarded("trap") >= 4 && discarded("deadline") >= 2 && discarded("memory") >= 2, "{plugin_stats:?}");
        assert!(plugin_stats.instances_created > 8, "{plugin_stats:?}");
        assert!(trips >= 1, "three crashes in a row open the breaker");
        println!(
            "FIGURES plugin faults: {} faults dead-lettered with class and context, 3 good delivered in order, instances discarded {:?}, created {}, breaker trips {trips}",
            dlq.len(),
            plugin_stats.discarded,
            plugin_stats.instances_created
        );
        env.stop().await;
    });
}

#[test]
fn bad_bodies_non_utf8_not_json_at_the_size_limit_and_empty_or_oversized_outputs_are_each_accounted_for() {
    runtime().block_on(async {
        let env = Env::start(&[("in", 2), ("in2", 1), ("dlq", 1), ("out", 2)]).await;
        // RocketMQ's clients refuse empty bodies and messages over 4 MiB before Sluice
        // could see them; the largest body that passes is just under 4 MiB.
        for body in [Vec::new(), vec![b'x'; 4 << 20]] {
            let refused = env.producer.send("in", &[MessageParts { body: body.clone().into(), ..Default::default() }.build()], 0, 1, &[]).await;
            assert!(refused.is_err(), "RocketMQ took a {} byte body", body.len());
        }
        let big = {
            let mut b = br#"{"event":"paid","email":"big@example.com","pad":""#.to_vec();
            b.resize((4 << 20) - 4096, b'x');
            b.extend_from_slice(b"\"}");
            b
        };
        let bodies: Vec<Vec<u8>> = vec![
            br#"{"event":"paid","email":"ann@example.com"}"#.to_vec(),
            br#"{"event":"created"}"#.to_vec(),
            b"\xff\xfe\x00not utf-8 \xc3\x28".to_vec(),
            b"hello, not JSON".to_vec(),
            big.clone(),
        ];
        for b in &bodies {
            env.producer.send("in", &[MessageParts { keys: vec!["k".into()], body: b.clone().into(), ..Default::default() }.build()], 0, 1, &[]).await.unwrap();
        }
        // Outputs a RocketMQ sink can never take, made by a plugin.
        env.produce("in2", &one_key(&["empty", "big", "fine"])).await;
        let cfg = env.config(&format!(
            r#"
            [dead_letter]
            topic = "dlq"
            [[pipeline]]
            name = "bodies"
            source = {{ topic = "in", group = "g-bodies" }}
            sinks.file = {{ type = "file", path = "out.jsonl" }}
            sinks.mq = {{ type = "rocketmq", topic = "out" }}
            [[pipeline.stage]]
            name = "mask"
            plugin = {}
            [[pipeline.stage]]
            name = "paid-only"
            plugin = {}
            config = {{ field = "event", equals = '"paid"' }}
            [[pipeline]]
            name = "outputs"
            source = {{ topic = "in2", group = "g-outputs" }}
            sinks.mq = {{ type = "rocketmq", topic = "out" }}
            [[pipeline.stage]]
            name = "chaos"
            plugin = {}
            "#,
            plugin(sluice_test_plugins::MASK_PII),
            plugin(sluice_test_plugins::JSON_FILTER),
            plugin(sluice_test_plugins::CHAOS)
        ));
        let daemon = start(cfg).await;
        let pipeline = daemon.pipeline("bodies").unwrap();
        let outputs = daemon.pipeline("outputs").unwrap();
        let sent = bodies.len();
        let accounted = |s: &sluice::pipeline::stats::Snapshot| s.filtered + s.dead_lettered + s.sinks.iter().map(|k| k.sent).max().unwrap_or(0);
        wait_for("every message handled", Duration::from_secs(90), || {
            let (s, o) = (pipeline.snapshot(), outputs.snapshot());
            s.consumed == sent as u64 && s.in_flight == 0 && accounted(&s) >= sent as u64 && o.consumed == 3 && o.in_flight == 0 && accounted(&o) >= 3
        })
        .await;
        let (snap, osnap) = (pipeline.snapshot(), outputs.snapshot());
        let out: Vec<Value> = lines(&env.path("out.jsonl"));
        let mq = env.collect("out", out.len() + 1, Duration::from_secs(30)).await;
        let dlq = env.collect("dlq", (snap.dead_lettered + osnap.dead_lettered) as usize, Duration::from_secs(30)).await;
        daemon.shutdown().await;
        let reasons: Vec<(String, String)> = dlq
            .iter()
            .map(|(_, d)| {
                let p = |k: &str| d.properties.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
                (p("SLUICE_DLQ_STAGE"), p("SLUICE_DLQ_ERROR"))
            })
            .collect();
        println!(
            "FIGURES bad bodies: {sent} sent (2 JSON, non-UTF-8, not JSON, a {} byte body): {} delivered to each sink, {} filtered, {} dead-lettered; \
             3 plugin outputs (empty, 5 MiB, fine) for a RocketMQ sink: {} delivered, {} dead-lettered; reasons: {reasons:?}",
            big.len(),
            out.len(),
            snap.filtered,
            snap.dead_lettered,
            osnap.sinks[0].sent,
            osnap.dead_lettered,
        );
        // Every message is accounted for: delivered, filtered or dead-lettered with a reason.
        let in_file: Vec<String> = out.iter().map(|v| v["body"].as_str().map_or(0, str::len).to_string()).collect();
        assert_eq!(out.len() as u64 + snap.filtered + snap.dead_lettered, sent as u64, "{snap:?} {in_file:?}");
        assert_eq!(mq.len(), out.len() + 1, "the RocketMQ sink has the file sink's messages and `fine`");
        assert_eq!((osnap.sinks[0].sent, osnap.dead_lettered), (1, 2), "{osnap:?}");
        assert_eq!(snap.dead_lettered + osnap.dead_lettered, dlq.len() as u64);
        for (stage, error) in &reasons {
            assert!(!stage.is_empty() && !error.is_empty(), "a dead letter says where and why: {reasons:?}");
        }
        // The empty and 5 MiB outputs were dead-lettered for the RocketMQ sink, in words.
        assert!(reasons.iter().any(|(_, e)| e.contains("sink `mq` cannot take this message: RocketMQ does not carry messages with an empty body")), "{reasons:?}");
        assert!(reasons.iter().any(|(_, e)| e.contains("over RocketMQ's message size limit")), "{reasons:?}");
        // The near-4 MiB paid event went through three stages and both sinks whole, masked.
        let big_out = mq.iter().find(|(_, p)| p.body.len() > 1 << 20).expect("the large message in the RocketMQ sink");
        assert_eq!(big_out.1.body.len(), big.len() - "big@example.com".len() + masked_len("big@example.com"), "only the e-mail was masked");
        assert!(out.iter().any(|v| v["body"].as_str().is_some_and(|b| b.len() > 1 << 20)), "and in the file sink");
        env.stop().await;
    });
}

/// Length of an e-mail address once mask-pii has masked it.
fn masked_len(email: &str) -> usize {
    let plugin = crate::util::load(sluice_test_plugins::MASK_PII, &[]);
    let body = format!(r#"{{"email":"{email}"}}"#);
    match &crate::util::run(&plugin, &[&body]).unwrap()[0] {
        sluice::message::Outcome::Replace(v) => v[0].body().len() - r#"{"email":""}"#.len(),
        sluice::message::Outcome::Keep => email.len(),
        other => panic!("{other:?}"),
    }
}
