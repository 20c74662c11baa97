//! `{{name}}`: keeps messages whose property `property` equals `equals`.
//!
//! Write your logic in `filter`: it sees one message at a time (the SDK runs the batch
//! loop and the contract's fast path). `cargo test` runs the tests below natively;
//! `sluice plugin build` then `sluice plugin test .` runs the component over
//! `sample.jsonl` with the `[test]` configuration of `sluice-plugin.toml`.

use sluice_sdk::{Config, ConfigError, Error, Filter, Message};

/// The plugin: built once per instance from the stage's configuration.
pub struct Plugin {
    property: String,
    equals: String,
}

impl Filter for Plugin {
    fn init(config: &Config) -> Result<Self, ConfigError> {
        config.only(&["property", "equals"])?;
        Ok(Self { property: config.require("property")?.to_owned(), equals: config.require("equals")?.to_owned() })
    }

    /// `true` keeps the message; `Err(Error::reject(..))` dead-letters it,
    /// `Err(Error::retry(..))` retries it later.
    fn filter(&self, msg: &Message<'_>) -> Result<bool, Error> {
        Ok(msg.property(&self.property) == Some(self.equals.as_str()))
    }
}

sluice_sdk::export_filter!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sdk::testing::{TestMessage as M, TestOutcome as O, run_filter};

    #[test]
    fn keeps_the_matching_property() {
        let out = run_filter::<Plugin>(
            &[("property", "region"), ("equals", "eu")],
            &[M::new("a").property("region", "eu"), M::new("b").property("region", "us"), M::new("c")],
        )
        .unwrap();
        assert_eq!(out, [O::Unchanged, O::Drop, O::Drop]);
    }
}
