//! The host's message type: what a source hands the stage chain, what a plugin's output
//! becomes, and what sinks receive.
//!
//! A [`Message`] is stored as one frame of the contract's bulk layout (`wit/FRAMES.md`)
//! plus its routing destination. The frame is built once, when the message enters Sluice
//! ([`MessageParts::build`]); a plugin stage then hands a batch to a plugin by copying
//! frames, not by encoding fields, and a replaced message is assembled from the plugin's
//! output and its input by copying byte ranges ([`sluice_frames::merge_output`]). Fields
//! are read in place through accessors; [`Message::to_parts`] gives an owned copy.

use std::fmt;

use bytes::Bytes;
use sluice_frames::{FrameError, MessageFields, MessageView};

/// One message in flight through a pipeline. Cheap to clone (the frame is shared).
///
/// The frame lives in a buffer that may hold the frames of a whole batch back to back
/// ([`MessageParts::build_batch`], and the outputs of a plugin call): a stage then hands
/// the consecutive frames of a batch to a plugin without copying them on the host.
#[derive(Clone)]
pub struct Message {
    buf: Bytes,
    start: usize,
    end: usize,
    destination: Option<String>,
}

impl PartialEq for Message {
    fn eq(&self, other: &Self) -> bool {
        self.frame() == other.frame() && self.destination == other.destination
    }
}

impl Eq for Message {}

/// The fields of a message, owned: build a [`Message`] from them, or take them apart.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageParts {
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

impl MessageParts {
    /// Encodes the message.
    pub fn build(&self) -> Message {
        let mut frame = Vec::with_capacity(self.size_hint());
        self.encode(&mut frame);
        let end = frame.len();
        Message { buf: frame.into(), start: 0, end, destination: self.destination.clone() }
    }

    /// Encodes many messages into one shared buffer (one allocation), as a source does
    /// with what it pulled from one queue.
    pub fn build_batch(parts: &[MessageParts]) -> Vec<Message> {
        let mut buf = Vec::with_capacity(parts.iter().map(Self::size_hint).sum());
        let ends: Vec<usize> = parts
            .iter()
            .map(|p| {
                p.encode(&mut buf);
                buf.len()
            })
            .collect();
        let mut messages = Message::split_frames(buf, &ends);
        for (m, p) in messages.iter_mut().zip(parts) {
            m.destination.clone_from(&p.destination);
        }
        messages
    }

    /// `n` messages of the benchmarks' shape, in one buffer: a 32-character message id, a
    /// key (`order-<i mod 100>`), a tag (`paid` / `created`), three properties (`region`
    /// alternating `eu` / `us`, `source`, `trace`) and a `body`-byte body. Half of them
    /// have `region = eu`.
    pub fn sample_batch(n: usize, body: usize) -> Vec<Message> {
        let parts: Vec<MessageParts> = (0..n)
            .map(|i| MessageParts {
                queue_offset: i as i64,
                message_id: format!("7F000001{i:024X}"),
                keys: vec![format!("order-{}", i % 100)],
                tags: Some(if i % 2 == 0 { "paid" } else { "created" }.into()),
                properties: vec![
                    ("region".into(), if i % 2 == 0 { "eu" } else { "us" }.into()),
                    ("source".into(), "web".into()),
                    ("trace".into(), format!("{i:016x}")),
                ],
                body: vec![b'x'; body].into(),
                born_timestamp_ms: 1_700_000_000_000 + i as i64,
                ..Default::default()
            })
            .collect();
        Self::build_batch(&parts)
    }

    fn size_hint(&self) -> usize {
        sluice_frames::FRAME_HEADER_LEN
            + self.message_id.len()
            + self.body.len()
            + self.tags.as_ref().map_or(0, String::len)
            + self.keys.iter().map(|k| 4 + k.len()).sum::<usize>()
            + self.properties.iter().map(|(k, v)| 8 + k.len() + v.len()).sum::<usize>()
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        sluice_frames::encode_frame(
            buf,
            &MessageFields {
                queue_offset: self.queue_offset,
                born_timestamp_ms: self.born_timestamp_ms,
                reconsume_count: self.reconsume_count,
                message_id: &self.message_id,
                keys: &self.keys,
                tags: self.tags.as_deref(),
                properties: &self.properties,
                body: &self.body,
            },
        );
    }
}

impl Message {
    /// A message from a frame, checked completely (structure and UTF-8).
    ///
    /// # Errors
    /// When `frame` is not one well-formed frame.
    pub fn from_frame(frame: Bytes, destination: Option<String>) -> Result<Self, FrameError> {
        MessageView::parse_frame(&frame)?.validate()?;
        let end = frame.len();
        Ok(Self { buf: frame, start: 0, end, destination })
    }

    /// A message whose frame is `buf[range]`, assembled by the host itself from checked
    /// parts (no second check).
    pub(crate) fn from_trusted_frame(buf: Bytes, range: std::ops::Range<usize>, destination: Option<String>) -> Self {
        Self { buf, start: range.start, end: range.end, destination }
    }

    /// The messages of frames written back to back into `buf` (by
    /// [`sluice_frames::encode_frame`]), frame `i` ending at `ends[i]`; they share the
    /// buffer. For a source that encodes what it received without an owned copy first.
    pub fn split_frames(buf: Vec<u8>, ends: &[usize]) -> Vec<Message> {
        let buf = Bytes::from(buf);
        let mut start = 0;
        ends.iter()
            .map(|&end| {
                let m = Message { buf: buf.clone(), start, end, destination: None };
                start = end;
                m
            })
            .collect()
    }

    /// The frame: the message in the contract's bulk layout.
    #[inline]
    pub fn frame(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// The frame as shared bytes.
    pub fn frame_bytes(&self) -> Bytes {
        self.buf.slice(self.start..self.end)
    }

    /// If the frames of `messages` lie back to back in one buffer, that run of bytes
    /// (what a plugin call can take without a copy on the host).
    pub fn contiguous_frames(messages: &[Message]) -> Option<&[u8]> {
        let first = messages.first()?;
        let mut end = first.end;
        for m in &messages[1..] {
            let same = m.buf.as_ptr() == first.buf.as_ptr() && m.buf.len() == first.buf.len();
            if !same || m.start != end {
                return None;
            }
            end = m.end;
        }
        Some(&first.buf[first.start..end])
    }

    /// The frame, read in place. Frames are checked when a message is made, so reading
    /// cannot fail; an impossible failure reads as an empty message rather than a panic.
    #[inline]
    pub fn view(&self) -> MessageView<'_> {
        MessageView::parse_frame(self.frame()).unwrap_or_else(|_| MessageView::empty())
    }

    /// Position in its RocketMQ queue.
    #[inline]
    pub fn queue_offset(&self) -> i64 {
        self.view().queue_offset()
    }

    /// RocketMQ message id.
    #[inline]
    pub fn message_id(&self) -> &str {
        self.view().message_id().unwrap_or_default()
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.view().keys().map_while(Result::ok)
    }

    /// The tag, if any.
    #[inline]
    pub fn tags(&self) -> Option<&str> {
        self.view().tags().unwrap_or_default()
    }

    /// The user properties, in order.
    pub fn properties(&self) -> impl Iterator<Item = (&str, &str)> {
        self.view().properties().map_while(Result::ok)
    }

    /// The value of the first property named `key`.
    #[inline]
    pub fn property(&self, key: &str) -> Option<&str> {
        self.view().property(key).unwrap_or_default()
    }

    /// The body (shares the frame's memory).
    pub fn body(&self) -> Bytes {
        let body_len = self.view().body().len();
        self.buf.slice(self.end - body_len..self.end)
    }

    /// Producer timestamp, ms since the Unix epoch.
    pub fn born_timestamp_ms(&self) -> i64 {
        self.view().born_timestamp_ms()
    }

    /// Retries already made in the current stage.
    pub fn reconsume_count(&self) -> u32 {
        self.view().reconsume_count()
    }

    /// Where a plugin routed this message; `None` = the pipeline's default sinks.
    pub fn destination(&self) -> Option<&str> {
        self.destination.as_deref()
    }

    /// An owned copy of every field.
    pub fn to_parts(&self) -> MessageParts {
        let v = self.view();
        MessageParts {
            queue_offset: v.queue_offset(),
            message_id: self.message_id().to_owned(),
            keys: self.keys().map(str::to_owned).collect(),
            tags: self.tags().map(str::to_owned),
            properties: self.properties().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            body: self.body(),
            born_timestamp_ms: v.born_timestamp_ms(),
            reconsume_count: v.reconsume_count(),
            destination: self.destination.clone(),
        }
    }
}

/// Whether `name` is one of RocketMQ's own property names (`KEYS`, `TAGS`, `UNIQ_KEY`,
/// `DELAY`…, the client's `STRING_HASH_SET`), which are not user properties: a source
/// leaves them out of a message's properties and a sink does not let a plugin set them.
/// Asked for every property of every message, hence a set with a fast hash.
pub fn is_reserved_property(name: &str) -> bool {
    static RESERVED: std::sync::LazyLock<rustc_hash::FxHashSet<&'static str>> =
        std::sync::LazyLock::new(|| rocketmq_model::common::message::STRING_HASH_SET.iter().copied().collect());
    RESERVED.contains(name)
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_parts().fmt(f)
    }
}

impl Default for Message {
    fn default() -> Self {
        MessageParts::default().build()
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

impl fmt::Display for PluginFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
    /// Replaced by these messages (zero or more), in order. Each keeps the input's queue
    /// offset, message id and timestamps.
    Replace(Vec<Message>),
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
    fn reserved_properties_are_rocketmqs_own() {
        assert!(rocketmq_model::common::message::STRING_HASH_SET.iter().all(|k| is_reserved_property(k)));
        assert!(is_reserved_property("KEYS") && is_reserved_property("UNIQ_KEY"));
        assert!(!is_reserved_property("region") && !is_reserved_property("keys"));
    }

    #[test]
    fn parts_round_trip_through_the_frame() {
        let parts = MessageParts {
            queue_offset: 4,
            message_id: "m".into(),
            keys: vec!["k".into(), "l".into()],
            tags: Some("t".into()),
            properties: vec![("a".into(), "1".into())],
            body: Bytes::from_static(&[0xff, 0]),
            born_timestamp_ms: -5,
            reconsume_count: 2,
            destination: Some("fraud".into()),
        };
        let m = parts.build();
        assert_eq!(m.to_parts(), parts);
        assert_eq!((m.property("a"), m.tags(), &m.body()[..]), (Some("1"), Some("t"), &[0xff, 0][..]));
        let again = Message::from_frame(m.frame_bytes(), None).unwrap();
        assert_eq!(again.message_id(), "m");
        assert!(Message::from_frame(Bytes::from_static(b"nope"), None).is_err());
    }

    #[test]
    fn a_built_batch_is_one_run_of_frames() {
        let parts: Vec<MessageParts> =
            (0..3).map(|i| MessageParts { queue_offset: i, body: Bytes::from(vec![b'x'; i as usize]), ..Default::default() }).collect();
        let batch = MessageParts::build_batch(&parts);
        let run = Message::contiguous_frames(&batch).unwrap();
        assert_eq!(run.len(), batch.iter().map(|m| m.frame().len()).sum::<usize>());
        assert_eq!(batch[2].to_parts(), parts[2]);
        assert!(Message::contiguous_frames(&[batch[0].clone(), batch[2].clone()]).is_none(), "a gap");
        assert!(Message::contiguous_frames(&[parts[0].build(), parts[1].build()]).is_none(), "two buffers");
    }
}
