//! `json-filter`: keeps messages whose JSON body has a configured field equal to a
//! configured value, drops the others, and rejects bodies that are not JSON.
//!
//! Configuration:
//! * `field` (required): the field, as a dotted path (`order.status`) or a JSON Pointer
//!   (`/order/items/0/sku`).
//! * `equals` (required): the value. Read as JSON when it parses (`42`, `true`,
//!   `"paid"`, `{"a":1}`), else as a plain string (`paid`).

use serde_json::Value;
use sluice_sdk::{Config, ConfigError, Error, Filter, Message};

/// The plugin.
pub struct JsonFilter {
    pointer: String,
    equals: Value,
}

impl Filter for JsonFilter {
    fn init(config: &Config) -> Result<Self, ConfigError> {
        config.only(&["field", "equals"])?;
        let field = config.require("field")?;
        if field.is_empty() {
            return Err(ConfigError::key("field", "`field` is empty; give a dotted path like `order.status`"));
        }
        let pointer = if field.starts_with('/') {
            field.to_owned()
        } else {
            field.split('.').map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1"))).collect()
        };
        let raw = config.require("equals")?;
        let equals = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()));
        Ok(Self { pointer, equals })
    }

    fn filter(&self, msg: &Message<'_>) -> Result<bool, Error> {
        let body: Value = serde_json::from_slice(msg.body()).map_err(|e| {
            if msg.body().is_empty() {
                Error::reject("body is empty, not JSON")
            } else {
                Error::reject(format!("body is not JSON: {e}"))
            }
        })?;
        Ok(body.pointer(&self.pointer) == Some(&self.equals))
    }
}

sluice_sdk::export_filter!(JsonFilter);

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sdk::testing::{TestError, TestMessage as M, TestOutcome as O, run_filter};

    #[test]
    fn keeps_equal_drops_other_rejects_non_json() {
        let out = run_filter::<JsonFilter>(
            &[("field", "order.status"), ("equals", "paid")],
            &[
                M::new(r#"{"order":{"status":"paid"}}"#),
                M::new(r#"{"order":{"status":"new"}}"#),
                M::new(r#"{"other":1}"#),
                M::new("not json"),
                M::new(""),
                M::new(vec![0xff, 0xfe]),
            ],
        )
        .unwrap();
        assert_eq!(&out[..3], [O::Unchanged, O::Drop, O::Drop]);
        assert!(matches!(&out[3], O::Reject(r) if r.starts_with("body is not JSON")), "{:?}", out[3]);
        assert_eq!(out[4], O::Reject("body is empty, not JSON".into()));
        assert!(matches!(&out[5], O::Reject(_)));
    }

    #[test]
    fn values_are_json_when_they_parse() {
        let cfg = [("field", "/n"), ("equals", "42")];
        let out = run_filter::<JsonFilter>(&cfg, &[M::new(r#"{"n":42}"#), M::new(r#"{"n":"42"}"#)]).unwrap();
        assert_eq!(out, [O::Unchanged, O::Drop]);
        let e = run_filter::<JsonFilter>(&[("equals", "1")], &[]).unwrap_err();
        assert!(matches!(e, TestError::Init(c) if c.message.contains("missing required key `field`")));
    }
}
