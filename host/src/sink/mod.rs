//! Sinks: where a pipeline's output goes. Each `[pipeline.sinks.NAME]` is a
//! [`SinkConfig`](crate::config::SinkConfig) that [`build`] turns into a running [`Sink`]:
//! [`rocketmq`] (batch send, queue chosen by key), [`file`] and [`stdout`] (JSON Lines),
//! [`http`] (POST of JSON batches).
//!
//! A sink acknowledges a batch by returning `Ok` once the batch is durably handed over
//! (stored by the broker, written to the file, answered 2xx by the server). It does not
//! retry forever itself: the pipeline retries a failed batch with backoff, holding only
//! the queue the batch came from, so that nothing is lost and order holds. Every record
//! carries the source message id so that a receiver can de-duplicate the redeliveries
//! that at-least-once delivery implies.

pub mod file;
pub mod http;
pub mod rocketmq;
pub mod stdout;

use std::sync::Arc;

use serde::Serialize;

use crate::cli::jsonl::MessageOut;
use crate::config::SinkConfig;
use crate::message::{Batch, Message};

/// Why a sink did not take a batch.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Writing failed (file, stdout).
    #[error("sink `{sink}`: cannot write {target}: {source}")]
    Io {
        /// Sink name.
        sink: String,
        /// File or stream.
        target: String,
        /// The error.
        source: std::io::Error,
    },
    /// The broker refused or did not answer.
    #[error("sink `{sink}`: cannot send to topic {topic}: {reason}")]
    Broker {
        /// Sink name.
        sink: String,
        /// Topic.
        topic: String,
        /// Why.
        reason: String,
    },
    /// The HTTP endpoint refused or did not answer.
    #[error("sink `{sink}`: POST {url} failed: {reason}")]
    Http {
        /// Sink name.
        sink: String,
        /// URL.
        url: String,
        /// Status or transport error.
        reason: String,
    },
}

/// A running sink.
#[async_trait::async_trait]
pub trait Sink: Send + Sync {
    /// Hands over `batch` (messages of one source queue, in order); `Ok` = acknowledged.
    ///
    /// # Errors
    /// The batch was not (or not completely) taken; the caller sends it again.
    async fn send(&self, batch: &Batch<'_>) -> Result<(), SinkError>;

    /// Why this sink can never take `message` (sending it again would not help), if so.
    /// The pipeline dead-letters such a message instead of retrying it forever.
    fn refuses(&self, _message: &crate::message::Message) -> Option<String> {
        None
    }

    /// Flushes and releases resources (on shutdown or when replaced by a reload).
    async fn close(&self) {}
}

/// What sinks need from the rest of the process.
#[derive(Clone)]
pub struct SinkContext {
    /// The RocketMQ connection, for `rocketmq` sinks.
    pub connection: Option<crate::connection::Connection>,
    /// Directory relative paths are resolved against.
    pub base_dir: std::path::PathBuf,
}

/// Builds a sink from its configuration.
///
/// # Errors
/// When the sink cannot be set up (file not writable, no broker connection…).
pub async fn build(name: &str, cfg: &SinkConfig, ctx: &SinkContext) -> anyhow::Result<Arc<dyn Sink>> {
    Ok(match cfg {
        SinkConfig::Rocketmq { topic, batch_size } => {
            let Some(conn) = &ctx.connection else {
                anyhow::bail!("sink `{name}`: a rocketmq sink needs a RocketMQ connection");
            };
            Arc::new(rocketmq::RocketMqSink::start(name, topic, *batch_size as usize, conn).await?)
        }
        SinkConfig::File { path } => {
            let path = if path.is_absolute() { path.clone() } else { ctx.base_dir.join(path) };
            Arc::new(file::FileSink::open(name, &path)?)
        }
        SinkConfig::Stdout {} => Arc::new(stdout::StdoutSink),
        SinkConfig::Http { url, batch_size, timeout, headers } => {
            Arc::new(http::HttpSink::new(name, url, *batch_size as usize, *timeout, headers)?)
        }
    })
}

/// One output message as JSON: the `plugin test` line format plus where it came from.
/// Lines of this shape can be fed back to `sluice produce`.
#[derive(Debug, Serialize)]
pub struct Record<'a> {
    /// Source topic.
    pub topic: &'a str,
    /// Source queue.
    pub queue_id: u32,
    /// Source queue offset.
    pub queue_offset: i64,
    /// Producer timestamp.
    pub born_timestamp_ms: i64,
    /// Id, keys, tag, properties, body, destination.
    #[serde(flatten)]
    pub message: MessageOut<'a>,
}

impl<'a> Record<'a> {
    /// The record of `m`, from `batch`.
    pub fn new(batch: &Batch<'a>, m: &'a Message) -> Self {
        Self {
            topic: batch.topic,
            queue_id: batch.queue_id,
            queue_offset: m.queue_offset(),
            born_timestamp_ms: m.born_timestamp_ms(),
            message: MessageOut::new(m),
        }
    }
}

/// The batch as JSON Lines (each line ends with `\n`).
pub fn json_lines(batch: &Batch<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(batch.messages.iter().map(|m| m.frame().len() + 96).sum());
    for m in batch.messages {
        // Serialising plain strings and maps into a Vec cannot fail.
        serde_json::to_writer(&mut out, &Record::new(batch, m)).unwrap_or_default();
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageParts;

    #[test]
    fn records_carry_origin_id_and_body() {
        let m = MessageParts {
            queue_offset: 7,
            message_id: "id-7".into(),
            keys: vec!["k".into()],
            body: bytes::Bytes::from_static(b"{\"a\":1}"),
            destination: Some("fraud".into()),
            ..Default::default()
        }
        .build();
        let binary = MessageParts { body: bytes::Bytes::from_static(&[0xff]), ..Default::default() }.build();
        let lines = json_lines(&Batch { topic: "orders", queue_id: 3, messages: &[m, binary] });
        let text = String::from_utf8(lines).unwrap();
        let mut it = text.lines();
        assert_eq!(
            it.next().unwrap(),
            r#"{"topic":"orders","queue_id":3,"queue_offset":7,"born_timestamp_ms":0,"message_id":"id-7","keys":["k"],"body":"{\"a\":1}","destination":"fraud"}"#
        );
        assert!(it.next().unwrap().ends_with(r#""body_base64":"/w=="}"#));
    }
}
