//! The example plugins of `plugins/`, built for wasm32-wasip2 by this crate's build
//! script: one constant per plugin with the absolute path of its `.wasm` file.
//!
//! ```
//! assert!(std::path::Path::new(sluice_test_plugins::JSON_FILTER).exists());
//! ```

include!(concat!(env!("OUT_DIR"), "/plugins.rs"));
