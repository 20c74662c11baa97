//! `sluice produce` and `sluice consume`: send JSON Lines messages to a topic and print
//! what a topic holds, for trying things by hand. Same line format as `plugin test`
//! (and as the file/stdout sinks write, so output can be fed back).

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use rocketmq_client_rust::{
    ClientResult, ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus, DefaultMQPushConsumer, MQPushConsumer,
    MessageListenerConcurrently, MessageSelector,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;

use super::jsonl;
use crate::config::RocketMqConfig;
use crate::connection::Connection;
use crate::message::{Batch, Message, MessageParts};
use crate::sink::rocketmq::Producer;

/// Arguments of `sluice produce`.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Name server(s), `host:port[;host:port]`.
    #[arg(long, default_value = "127.0.0.1:9876", env = "SLUICE_NAME_SERVER")]
    pub name_server: String,
    /// Topic to send to.
    #[arg(long)]
    pub topic: String,
    /// JSON Lines file (default: standard input).
    pub input: Option<PathBuf>,
}

/// Arguments of `sluice consume`.
#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// Name server(s), `host:port[;host:port]`.
    #[arg(long, default_value = "127.0.0.1:9876", env = "SLUICE_NAME_SERVER")]
    pub name_server: String,
    /// Topic to read.
    #[arg(long)]
    pub topic: String,
    /// Consumer group (default: a new one, reading from the first message).
    #[arg(long)]
    pub group: Option<String>,
    /// Tag expression.
    #[arg(long, conflicts_with = "sql")]
    pub tags: Option<String>,
    /// SQL92 expression on properties.
    #[arg(long)]
    pub sql: Option<String>,
    /// Stop after this many messages.
    #[arg(long)]
    pub count: Option<u64>,
    /// Stop when nothing arrived for this long.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub idle: Duration,
}

fn connection(name_server: &str) -> anyhow::Result<Connection> {
    let cfg = RocketMqConfig { name_server: name_server.to_owned(), ..Default::default() };
    let whole = crate::config::Config { rocketmq: cfg.clone(), ..Default::default() };
    Ok(Connection::new(&cfg, name_server, &whole)?)
}

fn rt() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// `sluice produce`.
///
/// # Errors
/// A bad input line (with its number), or the broker refusing.
pub fn produce(a: ProduceArgs) -> anyhow::Result<ExitCode> {
    let reader: Box<dyn BufRead> = match &a.input {
        Some(p) => Box::new(std::io::BufReader::new(std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?)),
        None => Box::new(std::io::stdin().lock()),
    };
    let mut messages: Vec<Message> = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.context("cannot read the input")?;
        if line.trim().is_empty() {
            continue;
        }
        let m = jsonl::parse_line(&line, i).map_err(|e| anyhow::anyhow!("line {}: {e}", i + 1))?;
        messages.push(m.message);
    }
    rt()?.block_on(async {
        let conn = connection(&a.name_server)?;
        let producer = Producer::start("produce", &conn).await?;
        producer.send(&a.topic, &messages, 0, 128, &[]).await?;
        producer.shutdown().await;
        eprintln!("sent {} message(s) to {}", messages.len(), a.topic);
        Ok(ExitCode::SUCCESS)
    })
}

struct Printer(tokio::sync::mpsc::UnboundedSender<Vec<u8>>);

impl MessageListenerConcurrently for Printer {
    fn consume_message(&self, msgs: &[&MessageExt], _: &ConsumeConcurrentlyContext) -> ClientResult<ConsumeConcurrentlyStatus> {
        for m in msgs {
            let parts: MessageParts = crate::source::to_parts(m);
            let msg = parts.build();
            let b = Batch { topic: m.topic().as_str(), queue_id: u32::try_from(m.queue_id()).unwrap_or(0), messages: std::slice::from_ref(&msg) };
            let _ = self.0.send(crate::sink::json_lines(&b));
        }
        Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
    }
}

/// `sluice consume`.
///
/// # Errors
/// When the consumer does not start.
pub fn consume(a: ConsumeArgs) -> anyhow::Result<ExitCode> {
    rt()?.block_on(async {
        let conn = connection(&a.name_server)?;
        let group = a.group.clone().unwrap_or_else(|| format!("sluice-consume-{}", std::process::id()));
        let mut c = DefaultMQPushConsumer::builder(conn.runtime())
            .client_config(conn.client_config())
            .name_server_addr(conn.name_server().to_owned())
            .consumer_group(group)
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .consume_message_batch_max_size(32)
            .build();
        match (&a.tags, &a.sql) {
            (_, Some(sql)) => c.subscribe_with_selector(&a.topic, Some(MessageSelector::by_sql(sql.clone()))).await?,
            (Some(t), None) => c.subscribe(a.topic.clone(), crate::source::tag_expression(t)).await?,
            (None, None) => c.subscribe(a.topic.clone(), "*").await?,
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        c.register_message_listener_concurrently(Printer(tx));
        c.start().await.context("the consumer did not start")?;
        let mut n = 0u64;
        let mut last = Instant::now();
        loop {
            match tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
                Ok(Some(line)) => {
                    std::io::stdout().lock().write_all(&line).context("cannot write to standard output")?;
                    n += 1;
                    last = Instant::now();
                    if a.count.is_some_and(|c| n >= c) {
                        break;
                    }
                }
                Ok(None) => break,
                Err(_) if last.elapsed() >= a.idle => break,
                Err(_) => {}
            }
        }
        c.shutdown().await;
        eprintln!("received {n} message(s)");
        Ok(ExitCode::SUCCESS)
    })
}
