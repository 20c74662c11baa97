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
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    frame: Bytes,
    destination: Option<String>,
}

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
        let mut frame = Vec::with_capacity(
            sluice_frames::FRAME_HEADER_LEN + self.message_id.len() + self.body.len() + 16 * (self.keys.len() + 2 * self.properties.len()),
        );
        sluice_frames::encode_frame(
            &mut frame,
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
        Message { frame: frame.into(), destination: self.destination.clone() }
    }
}

impl Message {
    /// A message from a frame, checked completely (structure and UTF-8).
    ///
    /// # Errors
    /// When `frame` is not one well-formed frame.
    pub fn from_frame(frame: Bytes, destination: Option<String>) -> Result<Self, FrameError> {
        MessageView::parse_frame(&frame)?.validate()?;
        Ok(Self { frame, destination })
    }

    /// A message from a frame the host assembled itself from checked parts (no second
    /// check).
    pub(crate) fn from_trusted_frame(frame: Bytes, destination: Option<String>) -> Self {
        Self { frame, destination }
    }

    /// The frame: the message in the contract's bulk layout.
    pub fn frame(&self) -> &Bytes {
        &self.frame
    }

    /// The frame, read in place. Frames are checked when a message is made, so reading
    /// cannot fail; an impossible failure reads as an empty message rather than a panic.
    #[inline]
    pub fn view(&self) -> MessageView<'_> {
        MessageView::parse_frame(&self.frame).unwrap_or_else(|_| MessageView::empty())
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
        let v = self.view();
        let start = self.frame.len() - v.body().len();
        self.frame.slice(start..)
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
        let again = Message::from_frame(m.frame().clone(), None).unwrap();
        assert_eq!(again.message_id(), "m");
        assert!(Message::from_frame(Bytes::from_static(b"nope"), None).is_err());
    }
}
