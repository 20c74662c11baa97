//! `tag-filter`: keeps messages whose tag is one of the configured ones.
//!
//! Written **without the Sluice SDK**, straight against the typed `filter` world of
//! `wit/` with `wit-bindgen`: what a plugin author in any language with WIT bindings
//! does. Configuration: `tags`, a `||`-separated list (`TagA || TagB`, RocketMQ's syntax).

use std::cell::RefCell;

wit_bindgen::generate!({
    path: "../../wit",
    world: "sluice:plugin/filter@0.1.0",
});

use exports::sluice::plugin::typed_filter::{Guest, Verdict};
use sluice::plugin::types::{BatchContext, ConfigError, Message, PluginError};

thread_local! {
    static TAGS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

struct TagFilter;

impl Guest for TagFilter {
    fn init(config: Vec<(String, String)>) -> Result<(), ConfigError> {
        let mut tags = None;
        for (k, v) in config {
            match k.as_str() {
                "tags" => tags = Some(v.split("||").map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect::<Vec<_>>()),
                _ => return Err(ConfigError { key: Some(k.clone()), message: format!("unknown key `{k}`; expected `tags`") }),
            }
        }
        let tags = tags.filter(|t| !t.is_empty()).ok_or(ConfigError {
            key: Some("tags".into()),
            message: "missing required key `tags` (e.g. `TagA || TagB`)".into(),
        })?;
        TAGS.with(|t| *t.borrow_mut() = tags);
        Ok(())
    }

    fn filter(_context: BatchContext, messages: Vec<Message>) -> Result<Vec<Verdict>, PluginError> {
        TAGS.with(|tags| {
            let tags = tags.borrow();
            Ok(messages
                .iter()
                .map(|m| match &m.tags {
                    Some(t) if tags.iter().any(|x| x == t) => Verdict::Keep,
                    _ => Verdict::Drop,
                })
                .collect())
        })
    }
}

#[cfg(target_arch = "wasm32")]
export!(TagFilter);
