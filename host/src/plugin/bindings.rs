//! The one `bindgen!` of the host: Rust types and call wrappers for every interface of
//! the `sluice:plugin` contract in `wit/`.
//!
//! No plugin targets the world below; it only gathers every export the host knows, so
//! that one macro invocation generates them all. A component implements exactly one of
//! them, found by [`super::component`], and the host loads that interface alone through
//! its `GuestIndices`.

wasmtime::component::bindgen!({
    path: "../wit",
    inline: "
        package sluice:host;

        world host-view {
            import sluice:plugin/host@0.1.0;
            export sluice:plugin/typed-filter@0.1.0;
            export sluice:plugin/typed-transform@0.1.0;
            export sluice:plugin/frames-filter@0.1.0;
            export sluice:plugin/frames-transform@0.1.0;
        }
    ",
});

/// The contract version this host implements.
pub const CONTRACT_VERSION: &str = "0.1.0";
/// The contract's package name.
pub const CONTRACT_PACKAGE: &str = "sluice:plugin";
