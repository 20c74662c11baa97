//! `set-property`: sets one property on every message (enrich an order with a region,
//! say). Every message is replaced, so this is the benchmark's replacing transform.
//!
//! Configuration: `key` and `value` (both required).

use sluice_sdk::{Config, ConfigError, Error, Message, Transform, Transformed};

/// The plugin.
pub struct SetProperty {
    key: String,
    value: String,
}

impl Transform for SetProperty {
    fn init(config: &Config) -> Result<Self, ConfigError> {
        config.only(&["key", "value"])?;
        Ok(Self { key: config.require("key")?.to_owned(), value: config.require("value")?.to_owned() })
    }

    fn transform<'a>(&'a self, msg: &Message<'a>) -> Result<Transformed<'a>, Error> {
        Ok(msg.derive().property(self.key.as_str(), self.value.as_str()).into())
    }
}

sluice_sdk::export_transform!(SetProperty);

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sdk::testing::{TestMessage as M, TestOutcome as O, TestOutput, run_transform};

    #[test]
    fn adds_or_overrides() {
        let out = run_transform::<SetProperty>(
            &[("key", "region"), ("value", "eu")],
            &[M::new("x").property("a", "1"), M::new("y").property("region", "us")],
        )
        .unwrap();
        let props = |p: &[(&str, &str)]| TestOutput { properties: Some(p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()), ..Default::default() };
        assert_eq!(out, [O::Replaced(vec![props(&[("a", "1"), ("region", "eu")])]), O::Replaced(vec![props(&[("region", "eu")])])]);
    }
}
