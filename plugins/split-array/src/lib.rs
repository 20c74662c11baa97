//! `split-array`: a JSON array body becomes one message per element (each element's JSON
//! text exactly as it appears in the input), in order, with the input's keys, tag and
//! properties.
//!
//! Configuration: `index_property` (optional): also set this property to the element's
//! index. `non_array` = `keep` (default: pass other JSON on unchanged) or `reject`.
//! Bodies that are not JSON are rejected.

use serde_json::value::RawValue;
use sluice_sdk::{Config, ConfigError, Error, Message, Output, Transform, Transformed};

/// The plugin.
pub struct SplitArray {
    index_property: Option<String>,
    reject_non_array: bool,
}

impl Transform for SplitArray {
    fn init(config: &Config) -> Result<Self, ConfigError> {
        config.only(&["index_property", "non_array"])?;
        let reject_non_array = match config.get("non_array").unwrap_or("keep") {
            "keep" => false,
            "reject" => true,
            other => return Err(ConfigError::key("non_array", format!("expected `keep` or `reject`, got {other:?}"))),
        };
        Ok(Self { index_property: config.get("index_property").map(str::to_owned), reject_non_array })
    }

    fn transform<'a>(&'a self, msg: &Message<'a>) -> Result<Transformed<'a>, Error> {
        if msg.body().is_empty() {
            return Err(Error::reject("body is empty, not JSON"));
        }
        let Ok(items) = serde_json::from_slice::<Vec<&RawValue>>(msg.body()) else {
            // Not an array: valid JSON of another shape, or not JSON at all.
            serde_json::from_slice::<serde::de::IgnoredAny>(msg.body())
                .map_err(|e| Error::reject(format!("body is not JSON: {e}")))?;
            return if self.reject_non_array { Err(Error::reject("body is JSON but not an array")) } else { Ok(Transformed::Unchanged) };
        };
        let outputs = items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let out = match &self.index_property {
                    Some(p) => msg.derive().property(p.clone(), i.to_string()),
                    None => Output::new(),
                };
                out.body(item.get().as_bytes())
            })
            .collect::<Vec<_>>();
        Ok(Transformed::Many(outputs))
    }
}

sluice_sdk::export_transform!(SplitArray);

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sdk::testing::{TestMessage as M, TestOutcome as O, run_transform};

    #[test]
    fn splits_arrays() {
        let out = run_transform::<SplitArray>(&[], &[M::new(r#"[1, {"b": 1, "a": 2}, "x"]"#).key("k"), M::new("[]"), M::new("{}"), M::new("nope")]).unwrap();
        let O::Replaced(outs) = &out[0] else { panic!("{out:?}") };
        let bodies: Vec<_> = outs.iter().map(|o| String::from_utf8(o.body.clone().unwrap()).unwrap()).collect();
        assert_eq!(bodies, ["1", r#"{"b": 1, "a": 2}"#, r#""x""#], "elements are passed on verbatim");
        assert!(outs.iter().all(|o| o.keys.is_none()), "keys are inherited");
        assert_eq!(out[1], O::Replaced(vec![]));
        assert_eq!(out[2], O::Unchanged);
        assert!(matches!(&out[3], O::Reject(_)));
    }
}
