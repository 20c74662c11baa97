//! Per-plugin limits: memory, deadline, outputs, and the instance pool's size.

use std::time::Duration;

use bytesize::ByteSize;
use serde::{Deserialize, Serialize};

/// Bounds on one plugin stage. Every field has a sane default; in TOML:
///
/// ```toml
/// [limits]
/// memory = "64 MiB"
/// deadline = "1s"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginLimits {
    /// Largest linear memory one instance may grow to. Growing past it fails the call
    /// (class `memory`) and discards the instance.
    #[serde(default = "default_memory")]
    pub memory: ByteSize,
    /// Longest one call (one batch, or `init`) may run before it is interrupted (class
    /// `deadline`); enforced with epoch interruption: a call is stopped after at least
    /// `deadline` and at most one engine tick (10 ms by default) later.
    #[serde(default = "default_deadline", with = "humantime_serde")]
    pub deadline: Duration,
    /// Most outputs one input message may become.
    #[serde(default = "default_max_outputs")]
    pub max_outputs_per_message: u32,
    /// Most idle instances kept for reuse; more may exist while calls run concurrently.
    #[serde(default = "default_max_idle")]
    pub max_idle_instances: usize,
}

fn default_memory() -> ByteSize {
    ByteSize::mib(64)
}
fn default_deadline() -> Duration {
    Duration::from_secs(1)
}
fn default_max_outputs() -> u32 {
    10_000
}
fn default_max_idle() -> usize {
    8
}

impl Default for PluginLimits {
    fn default() -> Self {
        Self {
            memory: default_memory(),
            deadline: default_deadline(),
            max_outputs_per_message: default_max_outputs(),
            max_idle_instances: default_max_idle(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units_and_unknown_keys() {
        let l: PluginLimits = toml::from_str("memory = \"16 MiB\"\ndeadline = \"250ms\"").unwrap();
        assert_eq!((l.memory, l.deadline), (ByteSize::mib(16), Duration::from_millis(250)));
        assert_eq!(l.max_outputs_per_message, 10_000);
        let e = toml::from_str::<PluginLimits>("memroy = \"1 MiB\"").unwrap_err().to_string();
        assert!(e.contains("unknown field `memroy`"), "{e}");
    }
}
