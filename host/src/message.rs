//! The host's message types: what a source hands the stage chain, what a plugin's output
//! becomes, and what sinks receive.
//!
//! A [`Message`] carries what RocketMQ carries. A plugin answers each message with an
//! [`Outcome`]; a replaced message becomes one or more [`Output`]s, whose absent fields are
//! inherited from the input by [`Output::apply`].

use bytes::Bytes;

/// One message in flight through a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// Position in its RocketMQ queue.
    pub queue_offset: i64,
    /// RocketMQ message id (`UNIQ_KEY` or the broker's offset id); sinks de-duplicate on it.
    pub message_id: String,
    /// Message keys (RocketMQ `KEYS`).
    pub keys: Vec<String>,
    /// Message tag (RocketMQ `TAGS`).
    pub tags: Option<String>,
    /// User properties, in producer order.
    pub properties: Vec<(String, String)>,
    /// Payload; any bytes.
    pub body: Bytes,
    /// Producer timestamp, ms since the Unix epoch.
    pub born_timestamp_ms: i64,
    /// Retries already made in the current stage.
    pub reconsume_count: u32,
    /// Where a plugin routed this message (a sink name or topic); `None` = default sinks.
    pub destination: Option<String>,
}

impl Message {
    /// The value of the first property named `key`.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// A message emitted by a transform. `None` fields are inherited from the input.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Output {
    /// New keys.
    pub keys: Option<Vec<String>>,
    /// New tag; `Some("")` removes the tag.
    pub tags: Option<String>,
    /// New complete property list.
    pub properties: Option<Vec<(String, String)>>,
    /// New body.
    pub body: Option<Bytes>,
    /// Destination sink or topic.
    pub destination: Option<String>,
}

impl Output {
    /// The message this output stands for, given the input it came from.
    pub fn apply(self, input: &Message) -> Message {
        Message {
            queue_offset: input.queue_offset,
            message_id: input.message_id.clone(),
            keys: self.keys.unwrap_or_else(|| input.keys.clone()),
            tags: match self.tags {
                None => input.tags.clone(),
                Some(t) if t.is_empty() => None,
                Some(t) => Some(t),
            },
            properties: self.properties.unwrap_or_else(|| input.properties.clone()),
            body: self.body.unwrap_or_else(|| input.body.clone()),
            born_timestamp_ms: input.born_timestamp_ms,
            reconsume_count: input.reconsume_count,
            destination: self.destination.or_else(|| input.destination.clone()),
        }
    }
}

/// An expected failure a plugin reports for a message or a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginFailure {
    /// Transient; retrying may help.
    Retry(String),
    /// Permanent; retrying cannot help.
    Reject(String),
}

impl PluginFailure {
    /// `plugin-retry` or `plugin-reject`.
    pub fn class(&self) -> crate::plugin::FailureClass {
        match self {
            Self::Retry(_) => crate::plugin::FailureClass::PluginRetry,
            Self::Reject(_) => crate::plugin::FailureClass::PluginReject,
        }
    }

    /// The reason the plugin gave.
    pub fn reason(&self) -> &str {
        match self {
            Self::Retry(r) | Self::Reject(r) => r,
        }
    }
}

impl std::fmt::Display for PluginFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Retry(r) => write!(f, "plugin asked to retry: {r}"),
            Self::Reject(r) => write!(f, "plugin rejected the message: {r}"),
        }
    }
}

/// What a stage made of one input message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Passed on unchanged.
    Keep,
    /// Dropped (filtered out).
    Drop,
    /// Replaced by these outputs (zero or more), in order.
    Replace(Vec<Output>),
    /// The plugin failed on this message.
    Failed(PluginFailure),
}

/// The messages of one queue handed to a stage in one call.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    /// Topic the messages came from.
    pub topic: &'a str,
    /// Queue id within the topic.
    pub queue_id: u32,
    /// The messages, in queue order.
    pub messages: &'a [Message],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_inherits_absent_fields() {
        let input = Message {
            queue_offset: 4,
            message_id: "m".into(),
            keys: vec!["k".into()],
            tags: Some("t".into()),
            properties: vec![("a".into(), "1".into())],
            body: Bytes::from_static(b"in"),
            ..Default::default()
        };
        let out = Output { body: Some(Bytes::from_static(b"out")), ..Default::default() }.apply(&input);
        assert_eq!((out.keys, out.tags.as_deref(), out.body.as_ref()), (input.keys.clone(), Some("t"), &b"out"[..]));
        let out = Output { tags: Some(String::new()), properties: Some(vec![]), ..Default::default() }.apply(&input);
        assert_eq!((out.tags, out.properties.len(), out.queue_offset), (None, 0, 4));
    }
}
