//! The embedded RocketMQ broker against the real rocketmq-rust 1.0.0 client: topics with
//! queues, batch send, batch consume, per-key order; and `sluice broker` as a process.
//!
//! These tests start a name server, so they refuse to run unless the process sees only
//! the loopback interface (`cargo xtask test` runs the tests in a loopback-only network
//! namespace; see `sluice::broker::loopback_only_network`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rocketmq_client_rust::{DefaultLitePullConsumer, DefaultMQProducer};
use rocketmq_model::common::message::message_single::Message as MqMessage;
use sluice::broker::{EmbeddedBroker, EmbeddedBrokerConfig, loopback_only_network};

fn require_loopback_only() {
    assert!(
        loopback_only_network(),
        "this test starts a RocketMQ name server, which must not see a non-loopback network \
         here: run the tests with `cargo xtask test` (a loopback-only network namespace)"
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("tokio runtime")
}

#[test]
fn embedded_broker_carries_batches_in_key_order() {
    require_loopback_only();
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let cfg = EmbeddedBrokerConfig { data_dir: dir.path().to_owned(), namesrv_port: 0, broker_port: 0, auth: None, tls: None };
        let mut broker = EmbeddedBroker::start(&cfg).await.expect("embedded broker starts");
        broker.create_topic("orders", 8).await.expect("topic with 8 queues");

        let rt = broker.client_runtime("test-client").unwrap();
        let mut producer = DefaultMQProducer::builder(rt.clone())
            .producer_group("sluice-test-producer")
            .name_server_addr(broker.namesrv_addr().to_owned())
            .send_msg_timeout(5_000)
            .build();
        producer.start().await.unwrap();
        let queues = producer.fetch_publish_message_queues("orders").await.unwrap();
        assert_eq!(queues.len(), 8);

        // 2,000 messages over 50 keys; each key always goes to the same queue, in batches.
        let n = 2_000;
        let mut per_queue: Vec<Vec<MqMessage>> = vec![Vec::new(); queues.len()];
        for i in 0..n {
            let key = format!("order-{}", i % 50);
            let q = (i % 50) % queues.len();
            let body = format!("{key}:{i}");
            per_queue[q].push(MqMessage::builder().topic("orders").tags("paid").key(key).body_slice(body.as_bytes()).build_unchecked());
        }
        for (q, msgs) in per_queue.into_iter().enumerate() {
            for chunk in msgs.chunks(64) {
                producer.send_batch_to_queue(chunk.to_vec(), queues[q].clone()).await.expect("batch send");
            }
        }

        let consumer = DefaultLitePullConsumer::builder(rt.clone())
            .consumer_group("sluice-test-consumer")
            .name_server_addr(broker.namesrv_addr().to_owned())
            .auto_commit(false)
            .build()
            .unwrap();
        consumer.subscribe("orders").await.unwrap();
        consumer.start().await.unwrap();
        let mut last: HashMap<String, usize> = HashMap::new();
        let mut got = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        while got < n && Instant::now() < deadline {
            for m in consumer.poll_with_timeout(1_000).await {
                let body = String::from_utf8(m.body().map(|b| b.to_vec()).unwrap_or_default()).unwrap();
                let (key, seq) = body.split_once(':').unwrap();
                let seq: usize = seq.parse().unwrap();
                if let Some(prev) = last.insert(key.to_owned(), seq) {
                    assert!(seq > prev, "order broken for {key}: {seq} after {prev}");
                }
                got += 1;
            }
        }
        assert_eq!(got, n, "every message arrives exactly once");
        assert_eq!(last.len(), 50);
        producer.shutdown().await;
        broker.shutdown().await;
    });
}

#[test]
fn sluice_broker_command_serves_until_sigterm() {
    require_loopback_only();
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["broker", "--namesrv-port", "0", "--broker-port", "0", "--topic", "orders:4", "--data-dir"])
        .arg(dir.path())
        .env("SLUICE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let Some(Ok(first)) = lines.next() else {
        let out = child.wait_with_output().unwrap();
        panic!("sluice broker printed nothing; exit {}; stderr:\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    };
    assert!(first.starts_with("name server 127.0.0.1:") && first.contains(" broker 127.0.0.1:"), "{first}");
    assert_eq!(lines.next().unwrap().unwrap(), "topic orders: 4 queues");
    let started = Instant::now();
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert!(status.success(), "exit {status}");
    assert!(started.elapsed() < Duration::from_secs(30), "stopped in {:?}", started.elapsed());
    assert!(dir.path().join("broker").exists(), "the store lives in the data directory");
}
