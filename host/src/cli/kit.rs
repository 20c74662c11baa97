//! Plugin projects: `sluice new plugin` scaffolds one from a language kit's template,
//! `sluice plugin build` turns one into its `.wasm`.
//!
//! A plugin project is a directory with a `sluice-plugin.toml`:
//!
//! ```toml
//! name = "my-filter"   # the component is built to <dir>/my-filter.wasm
//! lang = "python"      # rust | c | python | js | go
//! kind = "filter"      # filter | transform
//!
//! [test]               # optional: what `sluice plugin test <dir>` runs by default
//! input = "sample.jsonl"
//! config = ["property=region", "equals=eu"]
//! ```
//!
//! The language kits (`sdk/<lang>/`: helper library, `build.sh`, templates) and the WIT
//! contract are compiled into the binary, so an installed `sluice` builds plugins anywhere:
//! `build` writes them once under the toolchain directory
//! (`$SLUICE_TOOLCHAINS`, default `~/.cache/sluice/toolchains`) and runs the kit's
//! `build.sh`, which installs the language's toolchain there on first use. Rust projects
//! build with cargo against the embedded Rust SDK.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Instant, SystemTime};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use include_dir::{Dir, include_dir};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::plugin::{EngineConfig, PluginEngine};

/// The manifest's file name.
pub const MANIFEST: &str = "sluice-plugin.toml";

static WIT: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../wit");
static KIT_RUST: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../sdk/rust");
static KIT_FRAMES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../sdk/frames");
static KIT_C: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../sdk/c");
static KIT_PYTHON: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../sdk/python");
static KIT_JS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../sdk/js");
static KIT_GO: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../sdk/go");

/// Entries never copied out of a kit (caches a developer's checkout may hold).
const SKIP: [&str; 6] = ["__pycache__", "node_modules", ".venv", "target", ".sluice-build", ".pytest_cache"];

/// A plugin's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Rust, with the `sluice-sdk` crate.
    Rust,
    /// C, with clang and wasi-libc.
    C,
    /// Python, with componentize-py.
    Python,
    /// JavaScript, with componentize-qjs (QuickJS) or componentize-js (SpiderMonkey).
    #[serde(alias = "javascript")]
    #[value(alias = "javascript")]
    Js,
    /// Go (experimental), with Go's wasip1 port and wit-bindgen.
    Go,
}

impl Lang {
    fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::C => "c",
            Lang::Python => "python",
            Lang::Js => "js",
            Lang::Go => "go",
        }
    }

    fn kit(self) -> &'static Dir<'static> {
        match self {
            Lang::Rust => &KIT_RUST,
            Lang::C => &KIT_C,
            Lang::Python => &KIT_PYTHON,
            Lang::Js => &KIT_JS,
            Lang::Go => &KIT_GO,
        }
    }
}

/// A plugin's kind, as the manifest names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Keeps or drops each message.
    Filter,
    /// Turns each message into zero, one or many.
    Transform,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Filter => "filter",
            Kind::Transform => "transform",
        }
    }
}

/// `sluice-plugin.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The plugin's name; the component is `<dir>/<name>.wasm`.
    pub name: String,
    /// Its language.
    pub lang: Lang,
    /// Filter or transform.
    pub kind: Kind,
    /// JavaScript only: `qjs` (QuickJS, the default) or `spidermonkey`.
    #[serde(default)]
    pub engine: Option<String>,
    /// What `sluice plugin test <dir>` runs by default.
    #[serde(default)]
    pub test: Option<TestDefaults>,
}

/// The manifest's `[test]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestDefaults {
    /// JSON Lines input, relative to the project directory.
    #[serde(default)]
    pub input: Option<PathBuf>,
    /// Configuration pairs, `key=value`.
    #[serde(default)]
    pub config: Vec<String>,
}

impl TestDefaults {
    /// The configuration as pairs.
    ///
    /// # Errors
    /// An entry without `=`.
    pub fn config_pairs(&self) -> anyhow::Result<Vec<(String, String)>> {
        self.config
            .iter()
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
                _ => bail!("{MANIFEST}: [test] config entry {kv:?} is not `key=value`"),
            })
            .collect()
    }
}

impl Manifest {
    /// Reads and checks `dir/sluice-plugin.toml`.
    ///
    /// # Errors
    /// Unreadable, malformed or invalid manifests, naming the file and the key.
    pub fn read(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("cannot read {}: a plugin project needs one (create a project with `sluice new plugin`)", path.display())
        })?;
        let m: Manifest = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if m.name.is_empty() || !m.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') || m.name.starts_with('-') {
            bail!("{}: `name` {:?} must be letters, digits, `-` and `_` (it names the .wasm file)", path.display(), m.name);
        }
        match (&m.engine, m.lang) {
            (None, _) => {}
            (Some(e), Lang::Js) if e == "qjs" || e == "spidermonkey" => {}
            (Some(e), Lang::Js) => bail!("{}: `engine` {e:?} is not `qjs` or `spidermonkey`", path.display()),
            (Some(_), other) => bail!("{}: `engine` applies to JavaScript plugins only, not {}", path.display(), other.name()),
        }
        if let Some(t) = &m.test {
            t.config_pairs().with_context(|| path.display().to_string())?;
        }
        Ok(m)
    }
}

/// What a plugin argument names: a `.wasm` file, or a project directory and its build.
#[derive(Debug)]
pub struct PluginTarget {
    /// The component file.
    pub wasm: PathBuf,
    /// The project directory (the file's directory for a plain `.wasm`).
    pub dir: PathBuf,
    /// The project's `[test]` defaults.
    pub test: Option<TestDefaults>,
}

impl PluginTarget {
    /// Resolves a command-line plugin argument.
    ///
    /// # Errors
    /// A project whose manifest is bad or whose component is not built yet.
    pub fn resolve(arg: &Path) -> anyhow::Result<Self> {
        if !arg.is_dir() {
            let dir = arg.parent().map(Path::to_owned).unwrap_or_default();
            return Ok(Self { wasm: arg.to_owned(), dir, test: None });
        }
        let m = Manifest::read(arg)?;
        let wasm = arg.join(format!("{}.wasm", m.name));
        if !wasm.exists() {
            bail!("{} is not built yet: run `sluice plugin build {}` first", wasm.display(), arg.display());
        }
        Ok(Self { wasm, dir: arg.to_owned(), test: m.test })
    }

    /// The configuration pairs given on the command line, or else the project's `[test]`
    /// ones.
    ///
    /// # Errors
    /// A `[test]` entry that is not `key=value`.
    pub fn config_or(&self, given: Vec<(String, String)>) -> anyhow::Result<Vec<(String, String)>> {
        match &self.test {
            Some(t) if given.is_empty() => t.config_pairs(),
            _ => Ok(given),
        }
    }
}

/// Where toolchains and unpacked kits live.
pub fn toolchains_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("SLUICE_TOOLCHAINS") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/sluice/toolchains")
}

fn files<'a>(dir: &'a Dir<'a>, out: &mut Vec<&'a include_dir::File<'a>>) {
    for d in dir.dirs() {
        if !d.path().file_name().and_then(|n| n.to_str()).is_some_and(|n| SKIP.contains(&n)) {
            files(d, out);
        }
    }
    out.extend(dir.files());
}

/// Writes an embedded directory under the toolchain directory once (named by a hash of
/// its contents, so a newer `sluice` never reuses an older kit) and returns its path.
/// The files of embedded directories, each under its prefix, in a stable order, and a
/// hash of them all.
fn contents(dirs: &[(&str, &'static Dir<'static>)]) -> (Vec<(PathBuf, &'static [u8])>, String) {
    let mut h = Sha256::new();
    let mut all = Vec::new();
    for (prefix, dir) in dirs {
        let mut fs = Vec::new();
        files(dir, &mut fs);
        fs.sort_by_key(|f| f.path());
        for f in fs {
            h.update(prefix.as_bytes());
            h.update(f.path().to_string_lossy().as_bytes());
            h.update((f.contents().len() as u64).to_le_bytes());
            h.update(f.contents());
            all.push((Path::new(prefix).join(f.path()), f.contents()));
        }
    }
    (all, hex::encode(&h.finalize()[..8]))
}

fn unpack(name: &str, dirs: &[(&str, &'static Dir<'static>)]) -> anyhow::Result<PathBuf> {
    let (all, hash) = contents(dirs);
    let root = toolchains_dir().join("kits");
    let dest = root.join(format!("{name}-{hash}"));
    if dest.is_dir() {
        return Ok(dest);
    }
    std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    let tmp = tempfile::tempdir_in(&root).with_context(|| format!("cannot create a directory in {}", root.display()))?;
    for (path, contents) in all {
        let p = tmp.path().join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&p, contents).with_context(|| format!("cannot write {}", p.display()))?;
    }
    let tmp = tmp.keep();
    if std::fs::rename(&tmp, &dest).is_err() {
        // Another build unpacked the same kit meanwhile.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(dest)
}

fn unpack_wit() -> anyhow::Result<PathBuf> {
    unpack("wit", &[("", &WIT)])
}

/// The Rust SDK as a stand-alone crate pair (`sdk/rust`, `sdk/frames`, `wit`), with
/// manifests that do not need the Sluice workspace.
fn unpack_rust_sdk() -> anyhow::Result<PathBuf> {
    let dir = unpack("rust", &[("sdk/rust", &KIT_RUST), ("sdk/frames", &KIT_FRAMES), ("wit", &WIT)])?;
    let package = |name: &str, description: &str, deps: &str| {
        format!(
            "[package]\nname = \"{name}\"\ndescription = \"{description}\"\nversion = \"{}\"\nedition = \"2024\"\n\
             license = \"Apache-2.0\"\n\n[dependencies]\n{deps}",
            env!("CARGO_PKG_VERSION")
        )
    };
    let rust = package(
        "sluice-sdk",
        "Write Sluice filter and transform plugins in Rust",
        "sluice-frames = { path = \"../frames\" }\nwit-bindgen = { version = \"0.63\", default-features = false, features = [\"macros\", \"realloc\"] }\n",
    );
    let frames = package("sluice-frames", "The Sluice plugin contract's bulk frame layout", "");
    for (path, text) in [("sdk/rust/Cargo.toml", rust), ("sdk/frames/Cargo.toml", frames)] {
        let p = dir.join(path);
        if std::fs::read_to_string(&p).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))?;
        }
    }
    Ok(dir)
}

/// Arguments of `sluice plugin build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The plugin project directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Build even when the component is newer than every source file.
    #[arg(long)]
    pub force: bool,
}

/// The newest modification time of the project's sources (everything but the output, the
/// build directory and caches).
fn newest_source(dir: &Path, out: &Path) -> std::io::Result<SystemTime> {
    let mut newest = SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path == out || SKIP.contains(&name.as_ref()) || name.ends_with(".wasm") || name.starts_with('.') {
            continue;
        }
        let meta = entry.metadata()?;
        let t = if meta.is_dir() { newest_source(&path, out)? } else { meta.modified()? };
        newest = newest.max(t);
    }
    Ok(newest)
}

/// Builds a project; returns the component's path.
///
/// # Errors
/// A bad manifest, a toolchain that cannot be installed, a failed build, or a component
/// that is not the kind the manifest says.
pub fn build_project(dir: &Path, force: bool) -> anyhow::Result<PathBuf> {
    let m = Manifest::read(dir)?;
    let dir = dir.canonicalize().with_context(|| format!("cannot resolve {}", dir.display()))?;
    let out = dir.join(format!("{}.wasm", m.name));
    let stamp = dir.join(".sluice-build").join("built-by");
    let me = format!("sluice {} {}", env!("CARGO_PKG_VERSION"), kit_hash(m.lang));
    if !force
        && m.lang != Lang::Rust
        && std::fs::read_to_string(&stamp).ok().as_deref() == Some(me.as_str())
        && let (Ok(built), Ok(src)) = (std::fs::metadata(&out).and_then(|x| x.modified()), newest_source(&dir, &out))
        && built >= src
    {
        eprintln!("{} is up to date", out.display());
        return Ok(out);
    }
    let started = Instant::now();
    eprintln!("building {} ({} {})", m.name, m.lang.name(), m.kind.name());
    match m.lang {
        Lang::Rust => build_rust(&dir, &m, &out)?,
        lang => {
            let kit = unpack(lang.name(), &[("", lang.kit())])?;
            let wit = unpack_wit()?;
            let status = Command::new("bash")
                .arg(kit.join("build.sh"))
                .arg(&dir)
                .arg(m.kind.name())
                .arg(&out)
                .env("SLUICE_SDK", &kit)
                .env("SLUICE_WIT", &wit)
                .env("SLUICE_TOOLCHAINS", toolchains_dir())
                .status()
                .context("cannot run bash for the kit's build.sh")?;
            if !status.success() {
                bail!("building {} failed ({status}); the build's own messages are above", dir.display());
            }
        }
    }
    let engine = PluginEngine::new(&EngineConfig::default())?;
    let i = engine.inspect(&out).with_context(|| format!("the build wrote {}, but it is not a usable plugin", out.display()))?;
    if i.kind != m.kind.name() {
        bail!("{} is a {} but {MANIFEST} says `kind = \"{}\"`", out.display(), i.kind, m.kind.name());
    }
    if let Some(parent) = stamp.parent() {
        std::fs::create_dir_all(parent)?;
        std::fs::write(&stamp, &me)?;
    }
    eprintln!("built {} ({}, {} path, {} bytes) in {:.1} s", out.display(), i.kind, i.abi, i.size, started.elapsed().as_secs_f64());
    Ok(out)
}

fn kit_hash(lang: Lang) -> String {
    contents(&[("", lang.kit()), ("wit", &WIT)]).1
}

fn build_rust(dir: &Path, m: &Manifest, out: &Path) -> anyhow::Result<()> {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    if let Ok(o) = &installed
        && !String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == "wasm32-wasip2")
    {
        eprintln!("installing the wasm32-wasip2 target (rustup target add wasm32-wasip2)");
        let s = Command::new("rustup").args(["target", "add", "wasm32-wasip2"]).status().context("cannot run rustup")?;
        if !s.success() {
            bail!("`rustup target add wasm32-wasip2` failed; run it by hand and build again");
        }
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = dir.join("target");
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    // Flags meant for a surrounding host build must not leak into the guest build.
    for var in ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET", "RUSTC_WRAPPER"] {
        cmd.env_remove(var);
    }
    let status = cmd.status().context("cannot run cargo")?;
    if !status.success() {
        bail!("cargo could not build {} ({status}); its messages are above", dir.display());
    }
    let built = target_dir.join("wasm32-wasip2/release").join(format!("{}.wasm", m.name.replace('-', "_")));
    std::fs::copy(&built, out)
        .with_context(|| format!("cargo built, but {} is missing: the crate must be named `{}` with crate-type cdylib", built.display(), m.name))?;
    Ok(())
}

/// Runs `sluice plugin build`.
///
/// # Errors
/// See [`build_project`].
pub fn build(a: BuildArgs) -> anyhow::Result<ExitCode> {
    build_project(&a.dir, a.force)?;
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `sluice new plugin`.
#[derive(Debug, Args)]
pub struct NewPluginArgs {
    /// The plugin's language.
    #[arg(long)]
    pub lang: Lang,
    /// Filter or transform.
    #[arg(long)]
    pub kind: Kind,
    /// The plugin's name (letters, digits, `-`, `_`); the project is created in a
    /// directory of this name unless `--path` says otherwise.
    pub name: String,
    /// Where to create the project.
    #[arg(long)]
    pub path: Option<PathBuf>,
}

/// The sample input every new project gets.
const SAMPLE: &str = r#"{"key":"order-1","tag":"paid","properties":{"region":"eu"},"body":{"type":"paid","order":{"id":1,"total":42}}}
{"key":"order-2","tag":"created","properties":{"region":"us"},"body":{"type":"created","order":{"id":2}}}
{"key":"order-1","tag":"refunded","properties":{"region":"eu"},"body":{"type":"refunded","order":{"id":1}}}
{"key":"text","body":"plain text, not JSON"}
{"key":"binary","body_base64":"//79AGJpbmFyeQ=="}
{"key":"empty","body":""}
"#;

/// Runs `sluice new plugin`.
///
/// # Errors
/// A bad name, an existing non-empty directory, or a write failure.
pub fn new_plugin(a: NewPluginArgs) -> anyhow::Result<ExitCode> {
    let name = &a.name;
    if name.is_empty() || name.starts_with('-') || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        bail!("plugin name {name:?}: use letters, digits, `-` and `_` (it names the directory and the .wasm file)");
    }
    let dir = a.path.clone().unwrap_or_else(|| PathBuf::from(name));
    if dir.exists() && std::fs::read_dir(&dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!("{} already exists and is not empty; choose another name or `--path`", dir.display());
    }
    let ident = name.replace('-', "_");
    let template = format!("template/{}", a.kind.name());
    let kit = a.lang.kit();
    let Some(tdir) = kit.get_dir(&template) else {
        bail!("the {} kit has no {} template (this sluice binary was built without it)", a.lang.name(), a.kind.name());
    };
    let sdk_path = if a.lang == Lang::Rust { unpack_rust_sdk()?.join("sdk/rust").display().to_string() } else { String::new() };
    let mut fs = Vec::new();
    files(tdir, &mut fs);
    for f in fs {
        let rel = f.path().strip_prefix(&template).unwrap_or(f.path());
        let rel = rel.to_string_lossy().replace("{{name}}", name).replace("{{ident}}", &ident);
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let contents = match std::str::from_utf8(f.contents()) {
            Ok(t) => t.replace("{{name}}", name).replace("{{ident}}", &ident).replace("{{sdk_path}}", &sdk_path).into_bytes(),
            Err(_) => f.contents().to_vec(),
        };
        std::fs::write(&p, contents).with_context(|| format!("cannot write {}", p.display()))?;
    }
    let (engine, config) = match (a.lang, a.kind) {
        (Lang::Js, _) => ("engine = \"qjs\"             # or \"spidermonkey\" (componentize-js)\n", ""),
        _ => ("", ""),
    };
    let config = match a.kind {
        Kind::Filter => "config = [\"property=region\", \"equals=eu\"]\n",
        Kind::Transform => config,
    };
    let manifest = format!(
        "# A Sluice plugin project: `sluice plugin build` writes {name}.wasm here;\n\
         # `sluice plugin test .` runs it over the [test] input.\n\
         name = \"{name}\"\nlang = \"{}\"\nkind = \"{}\"\n{engine}\n[test]\ninput = \"sample.jsonl\"\n{config}",
        a.lang.name(),
        a.kind.name()
    );
    std::fs::write(dir.join(MANIFEST), manifest)?;
    std::fs::write(dir.join("sample.jsonl"), SAMPLE)?;
    std::fs::write(dir.join(".gitignore"), format!("/{name}.wasm\n/.sluice-build/\n/target/\n__pycache__/\nnode_modules/\n"))?;
    println!("created {} plugin `{name}` ({}) in {}", a.kind.name(), a.lang.name(), dir.display());
    println!("next:\n  cd {}\n  sluice plugin build\n  sluice plugin test .", dir.display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kit_has_both_templates_and_a_build_script() {
        for lang in [Lang::Rust, Lang::C, Lang::Python, Lang::Js, Lang::Go] {
            for kind in ["filter", "transform"] {
                assert!(lang.kit().get_dir(format!("template/{kind}")).is_some(), "{lang:?} {kind}");
            }
            if lang != Lang::Rust {
                assert!(lang.kit().get_file("build.sh").is_some(), "{lang:?}");
            }
        }
    }

    #[test]
    fn manifests_are_checked() {
        let d = tempfile::tempdir().unwrap();
        let write = |s: &str| std::fs::write(d.path().join(MANIFEST), s).unwrap();
        write("name = \"a\"\nlang = \"python\"\nkind = \"filter\"\n");
        assert_eq!(Manifest::read(d.path()).unwrap().lang, Lang::Python);
        write("name = \"a\"\nlang = \"cobol\"\nkind = \"filter\"\n");
        assert!(Manifest::read(d.path()).unwrap_err().to_string().contains("unknown variant `cobol`"));
        write("name = \"a b\"\nlang = \"c\"\nkind = \"filter\"\n");
        assert!(Manifest::read(d.path()).unwrap_err().to_string().contains("must be letters"));
        write("name = \"a\"\nlang = \"c\"\nkind = \"filter\"\nengine = \"qjs\"\n");
        assert!(Manifest::read(d.path()).unwrap_err().to_string().contains("JavaScript plugins only"));
        write("name = \"a\"\nlang = \"c\"\nkind = \"filter\"\ncolour = 1\n");
        assert!(Manifest::read(d.path()).unwrap_err().to_string().contains("unknown field `colour`"));
        write("name = \"a\"\nlang = \"c\"\nkind = \"filter\"\n[test]\nconfig = [\"novalue\"]\n");
        assert!(format!("{:#}", Manifest::read(d.path()).unwrap_err()).contains("not `key=value`"));
    }
}
