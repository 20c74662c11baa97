//! Project commands, so that a fresh machine with only the Rust toolchain needs nothing
//! else: `cargo xtask test` (what CI runs), `cargo xtask plugins` (build the example
//! plugins), `cargo xtask demo` (run a plugin over sample messages).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  test              set up the wasm target and Chromium (apt), then run every test
                    (what CI runs)
  plugins [--out D] build the example plugins for wasm32-wasip2 and copy them to D
                    (default: target/plugins)
  reliability       the reliability cases at full size (100,000 messages, a 30 s sink
                    outage; CI runs them at 20,000 and 10 s), printing their figures
  bench-pipeline    end-to-end benchmarks (release build) on the embedded broker, beside a
                    plain rocketmq-rust bridge measured in the same run: throughput (no
                    plugin, Rust, Python, JS filters, 3 stages), latency at 10,000 msg/s,
                    start-up, memory, scaling over queues and stages (BENCH_MESSAGES,
                    default 200,000; BENCH_PARTS picks sections; BENCH_ROUNDS, default 3,
                    and BENCH_BODIES, default 100,1024, shape the throughput section)
  kits              build the C, Python, JavaScript and Go example plugins (plugins/<lang>/)
                    with `sluice plugin build`, installing each language's toolchain
  bench-plugins     the plugin stage benchmark (ns/msg, WASM beside native) with the
                    property filter and passthrough of every language at batch 64
  demo              build Sluice and the plugins, then run mask-pii and json-filter
                    over examples/orders.jsonl with `sluice plugin test`";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = root();
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("plugins") => {
            let out = match args.get(1).map(String::as_str) {
                Some("--out") => PathBuf::from(args.get(2).context("--out needs a directory")?),
                Some(other) => bail!("unknown argument {other:?}\n\n{USAGE}"),
                None => root.join("target/plugins"),
            };
            plugins(&out).map(|_| ())
        }
        Some("demo") => demo(),
        Some("reliability") => reliability(),
        Some("bench-pipeline") => bench_pipeline(),
        Some("kits") => {
            run(cargo().args(["build", "-p", "sluice"]))?;
            kits(&target_dir().join("debug/sluice"))
        }
        Some("bench-plugins") => bench_plugins(),
        Some("-h" | "--help" | "help") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_owned()
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    eprintln!("+ {cmd:?}");
    let status = cmd.status().with_context(|| format!("cannot run {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Installs the wasm32-wasip2 standard library if it is missing.
fn wasm_target() -> anyhow::Result<()> {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    match installed {
        Ok(o) if String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == "wasm32-wasip2") => Ok(()),
        Ok(_) => run(Command::new("rustup").args(["target", "add", "wasm32-wasip2"])),
        Err(e) => bail!("cannot run rustup ({e}); install the wasm32-wasip2 target of your Rust toolchain by hand"),
    }
}

/// Installs Debian's Chromium (for the status page test) if no browser is there yet.
fn chromium() -> anyhow::Result<()> {
    if std::env::var_os("SLUICE_CHROMIUM").is_some() || Path::new("/usr/bin/chromium").exists() {
        return Ok(());
    }
    let root = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false);
    let apt = |args: &[&str]| -> anyhow::Result<()> {
        let mut c = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.args(["-n", "apt-get"]);
            c
        };
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut c)
    };
    let installed = apt(&["install", "-y", "-q", "chromium"]).or_else(|_| {
        apt(&["update", "-q"])?;
        apt(&["install", "-y", "-q", "chromium"])
    });
    installed.context(
        "the status page test needs Chromium and installing Debian's `chromium` package failed; \
         install it (apt-get install chromium) or set SLUICE_CHROMIUM to a Chromium binary",
    )
}

fn test() -> anyhow::Result<()> {
    wasm_target()?;
    chromium()?;
    // Build everything first, with the network (the registry) at hand…
    run(cargo().args(["test", "--workspace", "--all-targets", "--no-run"]))?;
    run(cargo().args(["test", "--manifest-path", "plugins/Cargo.toml", "--no-run"]))?;
    // The language kits' toolchains come from PyPI, npm, apt and crates.io: install them and
    // build the example plugins now; the tests rebuild offline what changed.
    kits(&target_dir().join("debug/sluice"))?;
    // …then run the tests in a loopback-only network namespace: the tests start
    // rocketmq-rust name servers, and the 1.0.0 name server connects to the machine's first
    // non-loopback address unless it sees none. Doc tests and the plugins' unit tests start
    // no server but run there too, offline, for one uniform run.
    let mut totals = (0u64, 0u64);
    for args in [
        &["test", "--offline", "--workspace", "--all-targets"][..],
        &["test", "--offline", "--workspace", "--doc"][..],
        &["test", "--offline", "--manifest-path", "plugins/Cargo.toml"][..],
    ] {
        // The end-to-end benchmark's check run includes the Python and JavaScript filters.
        let (passed, failed) = run_tests(loopback_only(args)?.env("SLUICE_BENCH_KITS", root().join("plugins")))?;
        totals.0 += passed;
        totals.1 += failed;
    }
    // One closing line for the whole run (cargo's last line is often a crate without tests).
    println!("{} passed, {} failed", totals.0, totals.1);
    Ok(())
}

/// The reliability cases (tests/integration/reliability.rs) at the sizes, one at a
/// time, with their FIGURES lines shown.
fn reliability() -> anyhow::Result<()> {
    wasm_target()?;
    run(cargo().args(["test", "-p", "sluice", "--test", "integration", "--no-run"]))?;
    let mut cmd = loopback_only(&[
        "test",
        "--offline",
        "-p",
        "sluice",
        "--test",
        "integration",
        "reliability::",
        "--",
        "--test-threads",
        "1",
        "--nocapture",
    ])?;
    cmd.env("SLUICE_RELIABILITY_MESSAGES", "100000").env("SLUICE_RELIABILITY_OUTAGE", "30s");
    let (_, failed) = run_tests(&mut cmd)?;
    if failed > 0 {
        bail!("{failed} reliability case(s) failed");
    }
    Ok(())
}

/// The end-to-end benchmark (host/benches/pipeline_e2e.rs), release build, on loopback.
fn bench_pipeline() -> anyhow::Result<()> {
    wasm_target()?;
    run(cargo().args(["bench", "-p", "sluice", "--bench", "pipeline_e2e", "--no-run"]))?;
    // The Python and JavaScript filters' rows need their kits' builds.
    kits(&target_dir().join("release/sluice"))?;
    let mut cmd = loopback_only(&["bench", "--offline", "-p", "sluice", "--bench", "pipeline_e2e"])?;
    run(cmd.env("SLUICE_BENCH_KITS", root().join("plugins")))
}

/// The languages with a kit under `sdk/` besides Rust, as `plugins/<lang>/` names them.
const KIT_LANGS: [&str; 4] = ["c", "python", "js", "go"];

/// Builds every plugin project under `plugins/<lang>/` with `sluice plugin build`, which
/// installs the language's toolchain under `~/.cache/sluice/toolchains` on first use.
fn kits(sluice: &Path) -> anyhow::Result<()> {
    for lang in KIT_LANGS {
        let dir = root().join("plugins").join(lang);
        let mut projects: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("sluice-plugin.toml").is_file())
            .collect();
        projects.sort();
        for p in projects {
            run(Command::new(sluice).args(["plugin", "build"]).arg(&p))?;
        }
    }
    Ok(())
}

/// The plugin stage benchmark with every language's property filter and passthrough.
fn bench_plugins() -> anyhow::Result<()> {
    wasm_target()?;
    run(cargo().args(["build", "-p", "sluice"]))?;
    kits(&target_dir().join("debug/sluice"))?;
    run(cargo().args(["bench", "-p", "sluice", "--bench", "plugin_stage"]).env("SLUICE_BENCH_KITS", root().join("plugins")))
}

/// `cargo ARGS` inside a new network namespace that has only loopback, up. Uses a user
/// namespace (`unshare -rn`) so that it also works without root where user namespaces
/// are allowed.
fn loopback_only(args: &[&str]) -> anyhow::Result<Command> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = loopback_only_program(Path::new(&cargo))?;
    cmd.args(args);
    Ok(cmd)
}

/// `PROGRAM` inside a loopback-only network namespace (see [`loopback_only`]).
fn loopback_only_program(program: &Path) -> anyhow::Result<Command> {
    let probe = Command::new("unshare").args(["-rn", "true"]).output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(o) => bail!(
            "cannot create a loopback-only network namespace (`unshare -rn` failed: {}); the tests \
             start RocketMQ name servers, which must not see a non-loopback network. Run as root \
             or enable unprivileged user namespaces.",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => bail!("cannot run `unshare` (util-linux) to isolate the tests on loopback: {e}"),
    }
    let mut cmd = Command::new("unshare");
    cmd.args(["-rn", "sh", "-c", "ip link set lo up && exec \"$@\"", "sh"]).arg(program);
    Ok(cmd)
}

/// Runs a `cargo test` command, passing its output through, and adds up its
/// `test result:` lines.
fn run_tests(cmd: &mut Command) -> anyhow::Result<(u64, u64)> {
    use std::io::{BufRead, BufReader};
    eprintln!("+ {cmd:?}");
    let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().with_context(|| format!("cannot run {cmd:?}"))?;
    let (mut passed, mut failed) = (0, 0);
    let count = |line: &str, what: &str| -> u64 {
        line.split(';')
            .find_map(|part| part.trim().strip_suffix(what).and_then(|n| n.trim().rsplit(' ').next()?.parse().ok()))
            .unwrap_or(0)
    };
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line?;
        println!("{line}");
        if line.starts_with("test result:") {
            passed += count(&line, "passed");
            failed += count(&line, "failed");
        }
    }
    let status = child.wait()?;
    if !status.success() {
        println!("{passed} passed, {} failed", failed.max(1));
        bail!("{cmd:?} failed with {status}");
    }
    Ok((passed, failed))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

fn plugins(out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    wasm_target()?;
    let target = target_dir().join("sluice-plugins");
    run(cargo()
        .args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path", "plugins/Cargo.toml", "--target-dir"])
        .arg(&target))?;
    std::fs::create_dir_all(out)?;
    let mut copied = Vec::new();
    for entry in std::fs::read_dir(target.join("wasm32-wasip2/release"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wasm") {
            let dest = out.join(path.file_name().expect("file name").to_string_lossy().replace('_', "-"));
            std::fs::copy(&path, &dest)?;
            copied.push(dest);
        }
    }
    copied.sort();
    for p in &copied {
        println!("{}", p.display());
    }
    Ok(copied)
}

fn demo() -> anyhow::Result<()> {
    let out = root().join("target/plugins");
    plugins(&out)?;
    // The dev profile: its dependencies are the ones the tests build (optimised), so the
    // demo and the tests share one build.
    run(cargo().args(["build", "-p", "sluice"]))?;
    let sluice = target_dir().join("debug/sluice");
    let config = root().join("examples/quickstart.toml");
    let archive = root().join("target/quickstart-paid.jsonl");
    // The file sink appends: start this run's file afresh.
    let _ = std::fs::remove_file(&archive);
    println!("\n== sluice dev --config examples/quickstart.toml (20 s; embedded broker on loopback)");
    // The embedded name server must not see a non-loopback network on these machines.
    let mut cmd = loopback_only_program(&sluice)?;
    cmd.arg("dev").arg("--config").arg(&config).args(["--duration", "20s"]);
    run(&mut cmd)?;
    if let Ok(text) = std::fs::read_to_string(&archive) {
        println!("\n== {} ({} lines); the first:", archive.display(), text.lines().count());
        for line in text.lines().take(3) {
            println!("{line}");
        }
    }
    Ok(())
}
