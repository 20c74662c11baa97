//! The RocketMQ source, on rocketmq-client-rust 1.0.0's push consumer (clustering mode).
//!
//! * **ordered**: the orderly consume service locks each queue at the broker (so that
//!   order holds while group members join and leave) and hands one queue's messages to
//!   one thread at a time, in queue order, in batches of `batch_size`.
//! * **concurrent**: batches of a queue may be handled at the same time; no order.
//!
//! The listener calls [`Pipeline::handle_batch`] and reports success only when the
//! pipeline finished the batch; only then does the client advance the queue's offset
//! (committed to the broker periodically and on shutdown). An interrupted batch is not
//! acknowledged: in ordered mode the queue is suspended a moment and the batch handed
//! again; in concurrent mode the listener holds the batch until the consumer has shut
//! down, because the only other answer, "reconsume later", sends the message to the
//! broker's retry topic, which the 1.0.0 broker misroutes to the dead-letter queue
//! (notes, "Upstream bugs" #1). Retries and dead letters are done by Sluice itself.
//!
//! Backpressure: the client stops pulling a queue while `max_buffered_messages` or
//! `max_buffered_bytes` of it wait to be handled, so a slow stage or sink slows
//! consumption and memory stays bounded.
//!
//! Every [`QUEUE_POLL`] the source publishes the queues it holds to the pipeline
//! ([`QueueStatus`]: committed offset, the broker's max offset, lag, buffered messages,
//! lock), for `/status`, the metrics and the status page.

use std::sync::Arc;
use std::time::Duration;

use rocketmq_client_rust::{
    ClientResult, ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus, ConsumeOrderlyContext, ConsumeOrderlyStatus,
    DefaultMQPushConsumer, MQPushConsumer, MessageListenerConcurrently, MessageListenerOrderly, MessageSelector,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use cheetah_string::CheetahString;
use rocketmq_model::common::message::message_ext::MessageExt;
use sluice_frames::{MessageFields, encode_frame};

use crate::config::{ConsumeMode, SourceConfig, SqlFilterAt, StartFrom};
use crate::connection::Connection;
use crate::message::{Message, MessageParts, is_reserved_property};
use crate::pipeline::Pipeline;
use crate::pipeline::stats::QueueStatus;

/// How often a source reads its queues' offsets and the broker's max offsets.
pub const QUEUE_POLL: Duration = Duration::from_secs(2);

/// Why a source did not start.
#[derive(Debug, thiserror::Error)]
#[error("source of pipeline `{pipeline}` (topic {topic}, group {group}): {reason}")]
pub struct SourceError {
    /// Pipeline.
    pub pipeline: String,
    /// Topic.
    pub topic: String,
    /// Group.
    pub group: String,
    /// Why.
    pub reason: String,
}

/// A running subscription feeding one pipeline.
pub struct RocketMqSource {
    consumer: Arc<tokio::sync::Mutex<DefaultMQPushConsumer>>,
    pipeline: Arc<Pipeline>,
    poller: tokio::task::JoinHandle<()>,
}

impl RocketMqSource {
    /// Subscribes and starts consuming into `pipeline`. `drain` bounds how long shutdown
    /// waits for batches in flight.
    ///
    /// # Errors
    /// When the subscription expression is refused or the consumer does not start.
    pub async fn start(cfg: &SourceConfig, conn: &Connection, pipeline: Arc<Pipeline>, drain: Duration) -> Result<Self, SourceError> {
        let fail = |reason: String| SourceError {
            pipeline: pipeline.name().to_owned(),
            topic: cfg.topic.clone(),
            group: cfg.group.clone(),
            reason,
        };
        let drain_ms = u64::try_from(drain.as_millis()).unwrap_or(u64::MAX / 2);
        let mut consumer = DefaultMQPushConsumer::builder(conn.runtime())
            .client_config(conn.client_config())
            .name_server_addr(conn.name_server().to_owned())
            .rpc_hook(conn.rpc_hook())
            .consumer_group(cfg.group.clone())
            .consume_from_where(match cfg.start_from {
                StartFrom::First => ConsumeFromWhere::ConsumeFromFirstOffset,
                StartFrom::Last => ConsumeFromWhere::ConsumeFromLastOffset,
            })
            .consume_message_batch_max_size(cfg.batch_size)
            .pull_batch_size(cfg.batch_size.max(32))
            .pull_threshold_for_queue(cfg.max_buffered_messages)
            .pull_threshold_size_for_queue(u32::try_from(cfg.max_buffered_bytes.as_u64().div_ceil(1 << 20)).unwrap_or(u32::MAX).max(1))
            .consume_thread_min(cfg.parallelism)
            .consume_thread_max(cfg.parallelism)
            .suspend_current_queue_time_millis(1_000)
            // Sluice retries and dead-letters itself; an ordered queue is only suspended
            // (never sent to the broker's retry topic) when a batch is interrupted.
            .max_reconsume_times(-1)
            .await_termination_millis_when_shutdown(drain_ms + 2_000)
            .build();
        let mut sql_filter = None;
        let subscribed = match (&cfg.tags, &cfg.sql) {
            (_, Some(sql)) if cfg.sql_filter == SqlFilterAt::Broker => {
                consumer.subscribe_with_selector(&cfg.topic, Some(MessageSelector::by_sql(sql.clone()))).await
            }
            (_, Some(sql)) => {
                sql_filter = Some(Arc::new(SqlFilter::compile(sql).map_err(|e| fail(format!("sql: {e}")))?));
                consumer.subscribe(cfg.topic.clone(), "*").await
            }
            (Some(tags), None) => consumer.subscribe(cfg.topic.clone(), tag_expression(tags)).await,
            (None, None) => consumer.subscribe(cfg.topic.clone(), "*").await,
        };
        subscribed.map_err(|e| fail(format!("subscription refused: {e}")))?;
        match cfg.mode {
            ConsumeMode::Ordered => consumer.register_message_listener_orderly(Orderly(pipeline.clone(), sql_filter)),
            ConsumeMode::Concurrent => consumer.register_message_listener_concurrently(Concurrent(pipeline.clone(), sql_filter)),
        }
        consumer.start().await.map_err(|e| fail(format!("the consumer did not start: {e}")))?;
        tracing::info!(pipeline = pipeline.name(), topic = %cfg.topic, group = %cfg.group, mode = ?cfg.mode, "consuming");
        let consumer = Arc::new(tokio::sync::Mutex::new(consumer));
        let poller = tokio::spawn(poll_queues(consumer.clone(), pipeline.clone(), cfg.topic.clone()));
        Ok(Self { consumer, pipeline, poller })
    }

    /// Stops consuming: batches in flight finish (or are interrupted after the drain
    /// timeout and not committed), offsets are committed, the queues unlocked.
    pub async fn shutdown(self) {
        self.poller.abort();
        self.consumer.lock().await.shutdown().await;
        self.pipeline.control.close();
        self.pipeline.set_queues(Vec::new());
    }
}

/// Publishes the consumer's queues of `topic` to the pipeline every [`QUEUE_POLL`] until
/// aborted (the client's automatic subscription to the group's retry topic, which Sluice
/// never uses, is left out). A broker that does not answer leaves the queue's previous max
/// offset in place.
async fn poll_queues(consumer: Arc<tokio::sync::Mutex<DefaultMQPushConsumer>>, pipeline: Arc<Pipeline>, topic: String) {
    let mut tick = tokio::time::interval(QUEUE_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let info = match consumer.lock().await.consumer_running_info().await {
            Ok(info) => info,
            Err(e) => {
                tracing::debug!(pipeline = pipeline.name(), "cannot read the consumer's queues: {e}");
                continue;
            }
        };
        let previous = pipeline.queues();
        let mut queues = Vec::with_capacity(info.mq_table.len());
        for (mq, pq) in info.mq_table.iter().filter(|(mq, pq)| !pq.droped && mq.topic_str() == topic) {
            let known = previous.iter().find(|q| q.queue_id == mq.queue_id() && q.topic == mq.topic_str() && q.broker == mq.broker_name().as_str());
            let max_offset = match consumer.lock().await.max_offset(mq).await {
                Ok(m) => m,
                Err(e) => {
                    tracing::debug!(pipeline = pipeline.name(), queue = mq.queue_id(), "cannot read the max offset: {e}");
                    known.map_or(-1, |q| q.max_offset)
                }
            };
            // Before the first commit the store answers -1: nothing consumed yet.
            let committed = pq.commit_offset.max(0);
            queues.push(QueueStatus {
                topic: mq.topic_str().to_owned(),
                broker: mq.broker_name().as_str().to_owned(),
                queue_id: mq.queue_id(),
                committed_offset: committed,
                max_offset,
                lag: if max_offset < 0 { 0 } else { (max_offset - committed).max(0) },
                buffered: pq.cached_msg_count,
                locked: pq.locked,
            });
        }
        queues.sort_by(|a, b| (&a.topic, &a.broker, a.queue_id).cmp(&(&b.topic, &b.broker, b.queue_id)));
        pipeline.set_queues(queues);
    }
}

/// A tag expression with the blanks around `||` removed: `paid || shipped` becomes
/// `paid||shipped`. The 1.0.0 client hashes each tag *before* trimming it
/// (`FilterAPI::build_subscription_data`), so with blanks the broker's tag-code check
/// matches nothing and the subscription silently receives no message.
pub fn tag_expression(expr: &str) -> String {
    let tags: Vec<&str> = expr.split("||").map(str::trim).filter(|t| !t.is_empty()).collect();
    if tags.is_empty() { "*".to_owned() } else { tags.join("||") }
}

/// A received message in Sluice's form: keys, tag and user properties split out of
/// RocketMQ's property map (user properties sorted by name; RocketMQ's own dropped).
pub fn to_parts(m: &MessageExt) -> MessageParts {
    let (mut keys, mut properties) = (Vec::new(), Vec::new());
    let f = fields(m, &mut keys, &mut properties);
    MessageParts {
        queue_offset: f.queue_offset,
        message_id: f.message_id.to_owned(),
        keys: f.keys.iter().copied().map(str::to_owned).collect(),
        tags: f.tags.map(str::to_owned),
        properties: f.properties.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())).collect(),
        body: m.body().unwrap_or_default(),
        born_timestamp_ms: f.born_timestamp_ms,
        reconsume_count: 0,
        destination: None,
    }
}

/// The fields of `m` as Sluice sees them, borrowed; its keys and user properties are
/// collected in `keys` and `properties` (emptied first; a caller reuses them from message
/// to message).
fn fields<'b, 'a: 'b>(
    m: &'a MessageExt,
    keys: &'b mut Vec<&'a str>,
    properties: &'b mut Vec<(&'a str, &'a str)>,
) -> MessageFields<'b, &'a str, &'a str> {
    keys.clear();
    properties.clear();
    let props = m.properties();
    let get = |k: &str| props.get(k).map(CheetahString::as_str);
    properties.extend(props.iter().map(|(k, v)| (k.as_str(), v.as_str())).filter(|(k, _)| !is_reserved_property(k)));
    properties.sort_unstable();
    keys.extend(get("KEYS").into_iter().flat_map(|k| k.split(' ')).filter(|s| !s.is_empty()));
    MessageFields {
        queue_offset: m.queue_offset(),
        born_timestamp_ms: m.born_timestamp(),
        reconsume_count: 0,
        message_id: get("UNIQ_KEY").unwrap_or_else(|| m.msg_id().as_str()),
        keys,
        tags: get("TAGS").filter(|t| !t.is_empty()),
        properties,
        body: m.message.body_slice(),
    }
}

/// A SQL92 expression evaluated by Sluice on each message's properties (the user
/// properties plus RocketMQ's own, `TAGS` and `KEYS` included, as the broker does), with
/// RocketMQ's SQL92 engine (`rocketmq-filter`).
pub struct SqlFilter {
    expr: Box<dyn rocketmq_filter::expression::Expression>,
}

impl SqlFilter {
    /// Compiles `sql`.
    ///
    /// # Errors
    /// The compiler's message when `sql` is not a valid expression.
    pub fn compile(sql: &str) -> Result<Self, String> {
        rocketmq_filter::filter::FilterFactory::get_sql_filter()
            .try_compile(sql)
            .map(|expr| Self { expr })
            .map_err(|e| format!("not a valid SQL92 expression: {e}"))
    }

    /// Whether `m` matches; an evaluation error or a non-boolean result does not.
    pub fn matches(&self, m: &MessageExt) -> bool {
        matches!(self.expr.evaluate(&Props(m.properties())), Ok(rocketmq_filter::expression::Value::Boolean(true)))
    }
}

struct Props<'a>(&'a std::collections::HashMap<cheetah_string::CheetahString, cheetah_string::CheetahString>);

impl rocketmq_filter::expression::EvaluationContext for Props<'_> {
    fn get(&self, name: &str) -> Option<&cheetah_string::CheetahString> {
        self.0.get(name)
    }

    fn key_values(&self) -> Option<std::collections::HashMap<cheetah_string::CheetahString, cheetah_string::CheetahString>> {
        Some(self.0.clone())
    }
}

/// Runs a batch through the pipeline, after the Sluice-side SQL filter if any.
fn handle(pipeline: &Pipeline, filter: Option<&SqlFilter>, msgs: &[&MessageExt]) -> Result<(), crate::pipeline::Interrupted> {
    let (topic, queue, messages) = match filter {
        None => batch(msgs),
        Some(f) => {
            let kept: Vec<&MessageExt> = msgs.iter().copied().filter(|m| f.matches(m)).collect();
            pipeline.note_filtered_at_source((msgs.len() - kept.len()) as u64);
            if kept.is_empty() {
                return Ok(());
            }
            batch(&kept)
        }
    };
    pipeline.handle_batch(&topic, queue, &messages)
}

/// The batch's topic, queue and messages: each message's frame encoded straight from the
/// client's message into one buffer shared by the batch (no owned copy of its fields).
fn batch(msgs: &[&MessageExt]) -> (String, u32, Vec<Message>) {
    let topic = msgs.first().map(|m| m.topic().as_str().to_owned()).unwrap_or_default();
    let queue = msgs.first().map_or(0, |m| u32::try_from(m.queue_id()).unwrap_or(0));
    let bodies: usize = msgs.iter().map(|m| m.message.body_slice().len()).sum();
    let mut buf = Vec::with_capacity(bodies + msgs.len() * 160);
    let mut ends = Vec::with_capacity(msgs.len());
    let (mut keys, mut properties) = (Vec::new(), Vec::new());
    for m in msgs {
        encode_frame(&mut buf, &fields(m, &mut keys, &mut properties));
        ends.push(buf.len());
    }
    (topic, queue, Message::split_frames(buf, &ends))
}

struct Orderly(Arc<Pipeline>, Option<Arc<SqlFilter>>);

impl MessageListenerOrderly for Orderly {
    fn consume_message(&self, msgs: &[&MessageExt], ctx: &mut ConsumeOrderlyContext) -> ClientResult<ConsumeOrderlyStatus> {
        match handle(&self.0, self.1.as_deref(), msgs) {
            Ok(()) => Ok(ConsumeOrderlyStatus::Success),
            Err(_) => {
                ctx.set_suspend_current_queue_time_millis(1_000);
                Ok(ConsumeOrderlyStatus::SuspendCurrentQueueAMoment)
            }
        }
    }
}

struct Concurrent(Arc<Pipeline>, Option<Arc<SqlFilter>>);

impl MessageListenerConcurrently for Concurrent {
    fn consume_message(&self, msgs: &[&MessageExt], _ctx: &ConsumeConcurrentlyContext) -> ClientResult<ConsumeConcurrentlyStatus> {
        match handle(&self.0, self.1.as_deref(), msgs) {
            Ok(()) => Ok(ConsumeConcurrentlyStatus::ConsumeSuccess),
            Err(_) => {
                // See the module docs: hold the batch until the consumer is shut down,
                // so that it is neither acknowledged nor sent to the broken retry topic.
                while !self.0.control.closed() {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Ok(ConsumeConcurrentlyStatus::ReconsumeLater)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_is_evaluated_on_properties() {
        use rocketmq_model::common::message::MessageTrait;
        let f = SqlFilter::compile("region = 'eu' AND amount >= 50").unwrap();
        let mut m = MessageExt::default();
        m.put_property("region".into(), "eu".into());
        m.put_property("amount".into(), "70".into());
        assert!(f.matches(&m));
        m.put_property("amount".into(), "7".into());
        assert!(!f.matches(&m));
        assert!(SqlFilter::compile("a = = 1").is_err());
    }

    #[test]
    fn frames_are_encoded_as_the_owned_parts_would_be() {
        use rocketmq_model::common::message::MessageTrait;
        let mut m = MessageExt::default();
        for (k, v) in [("KEYS", "k1  k2"), ("TAGS", "paid"), ("UNIQ_KEY", "ID1"), ("zeta", "1"), ("alpha", "2"), ("WAIT", "true")] {
            m.put_property(k.into(), v.into());
        }
        MessageTrait::set_body(&mut m, bytes::Bytes::from_static(b"{}"));
        let p = to_parts(&m);
        assert_eq!((p.message_id.as_str(), p.tags.as_deref()), ("ID1", Some("paid")));
        assert_eq!(p.keys, ["k1", "k2"]);
        assert_eq!(p.properties, [("alpha".to_owned(), "2".to_owned()), ("zeta".to_owned(), "1".to_owned())]);
        assert_eq!(&p.body[..], b"{}");
        let (_, _, got) = batch(&[&m, &m]);
        assert_eq!(got, MessageParts::build_batch(&[p.clone(), p]));
        assert!(Message::contiguous_frames(&got).is_some(), "one buffer for the batch");
    }

    #[test]
    fn tag_expressions_lose_their_blanks() {
        assert_eq!(tag_expression("paid || shipped"), "paid||shipped");
        assert_eq!(tag_expression(" paid "), "paid");
        assert_eq!(tag_expression("*"), "*");
        assert_eq!(tag_expression("  "), "*");
    }
}
