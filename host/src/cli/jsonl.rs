//! The JSON Lines message format of `sluice plugin test` (and, later, `produce` /
//! `consume`): one message per line, the same shape in and out, so output can be fed back
//! in.
//!
//! ```json
//! {"key": "order-7", "tag": "paid", "properties": {"region": "eu"}, "body": {"id": 7}}
//! ```
//!
//! * `body`: a JSON string is taken as UTF-8 text; any other JSON value (object, array,
//!   number…) is written out compactly and taken as the body's text. Absent = empty body.
//! * `body_base64`: the body as standard base64, for bodies that are not UTF-8.
//! * `key` (one) or `keys` (several), `tag`, `properties` (object of strings).
//! * `topic` (default `test`), `queue_id` (default 0), `queue_offset` (default: the line's
//!   index from 0), `message_id` (default `msg-<line number>`), `born_timestamp_ms`,
//!   `reconsume_count`, `destination`.
//!
//! Unknown fields are errors, reported with the line number.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::message::{Message, MessageParts};

/// One line of input.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageLine {
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    queue_id: Option<u32>,
    #[serde(default)]
    queue_offset: Option<i64>,
    #[serde(default)]
    message_id: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    keys: Option<Vec<String>>,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    properties: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<serde_json::Value>,
    #[serde(default)]
    body_base64: Option<String>,
    #[serde(default)]
    born_timestamp_ms: i64,
    #[serde(default)]
    reconsume_count: u32,
    #[serde(default)]
    destination: Option<String>,
}

/// A parsed input line: where it is from, and the message.
#[derive(Debug, Clone)]
pub struct InputMessage {
    /// Topic.
    pub topic: String,
    /// Queue id.
    pub queue_id: u32,
    /// The message.
    pub message: Message,
}

/// Parses one input line (`index` counts from 0, for defaults).
///
/// # Errors
/// A message saying what is wrong with the line.
pub fn parse_line(line: &str, index: usize) -> Result<InputMessage, String> {
    let l: MessageLine = serde_json::from_str(line).map_err(|e| e.to_string())?;
    if l.key.is_some() && l.keys.is_some() {
        return Err("give either `key` or `keys`, not both".into());
    }
    let body = match (l.body, l.body_base64) {
        (Some(_), Some(_)) => return Err("give either `body` or `body_base64`, not both".into()),
        (None, None) => Bytes::new(),
        (Some(serde_json::Value::String(s)), None) => Bytes::from(s),
        (Some(v), None) => Bytes::from(v.to_string()),
        (None, Some(b)) => Bytes::from(B64.decode(b.trim()).map_err(|e| format!("`body_base64` is not base64: {e}"))?),
    };
    Ok(InputMessage {
        topic: l.topic.unwrap_or_else(|| "test".into()),
        queue_id: l.queue_id.unwrap_or(0),
        message: MessageParts {
            queue_offset: l.queue_offset.unwrap_or(index as i64),
            message_id: l.message_id.unwrap_or_else(|| format!("msg-{}", index + 1)),
            keys: l.keys.or(l.key.map(|k| vec![k])).unwrap_or_default(),
            tags: l.tag.filter(|t| !t.is_empty()),
            properties: l.properties.into_iter().collect(),
            body,
            born_timestamp_ms: l.born_timestamp_ms,
            reconsume_count: l.reconsume_count,
            destination: l.destination,
        }
        .build(),
    })
}

/// A message written out in the line format.
#[derive(Debug, Serialize)]
pub struct MessageOut<'a> {
    message_id: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    keys: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tag: Option<&'a str>,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    properties: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination: Option<&'a str>,
}

impl<'a> MessageOut<'a> {
    /// The line form of `m`: body as text when it is UTF-8, else as base64.
    pub fn new(m: &'a Message) -> Self {
        let v = m.view();
        let (body, body_base64) = match std::str::from_utf8(v.body()) {
            Ok(s) => (Some(s), None),
            Err(_) => (None, Some(B64.encode(v.body()))),
        };
        Self {
            message_id: m.message_id(),
            keys: m.keys().collect(),
            tag: m.tags(),
            properties: m.properties().map(|(k, v)| (k.to_owned(), serde_json::Value::from(v))).collect(),
            body,
            body_base64,
            destination: m.destination(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_in_all_three_forms() {
        let m = parse_line(r#"{"body": "hi"}"#, 0).unwrap();
        assert_eq!(&m.message.body()[..], b"hi");
        let m = parse_line(r#"{"body": {"a": 1}}"#, 0).unwrap();
        assert_eq!(&m.message.body()[..], br#"{"a":1}"#);
        let m = parse_line(r#"{"body_base64": "/wA="}"#, 4).unwrap();
        assert_eq!((&m.message.body()[..], m.message.queue_offset(), m.message.message_id()), (&[0xff, 0][..], 4, "msg-5"));
        assert!(parse_line(r#"{"bdy": "x"}"#, 0).unwrap_err().contains("unknown field `bdy`"));
        assert!(parse_line(r#"{"key": "a", "keys": ["b"]}"#, 0).unwrap_err().contains("either"));
    }
}
