//! The `rocketmq` sink: batch sends to a topic, each message to the queue its key hashes
//! to (Java `String.hashCode`, as RocketMQ's `SelectMessageQueueByHash`), so that one
//! key's messages stay in one queue and in order downstream. A message without keys goes
//! to the queue with its source queue's number (modulo the queue count), which keeps the
//! source queue's order. The same producer writes dead letters.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cheetah_string::CheetahString;
use rocketmq_client_rust::{DefaultMQProducer, SendStatus};
use rocketmq_model::common::message::{MessageConst, MessageTrait};
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message as MqMessage;
use tokio::sync::RwLock;

use super::{Sink, SinkError};
use crate::connection::Connection;
use crate::message::{Batch, Message, is_reserved_property};

/// Property that carries the id of the source message an output came from.
pub const SOURCE_ID_PROPERTY: &str = "SLUICE_SOURCE_ID";

/// How long a topic's queue list is trusted before it is fetched again.
const ROUTE_TTL: Duration = Duration::from_secs(30);

static PRODUCERS: AtomicU64 = AtomicU64::new(0);

/// A started producer with a cache of topic routes.
pub struct Producer {
    name: String,
    producer: RwLock<DefaultMQProducer>,
    routes: std::sync::Mutex<HashMap<String, (Instant, Vec<MessageQueue>)>>,
    timeout: Duration,
}

impl Producer {
    /// Starts a producer on `conn`; `name` goes into its group name and errors.
    ///
    /// # Errors
    /// When the client does not start.
    pub async fn start(name: &str, conn: &Connection) -> Result<Self, SinkError> {
        let n = PRODUCERS.fetch_add(1, Ordering::Relaxed);
        let group: String =
            format!("sluice-{name}-{n}").chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
        let mut b = DefaultMQProducer::builder(conn.runtime())
            .client_config(conn.client_config())
            .name_server_addr(conn.name_server().to_owned())
            .producer_group(group)
            .send_msg_timeout(u32::try_from(conn.send_timeout().as_millis()).unwrap_or(u32::MAX));
        if let Some(hook) = conn.rpc_hook() {
            b = b.rpc_hook(hook);
        }
        let mut producer = b.build();
        producer.start().await.map_err(|e| SinkError::Broker {
            sink: name.to_owned(),
            topic: String::new(),
            reason: format!("the producer did not start: {e}"),
        })?;
        Ok(Self {
            name: name.to_owned(),
            producer: RwLock::new(producer),
            routes: std::sync::Mutex::new(HashMap::new()),
            timeout: conn.send_timeout(),
        })
    }

    fn fail(&self, topic: &str, reason: String) -> SinkError {
        // (see `explain` for the broker's answers that need words)
        SinkError::Broker { sink: self.name.clone(), topic: topic.to_owned(), reason }
    }

    async fn queues(&self, topic: &str) -> Result<Vec<MessageQueue>, SinkError> {
        if let Some((at, q)) = self.routes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(topic)
            && at.elapsed() < ROUTE_TTL
        {
            return Ok(q.clone());
        }
        let mut queues = self
            .producer
            .write()
            .await
            .fetch_publish_message_queues(topic)
            .await
            .map_err(|e| self.fail(topic, format!("no route to the topic (does it exist?): {e}")))?;
        if queues.is_empty() {
            return Err(self.fail(topic, "the topic has no writable queue".into()));
        }
        queues.sort_by(|a, b| (a.broker_name(), a.queue_id()).cmp(&(b.broker_name(), b.queue_id())));
        self.routes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(topic.to_owned(), (Instant::now(), queues.clone()));
        Ok(queues)
    }

    /// Checks that the broker serving `topic` accepts this client's requests (with ACL on,
    /// that the credentials are right), without writing anything: reads a queue's max
    /// offset, a request the broker authenticates.
    ///
    /// # Errors
    /// The broker's refusal, explained.
    pub async fn check_access(&self, topic: &str) -> Result<(), SinkError> {
        let queues = self.queues(topic).await?;
        self.producer.write().await.max_offset(&queues[0]).await.map(|_| ()).map_err(|e| self.fail(topic, explain(&e)))
    }

    /// How many writable queues `topic` has.
    ///
    /// # Errors
    /// When the topic has no route (does not exist) or no writable queue.
    pub async fn queue_count(&self, topic: &str) -> Result<usize, SinkError> {
        self.queues(topic).await.map(|q| q.len())
    }

    /// Sends `messages` to `topic`, grouped by target queue, in order within each queue,
    /// at most `batch_size` per request. `source_queue` picks the queue of keyless
    /// messages. Extra properties are added to every message.
    ///
    /// # Errors
    /// When the broker refuses or does not answer; some messages may have been stored.
    pub async fn send(
        &self,
        topic: &str,
        messages: &[Message],
        source_queue: u32,
        batch_size: usize,
        extra: &[(&str, String)],
    ) -> Result<(), SinkError> {
        let queues = self.queues(topic).await?;
        let name: CheetahString = topic.into();
        let mut per_queue: Vec<Vec<MqMessage>> = vec![Vec::new(); queues.len()];
        for m in messages {
            let q = match m.keys().next() {
                Some(key) => key_queue(key, queues.len()),
                None => source_queue as usize % queues.len(),
            };
            per_queue[q].push(to_mq(&name, m, extra));
        }
        let producer = self.producer.read().await;
        let timeout = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX);
        for (q, msgs) in per_queue.into_iter().enumerate() {
            let mut msgs = msgs.into_iter().peekable();
            while msgs.peek().is_some() {
                let chunk: Vec<MqMessage> = msgs.by_ref().take(batch_size.max(1)).collect();
                let r = producer
                    .send_batch_to_queue_with_timeout(chunk, queues[q].clone(), timeout)
                    .await
                    .map_err(|e| self.fail(topic, explain(&e)))?;
                if r.send_status != SendStatus::SendOk {
                    return Err(self.fail(topic, format!("the broker answered {:?}", r.send_status)));
                }
            }
        }
        Ok(())
    }

    /// Stops the producer.
    pub async fn shutdown(&self) {
        self.producer.write().await.shutdown().await;
    }
}

/// The queue RocketMQ's hash selector picks for `key` among `n` queues.
pub fn key_queue(key: &str, n: usize) -> usize {
    let h = key.encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)));
    let n = i32::try_from(n).unwrap_or(i32::MAX).max(1);
    (h % n).unsigned_abs() as usize
}

/// The client's message for `m`: its body (shared, not copied), keys, tag, user
/// properties, the source message id and `extra`. The property map is built at its final
/// size (the client adds `UNIQ_KEY` on sending), with one hash per property.
fn to_mq(topic: &CheetahString, m: &Message, extra: &[(&str, String)]) -> MqMessage {
    let v = m.view();
    let props = v.properties().map_while(Result::ok);
    let mut map: HashMap<CheetahString, CheetahString> = HashMap::with_capacity(props.clone().count() + extra.len() + 5);
    let mut keys = v.keys().map_while(Result::ok);
    if let Some(first) = keys.next() {
        let joined = keys.fold(first.to_owned(), |mut all, k| {
            all.push_str(MessageConst::KEY_SEPARATOR);
            all.push_str(k);
            all
        });
        map.insert(CheetahString::from_static_str(MessageConst::PROPERTY_KEYS), joined.into());
    }
    if let Some(t) = v.tags().unwrap_or_default() {
        map.insert(CheetahString::from_static_str(MessageConst::PROPERTY_TAGS), t.into());
    }
    for (k, v) in props {
        // A plugin cannot set RocketMQ's own properties (KEYS, TAGS, DELAY…).
        if !is_reserved_property(k) {
            map.insert(k.into(), v.into());
        }
    }
    let id = v.message_id().unwrap_or_default();
    if !id.is_empty() {
        map.insert(CheetahString::from_static_str(SOURCE_ID_PROPERTY), id.into());
    }
    for (k, v) in extra {
        map.insert((*k).into(), v.as_str().into());
    }
    map.insert(CheetahString::from_static_str(MessageConst::PROPERTY_WAIT_STORE_MSG_OK), CheetahString::from_static_str("true"));
    // (`MessageTrait`'s setters: the message's own are marked internal.)
    let mut msg = MqMessage::default();
    MessageTrait::set_topic(&mut msg, topic.clone());
    MessageTrait::set_body(&mut msg, m.body());
    MessageTrait::set_properties(&mut msg, map);
    msg
}

/// Sends to one topic.
pub struct RocketMqSink {
    topic: String,
    batch_size: usize,
    producer: Producer,
}

impl RocketMqSink {
    /// Starts the sink's producer.
    ///
    /// # Errors
    /// When the producer does not start.
    pub async fn start(name: &str, topic: &str, batch_size: usize, conn: &Connection) -> Result<Self, SinkError> {
        Ok(Self { topic: topic.to_owned(), batch_size, producer: Producer::start(name, conn).await? })
    }
}

#[async_trait::async_trait]
impl Sink for RocketMqSink {
    async fn send(&self, batch: &Batch<'_>) -> Result<(), SinkError> {
        self.producer.send(&self.topic, batch.messages, batch.queue_id, self.batch_size, &[]).await
    }

    async fn close(&self) {
        self.producer.shutdown().await;
    }

    fn refuses(&self, m: &Message) -> Option<String> {
        let v = m.view();
        if v.body().is_empty() {
            return Some("RocketMQ does not carry messages with an empty body".into());
        }
        let size = encoded_size(&v);
        (size > MAX_MESSAGE_SIZE).then(|| {
            format!("{size} bytes with its properties, over RocketMQ's message size limit of {MAX_MESSAGE_SIZE} bytes (4 MiB)")
        })
    }
}

/// RocketMQ's default largest message (the client's and broker's `maxMessageSize`).
pub const MAX_MESSAGE_SIZE: usize = 4 << 20;

/// About how many bytes `m` takes in a send request: body, properties, keys, tag and the
/// fixed fields.
fn encoded_size(v: &sluice_frames::MessageView<'_>) -> usize {
    let props: usize = v.properties().map_while(Result::ok).map(|(k, v)| k.len() + v.len() + 2).sum();
    let keys: usize = v.keys().map_while(Result::ok).map(|k| k.len() + 1).sum();
    let tags = v.tags().unwrap_or_default().map_or(0, str::len);
    v.body().len() + props + keys + tags + v.message_id().unwrap_or_default().len() + 256
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hash_like_java() {
        // "order-1".hashCode() in Java is -1207111310; Java `%` keeps the sign: |-6| = 6.
        assert_eq!(key_queue("order-1", 8), 6);
        assert_eq!(key_queue("", 8), 0);
        assert_eq!(key_queue("a", 8), 97 % 8);
        assert!((0..1000).all(|i| key_queue(&format!("k{i}"), 5) < 5));
    }

    #[test]
    fn client_messages_carry_keys_tag_user_properties_and_the_source_id() {
        let m = crate::message::MessageParts {
            message_id: "ID-1".into(),
            keys: vec!["a".into(), "b".into()],
            tags: Some("paid".into()),
            properties: vec![("region".into(), "eu".into()), ("DELAY".into(), "3".into())],
            body: bytes::Bytes::from_static(b"{}"),
            ..Default::default()
        }
        .build();
        let mq = to_mq(&"out".into(), &m, &[("SLUICE_X", "1".into())]);
        let p = mq.properties().as_map();
        let get = |k: &str| p.get(k).map(CheetahString::as_str);
        assert_eq!(mq.topic().as_str(), "out");
        assert_eq!(mq.body_slice(), b"{}");
        assert_eq!(get("KEYS"), Some("a b"));
        assert_eq!(get("TAGS"), Some("paid"));
        assert_eq!(get("region"), Some("eu"));
        assert_eq!(get("DELAY"), None, "a plugin cannot set RocketMQ's own properties");
        assert_eq!(get(SOURCE_ID_PROPERTY), Some("ID-1"));
        assert_eq!(get("SLUICE_X"), Some("1"));
        assert_eq!(get("WAIT"), Some("true"));
        assert_eq!(p.len(), 6, "KEYS, TAGS, region, the source id, SLUICE_X, WAIT: {p:?}");
        let bare = to_mq(&"out".into(), &crate::message::MessageParts::default().build(), &[]);
        assert_eq!(bare.properties().as_map().len(), 1, "only WAIT: {:?}", bare.properties().as_map());
    }
}

/// A client error in words an operator can act on. The 1.0.0 client drops the broker's
/// remark and keeps only the response code; code 16 (`NO_PERMISSION`) is what a broker
/// with authentication answers to missing or wrong credentials.
pub fn explain(e: &rocketmq_client_rust::ClientError) -> String {
    match e.broker_response_code() {
        Some(16) => format!(
            "the broker refused the request: no permission (response code 16). With authentication on, the \
             access key or secret key is wrong or missing: check the variables that [rocketmq] access_key_env \
             and secret_key_env name ({e})"
        ),
        _ => e.to_string(),
    }
}
