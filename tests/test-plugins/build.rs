//! Builds the example plugins in `plugins/` for wasm32-wasip2 and writes a constant per
//! plugin naming its file, so that a test cannot refer to a plugin that does not build
//! (the pattern of wasmtime's `test-programs`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir.join("../..").canonicalize().expect("workspace root");
    let plugins = root.join("plugins");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out; the plugins get a target
    // directory of their own beside the profiles, so the nested cargo never waits for a
    // lock the outer one holds (as it would under `cargo bench`).
    let target_dir = out_dir.ancestors().nth(4).map(|t| t.join("sluice-plugins")).unwrap_or_else(|| plugins.join("target"));

    for p in ["Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", plugins.join(p).display());
    }
    for dir in ["wit", "sdk/rust/src", "sdk/rust/Cargo.toml", "sdk/frames/src", "sdk/frames/Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    let members = members(&plugins);
    for m in &members {
        println!("cargo:rerun-if-changed={}", plugins.join(m).join("src").display());
        println!("cargo:rerun-if-changed={}", plugins.join(m).join("Cargo.toml").display());
    }

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(plugins.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    if std::env::var_os("CARGO_NET_OFFLINE").is_some_and(|v| v == "true") {
        cmd.arg("--offline");
    }
    // Flags meant for the host build must not leak into the guest build.
    for var in ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET", "RUSTC_WRAPPER", "RUSTC_WORKSPACE_WRAPPER"] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("cannot run cargo to build the plugins");
    if !status.success() {
        panic!(
            "building the plugins in {} for wasm32-wasip2 failed (see above). If the error is \
             \"can't find crate for `core`\" or \"target may not be installed\", run \
             `rustup target add wasm32-wasip2` (`cargo xtask test` does it for you).",
            plugins.display()
        );
    }

    let wasm_dir = target_dir.join("wasm32-wasip2/release");
    let mut consts = String::new();
    let mut all = String::from("/// Every example plugin: (crate name, file).\npub const ALL: &[(&str, &str)] = &[\n");
    for m in &members {
        let file = wasm_dir.join(format!("{}.wasm", m.replace('-', "_")));
        assert!(file.exists(), "plugin {m} built but {} is missing", file.display());
        let ident = m.replace('-', "_").to_uppercase();
        consts.push_str(&format!("/// The `{m}` plugin.\npub const {ident}: &str = {:?};\n", file.display().to_string()));
        all.push_str(&format!("    ({m:?}, {ident}),\n"));
    }
    all.push_str("];\n");
    std::fs::write(out_dir.join("plugins.rs"), consts + &all).expect("write plugins.rs");
}

/// The members of the plugins workspace, read from its manifest.
fn members(plugins: &Path) -> Vec<String> {
    let manifest = std::fs::read_to_string(plugins.join("Cargo.toml")).expect("plugins/Cargo.toml");
    let start = manifest.find("members = [").expect("plugins/Cargo.toml has a members list");
    let list = &manifest[start + "members = [".len()..];
    let list = &list[..list.find(']').expect("members list closes")];
    list.split(',').map(|s| s.trim().trim_matches('"').to_owned()).filter(|s| !s.is_empty()).collect()
}
