//! `property-filter`: keeps messages whose user property equals a value — the cheapest
//! useful filter (drop bot traffic by a header, say), and the filter of the benchmarks.
//!
//! Configuration: `property` (required), `equals` (required), `missing` = `drop`
//! (default) or `keep` for messages without the property.

use sluice_sdk::{Config, ConfigError, Error, Filter, Message};

/// The plugin.
pub struct PropertyFilter {
    property: String,
    equals: String,
    keep_missing: bool,
}

impl Filter for PropertyFilter {
    fn init(config: &Config) -> Result<Self, ConfigError> {
        config.only(&["property", "equals", "missing"])?;
        let keep_missing = match config.get("missing").unwrap_or("drop") {
            "drop" => false,
            "keep" => true,
            other => return Err(ConfigError::key("missing", format!("expected `drop` or `keep`, got {other:?}"))),
        };
        Ok(Self { property: config.require("property")?.to_owned(), equals: config.require("equals")?.to_owned(), keep_missing })
    }

    fn filter(&self, msg: &Message<'_>) -> Result<bool, Error> {
        Ok(match msg.property(&self.property) {
            Some(v) => v == self.equals,
            None => self.keep_missing,
        })
    }
}

sluice_sdk::export_filter!(PropertyFilter);

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sdk::testing::{TestMessage as M, TestOutcome as O, run_filter};

    #[test]
    fn filters_on_the_property() {
        let msgs = [M::new("").property("region", "eu"), M::new("").property("region", "us"), M::new("")];
        let out = run_filter::<PropertyFilter>(&[("property", "region"), ("equals", "eu")], &msgs).unwrap();
        assert_eq!(out, [O::Unchanged, O::Drop, O::Drop]);
        let out = run_filter::<PropertyFilter>(&[("property", "region"), ("equals", "eu"), ("missing", "keep")], &msgs).unwrap();
        assert_eq!(out[2], O::Unchanged);
    }
}
