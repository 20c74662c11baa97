//! `{{name}}`: adds the property `processed-by = {{name}}` to every message.
//!
//! Write your logic in `transform`: it sees one message at a time and answers
//! `Transformed::Unchanged` (the cheapest answer: nothing crosses back to the host),
//! `Transformed::Drop`, or one or more `Output`s, which inherit every field they do not
//! set from the input. `cargo test` runs the tests below natively; `sluice plugin build`
//! then `sluice plugin test .` runs the component over `sample.jsonl`.

use sluice_sdk::{Config, ConfigError, Error, Message, Transform, Transformed};

/// The plugin: built once per instance from the stage's configuration.
pub struct Plugin;

impl Transform for Plugin {
    fn init(config: &Config) -> Result<Self, ConfigError> {
        config.only(&[])?;
        Ok(Plugin)
    }

    fn transform<'a>(&'a self, msg: &Message<'a>) -> Result<Transformed<'a>, Error> {
        // `derive` starts from the input's properties; other fields are inherited.
        Ok(msg.derive().property("processed-by", "{{name}}").into())
    }
}

sluice_sdk::export_transform!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sdk::testing::{TestMessage as M, TestOutcome as O, run_transform};

    #[test]
    fn adds_the_property() {
        let out = run_transform::<Plugin>(&[], &[M::new("a").property("region", "eu")]).unwrap();
        let O::Replaced(outputs) = &out[0] else { panic!("{out:?}") };
        let props = outputs[0].properties.as_ref().unwrap();
        assert_eq!(props.last().unwrap(), &("processed-by".to_owned(), "{{name}}".to_owned()));
    }
}
