//! End-to-end throughput: messages per second from a RocketMQ topic through Sluice into a
//! RocketMQ sink, beside a baseline measured in the same run on the same broker — the
//! fastest plain rocketmq-rust bridge with no WASM that the same client allows (orderly
//! push consumer, batches of 32, `send_batch_to_queue` to the same queue number).
//!
//! Every scenario gets its own pair of 8-queue topics, pre-filled with N keyed messages
//! (100 B and 1 KiB bodies), then its consumer (bridge or Sluice pipeline) starts; the rate
//! is N over the time from the first message handled to the last one acknowledged by the
//! sink. The broker runs in the same process (embedded), on the same 2 cores.
//!
//! `cargo xtask bench-pipeline` runs it at full size (release build, loopback-only
//! namespace); `BENCH_MESSAGES` sets N (default 200,000). Under `cargo test --benches` it
//! runs every scenario once with 2,000 messages, as a check that it works.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rocketmq_client_rust::{
    ClientResult, ConsumeOrderlyContext, ConsumeOrderlyStatus, DefaultMQProducer, DefaultMQPushConsumer, MQPushConsumer,
    MessageListenerOrderly,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message as MqMessage;
use sluice::broker::{EmbeddedBroker, EmbeddedBrokerConfig, loopback_only_network};
use sluice::config::{Config, RocketMqConfig};
use sluice::connection::Connection;
use sluice::message::{Message, MessageParts};
use sluice::sink::rocketmq::Producer;

const BODIES: [usize; 2] = [100, 1024];
const QUEUES: u32 = 8;

/// What runs between the two topics.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Bridge,
    NoPlugin,
    RustFilter,
    ThreeStages,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Bridge => "bridge (baseline)",
            Scenario::NoPlugin => "sluice, no plugin",
            Scenario::RustFilter => "sluice, Rust filter",
            Scenario::ThreeStages => "sluice, 3 Rust stages",
        }
    }

    /// The pipeline's stages (TOML), for the Sluice scenarios.
    fn stages(self) -> String {
        let stage = |p: &str, cfg: &str| format!("[[pipeline.stage]]\nplugin = {p:?}\nconfig = {{ {cfg} }}\n");
        let filter = stage(sluice_test_plugins::JSON_FILTER, r#"field = "kind", equals = '"order"'"#);
        match self {
            Scenario::Bridge | Scenario::NoPlugin => String::new(),
            Scenario::RustFilter => filter,
            Scenario::ThreeStages => {
                stage(sluice_test_plugins::SET_PROPERTY, r#"key = "stage", value = "one""#)
                    + &stage(sluice_test_plugins::MASK_PII, "")
                    + &filter
            }
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(4).max_blocking_threads(64).enable_all().build().expect("tokio runtime")
}

/// N messages over 1,000 keys; the body is JSON (`kind` = `order`, so the filter keeps
/// them all and every scenario delivers N), padded to `size` bytes.
fn messages(n: usize, size: usize) -> Vec<Message> {
    let parts: Vec<MessageParts> = (0..n)
        .map(|i| {
            let mut body = format!(r#"{{"kind":"order","id":{i},"email":"someone@example.com","pad":""#).into_bytes();
            body.resize(size.saturating_sub(2).max(body.len()), b'x');
            body.extend_from_slice(b"\"}");
            MessageParts { keys: vec![format!("k{}", i % 1000)], body: body.into(), ..Default::default() }
        })
        .collect();
    MessageParts::build_batch(&parts)
}

struct Bench {
    broker: EmbeddedBroker,
    conn: Connection,
    producer: Producer,
    dir: tempfile::TempDir,
    cache: tempfile::TempDir,
}

impl Bench {
    async fn start() -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let broker = EmbeddedBroker::start(&EmbeddedBrokerConfig {
            data_dir: dir.path().join("broker"),
            namesrv_port: 0,
            broker_port: 0,
            auth: None,
            tls: None,
        })
        .await
        .expect("embedded broker");
        let addr = broker.namesrv_addr().to_owned();
        let rcfg = RocketMqConfig { name_server: addr.clone(), client_ip: Some("127.0.0.1".into()), ..Default::default() };
        let conn = Connection::new(&rcfg, &addr, &Config::default()).unwrap();
        let producer = Producer::start("bench-fill", &conn).await.unwrap();
        let mut broker = broker;
        broker.create_topic("SLUICE_DLQ", 1).await.unwrap();
        Bench { broker, conn, producer, dir, cache: tempfile::tempdir().unwrap() }
    }

    async fn fill(&mut self, topic: &str, msgs: &[Message]) {
        self.broker.create_topic(topic, QUEUES).await.unwrap();
        for chunk in msgs.chunks(1024) {
            self.producer.send(topic, chunk, 0, 64, &[]).await.expect("fill");
        }
    }

    /// The plain bridge: orderly consume in batches of 32, one `send_batch_to_queue` per
    /// batch to the same queue number of `to`. Returns (first handled, last acknowledged).
    async fn bridge(&self, from: &str, to: &str, n: u64) -> (Instant, Instant) {
        let mut p = DefaultMQProducer::builder(self.conn.runtime())
            .client_config(self.conn.client_config())
            .name_server_addr(self.conn.name_server().to_owned())
            .producer_group(format!("bench-bridge-{from}"))
            .build();
        p.start().await.unwrap();
        let queues: Vec<MessageQueue> = {
            let mut q = p.fetch_publish_message_queues(to).await.unwrap();
            q.sort_by_key(MessageQueue::queue_id);
            q
        };
        let state = Arc::new(BridgeState { producer: tokio::sync::RwLock::new(p), queues, done: AtomicU64::new(0), first: std::sync::OnceLock::new() });
        let mut c = DefaultMQPushConsumer::builder(self.conn.runtime())
            .client_config(self.conn.client_config())
            .name_server_addr(self.conn.name_server().to_owned())
            .consumer_group(format!("bench-bridge-{from}"))
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .consume_message_batch_max_size(32)
            .pull_batch_size(32)
            .consume_thread_min(8)
            .consume_thread_max(8)
            .build();
        c.subscribe(from, "*").await.unwrap();
        c.register_message_listener_orderly(Bridge(state.clone(), tokio::runtime::Handle::current()));
        c.start().await.unwrap();
        while state.done.load(Ordering::Acquire) < n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let last = Instant::now();
        c.shutdown().await;
        state.producer.write().await.shutdown().await;
        (*state.first.get().expect("something was consumed"), last)
    }

    /// A Sluice daemon running one pipeline `from` → stages → RocketMQ sink `to`.
    async fn sluice(&self, scenario: Scenario, from: &str, to: &str, n: u64) -> (Instant, Instant) {
        let text = format!(
            r#"
            [rocketmq]
            name_server = "{}"
            client_ip = "127.0.0.1"
            [engine]
            cache_dir = {:?}
            [admin]
            enabled = false
            [[pipeline]]
            name = "bench"
            source = {{ topic = "{from}", group = "bench-sluice-{from}", batch_size = 32 }}
            sinks.out = {{ type = "rocketmq", topic = "{to}" }}
            {}
            "#,
            self.broker.namesrv_addr(),
            self.cache.path().display().to_string(),
            scenario.stages()
        );
        let cfg = Config::from_toml(&text, self.dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let (_tx, never) = tokio::sync::watch::channel(false);
        let daemon = sluice::daemon::Daemon::start(cfg, &never).await.expect("daemon").expect("not stopped");
        let pipeline = daemon.pipeline("bench").unwrap();
        let mut first = None;
        let sent = || pipeline.runtime().sink_stats.values().map(|s| s.sent.load(Ordering::Relaxed)).sum::<u64>();
        loop {
            let consumed = pipeline.stats.consumed.load(Ordering::Relaxed);
            if first.is_none() && consumed > 0 {
                first = Some(Instant::now());
            }
            if sent() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let last = Instant::now();
        daemon.shutdown().await;
        (first.expect("something was consumed"), last)
    }
}

struct BridgeState {
    producer: tokio::sync::RwLock<DefaultMQProducer>,
    queues: Vec<MessageQueue>,
    done: AtomicU64,
    first: std::sync::OnceLock<Instant>,
}

struct Bridge(Arc<BridgeState>, tokio::runtime::Handle);

impl MessageListenerOrderly for Bridge {
    fn consume_message(&self, msgs: &[&MessageExt], _: &mut ConsumeOrderlyContext) -> ClientResult<ConsumeOrderlyStatus> {
        let _ = self.0.first.set(Instant::now());
        let Some(first) = msgs.first() else { return Ok(ConsumeOrderlyStatus::Success) };
        let q = self.0.queues[usize::try_from(first.queue_id()).unwrap_or(0) % self.0.queues.len()].clone();
        let batch: Vec<MqMessage> = msgs
            .iter()
            .map(|m| {
                let mut b = MqMessage::builder().topic(q.topic_str()).body(m.body().unwrap_or_default());
                if let Some(k) = m.properties().get("KEYS") {
                    b = b.keys(vec![k.as_str().to_owned()]);
                }
                b.build().expect("message")
            })
            .collect();
        let n = batch.len() as u64;
        let r = self.1.block_on(async { self.0.producer.read().await.send_batch_to_queue(batch, q).await });
        match r {
            Ok(_) => {
                self.0.done.fetch_add(n, Ordering::AcqRel);
                Ok(ConsumeOrderlyStatus::Success)
            }
            Err(_) => Ok(ConsumeOrderlyStatus::SuspendCurrentQueueAMoment),
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then one small run.
    let full = std::env::args().any(|a| a == "--bench");
    if !loopback_only_network() {
        eprintln!(
            "pipeline_e2e starts a RocketMQ name server, which must not see a non-loopback network: \
             run it with `cargo xtask bench-pipeline` (or inside `unshare -rn`)"
        );
        std::process::exit(if full { 1 } else { 0 });
    }
    let n: usize = if full { std::env::var("BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000) } else { 2_000 };
    let rt = runtime();
    let mut bench = rt.block_on(Bench::start());
    let scenarios = [Scenario::Bridge, Scenario::NoPlugin, Scenario::RustFilter, Scenario::ThreeStages];
    let mut rows = Vec::new();
    for size in BODIES {
        let msgs = messages(n, size);
        let mut baseline = 0.0;
        // The bridge runs first and again last, so drift during the run shows.
        for (i, s) in scenarios.iter().chain([&Scenario::Bridge]).enumerate() {
            let (from, to) = (format!("in-{size}-{i}"), format!("out-{size}-{i}"));
            rt.block_on(bench.fill(&from, &msgs));
            rt.block_on(bench.broker.create_topic(&to, QUEUES)).unwrap();
            let (first, last) = rt.block_on(async {
                match s {
                    Scenario::Bridge => bench.bridge(&from, &to, n as u64).await,
                    other => bench.sluice(*other, &from, &to, n as u64).await,
                }
            });
            let rate = n as f64 / last.duration_since(first).as_secs_f64();
            if i == 0 {
                baseline = rate;
            }
            let row = format!("{:<24} {size:>6} {n:>9} {rate:>12.0} {:>8.2}", s.name(), rate / baseline);
            eprintln!("{row}");
            rows.push(row);
        }
    }
    println!("\nmessages per second through topic → consumer → RocketMQ sink; ratio = scenario / bridge (first run)");
    println!("{:<24} {:>6} {:>9} {:>12} {:>8}", "scenario", "body", "messages", "msg/s", "ratio");
    for r in rows {
        println!("{r}");
    }
    println!("(Python and JavaScript filters: not yet — their kits are issue 4)");
    rt.block_on(async {
        bench.producer.shutdown().await;
        bench.broker.shutdown().await;
    });
}
