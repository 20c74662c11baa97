//! `passthrough`: passes every message on unchanged. The smallest transform, and the
//! measure of what the plugin boundary itself costs.

use sluice_sdk::{Config, ConfigError, Error, Message, Transform, Transformed};

/// The plugin.
pub struct Passthrough;

impl Transform for Passthrough {
    fn init(config: &Config) -> Result<Self, ConfigError> {
        config.only(&[])?;
        Ok(Passthrough)
    }

    fn transform<'a>(&'a self, _msg: &Message<'a>) -> Result<Transformed<'a>, Error> {
        Ok(Transformed::Unchanged)
    }
}

sluice_sdk::export_transform!(Passthrough);

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sdk::testing::{TestError, TestMessage, TestOutcome, run_transform};

    #[test]
    fn everything_unchanged_and_config_refused() {
        let out = run_transform::<Passthrough>(&[], &[TestMessage::new("a"), TestMessage::new(vec![0xff])]).unwrap();
        assert_eq!(out, [TestOutcome::Unchanged, TestOutcome::Unchanged]);
        let e = run_transform::<Passthrough>(&[("x", "1")], &[]).unwrap_err();
        assert!(matches!(e, TestError::Init(c) if c.key.as_deref() == Some("x")));
    }
}
