//! `uppercase`: upper-cases UTF-8 bodies and marks them with the property
//! `uppercased=true`; rejects bodies that are not UTF-8.
//!
//! Written **without the Sluice SDK**, against the typed `transform` world of `wit/`.
//! Takes no configuration.

wit_bindgen::generate!({
    path: "../../wit",
    world: "sluice:plugin/transform@0.1.0",
});

use exports::sluice::plugin::typed_transform::{Guest, Outcome};
use sluice::plugin::types::{BatchContext, ConfigError, Message, Output, PluginError, Property};

struct Uppercase;

impl Guest for Uppercase {
    fn init(config: Vec<(String, String)>) -> Result<(), ConfigError> {
        match config.first() {
            None => Ok(()),
            Some((k, _)) => Err(ConfigError { key: Some(k.clone()), message: format!("unknown key `{k}`: uppercase takes no configuration") }),
        }
    }

    fn transform(_context: BatchContext, messages: Vec<Message>) -> Result<Vec<Outcome>, PluginError> {
        Ok(messages
            .into_iter()
            .map(|m| match String::from_utf8(m.body) {
                Err(_) => Outcome::Failed(PluginError::Reject("body is not UTF-8".into())),
                Ok(text) => {
                    let mut properties = m.properties;
                    properties.push(Property { key: "uppercased".into(), value: "true".into() });
                    Outcome::Replaced(vec![Output {
                        keys: None,
                        tags: None,
                        properties: Some(properties),
                        body: Some(text.to_uppercase().into_bytes()),
                        destination: None,
                    }])
                }
            })
            .collect())
    }
}

#[cfg(target_arch = "wasm32")]
export!(Uppercase);
