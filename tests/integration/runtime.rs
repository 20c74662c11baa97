//! The plugin runtime through its API: every failure class gives its distinct error and
//! the runtime goes on serving; the sandbox denies files, environment and sockets unless a
//! stage grants them (and then exactly what it names); the
//! compile cache is used on a second load and ignored when engine settings differ.

use std::time::{Duration, Instant};

use bytesize::ByteSize;
use sluice::message::{Batch, Message, MessageParts, Outcome};
use sluice::plugin::{CacheStatus, CallError, EngineConfig, FailureClass, LoadError, OptLevel, PluginEngine, PluginSpec};
use sluice_test_plugins::{CHAOS, JSON_FILTER, PROPERTY_FILTER};

use crate::util::{engine, load, parts, run};

fn chaos_with(f: impl FnOnce(&mut PluginSpec)) -> sluice::plugin::Plugin {
    let mut spec = PluginSpec::new(CHAOS);
    f(&mut spec);
    engine().load(&spec).expect("load chaos")
}

fn assert_serves(plugin: &sluice::plugin::Plugin) {
    let out = run(plugin, &["ok", "fine"]).expect("the next batch is served");
    assert_eq!(out, [Outcome::Keep, Outcome::Keep]);
}

#[test]
fn every_failure_class_is_distinct_and_the_runtime_goes_on() {
    let plugin = chaos_with(|s| s.limits.deadline = Duration::from_millis(300));
    let cases = [
        ("trap", FailureClass::Trap),
        ("panic", FailureClass::Trap),
        ("loop", FailureClass::Deadline),
        ("alloc", FailureClass::Memory),
    ];
    for (body, class) in cases {
        let started = Instant::now();
        let err = run(&plugin, &["ok", body, "ok"]).expect_err(body);
        assert_eq!(err.class(), class, "{body}: {err}");
        assert!(started.elapsed() < Duration::from_secs(5), "{body} took {:?}", started.elapsed());
        assert_serves(&plugin);
    }
    let stats = plugin.stats();
    assert_eq!(stats.discarded.get("trap"), Some(&2), "{stats:?}");
    assert_eq!(stats.discarded.get("deadline"), Some(&1), "{stats:?}");
    assert_eq!(stats.discarded.get("memory"), Some(&1), "{stats:?}");
    assert_eq!(stats.instances_created, 5, "one fresh instance after each discarded one: {stats:?}");

    // Expected failures are data, per message, and keep the instance.
    let out = run(&plugin, &["retry", "ok", "reject"]).unwrap();
    assert!(matches!(&out[0], Outcome::Failed(f) if f.class() == FailureClass::PluginRetry));
    assert_eq!(out[1], Outcome::Keep);
    assert!(matches!(&out[2], Outcome::Failed(f) if f.class() == FailureClass::PluginReject));
    assert_eq!(plugin.stats().instances_created, 5);
}

#[test]
fn a_panic_message_reaches_the_trap_error() {
    let err = run(&chaos_with(|_| ()), &["panic"]).unwrap_err();
    let CallError::Trap { message, .. } = &err else { panic!("{err}") };
    assert!(message.contains("chaos plugin panicked on request"), "{message}");
    assert!(!message.contains("wasmtime::runtime"), "no host backtrace in the error: {message}");
}

#[test]
fn memory_limit_is_configurable() {
    let plugin = chaos_with(|s| s.limits.memory = ByteSize::mib(8));
    assert_eq!(run(&plugin, &["alloc:1"]).unwrap(), [Outcome::Keep]);
    let err = run(&plugin, &["alloc:16"]).unwrap_err();
    assert!(matches!(err, CallError::Memory { limit, .. } if limit == 8 << 20), "{err}");
    assert_eq!(run(&plugin, &["alloc:1"]).unwrap(), [Outcome::Keep]);
}

#[test]
fn deadline_interrupts_only_calls_that_overrun_it() {
    let plugin = chaos_with(|s| s.limits.deadline = Duration::from_millis(200));
    assert_eq!(run(&plugin, &["spin:20"]).unwrap(), [Outcome::Keep]);
    let started = Instant::now();
    let err = run(&plugin, &["spin:5000"]).unwrap_err();
    assert_eq!(err.class(), FailureClass::Deadline);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(200) && took < Duration::from_millis(1500), "{took:?}");
    assert!(err.to_string().contains("exceeded its deadline of 200ms"), "{err}");
}

#[test]
fn outputs_are_bounded_per_message() {
    let plugin = chaos_with(|_| ());
    let out = run(&plugin, &["fanout"]).unwrap();
    let Outcome::Replace(outputs) = &out[0] else { panic!("{out:?}") };
    assert_eq!(outputs.len(), 1000);
    assert_eq!(&outputs[999].body()[..], b"999");
    assert_eq!(outputs[999].message_id(), "m0", "outputs keep their input's message id");

    let plugin = chaos_with(|s| s.limits.max_outputs_per_message = 100);
    let err = run(&plugin, &["fanout"]).unwrap_err();
    assert_eq!(err.class(), FailureClass::InvalidOutput);
    assert!(err.to_string().contains("more than the stage's limit of 100"), "{err}");
    assert_serves(&plugin);
}

#[test]
fn init_refusal_is_a_load_error_naming_the_key() {
    let err = match engine().load(&{
        let mut s = PluginSpec::new(CHAOS);
        s.config = vec![("refuse".into(), "yes".into())];
        s
    }) {
        Ok(_) => panic!("init should refuse"),
        Err(e) => e,
    };
    let LoadError::Start { source, .. } = &err else { panic!("{err}") };
    assert_eq!(source.class(), FailureClass::InitRefused);
    assert!(matches!(&**source, CallError::InitRefused { key: Some(k), .. } if k == "refuse"), "{source}");
}

#[test]
fn sandbox_denies_files_environment_and_sockets() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let connect = format!("connect:{addr}");
    let plugin = load(CHAOS, &[]);
    let bodies = ["read-file", "read-file:/proc/self/environ", "read-file:Cargo.toml", "list-dir", "read-env", "read-env:PATH", connect.as_str()];
    let out = run(&plugin, &bodies).unwrap();
    for (body, o) in bodies.iter().zip(&out) {
        match o {
            Outcome::Failed(f) => assert_eq!(f.class(), FailureClass::PluginReject, "{body}: {f}"),
            other => panic!("{body}: the sandbox let something through: {other:?}"),
        }
    }
    assert!(matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock), "no connection may reach the listener");
}

#[test]
fn grants_open_exactly_what_the_stage_names() {
    let granted = tempfile::tempdir().unwrap();
    std::fs::write(granted.path().join("ref.txt"), "twelve bytes").unwrap();
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("secret.txt"), "no").unwrap();
    let open = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    closed.set_nonblocking(true).unwrap();
    // SAFETY: set before any thread of this test reads the environment; the names are
    // this test's own.
    unsafe {
        std::env::set_var("SLUICE_TEST_GRANTED", "visible");
        std::env::set_var("SLUICE_TEST_NOT_GRANTED", "hidden");
    }
    let plugin = chaos_with(|s| {
        s.grants.read_dirs = vec![granted.path().canonicalize().unwrap()];
        s.grants.env = vec!["SLUICE_TEST_GRANTED".into()];
        s.grants.connect = vec![open.local_addr().unwrap().to_string()];
    });
    let g = granted.path().canonicalize().unwrap();
    let allowed = [
        format!("read-file:{}/ref.txt", g.display()),
        "read-env:SLUICE_TEST_GRANTED".to_owned(),
        format!("connect:{}", open.local_addr().unwrap()),
    ];
    let denied = [
        format!("read-file:{}/secret.txt", other.path().display()),
        "read-file:/etc/passwd".to_owned(),
        "read-env:SLUICE_TEST_NOT_GRANTED".to_owned(),
        format!("connect:{}", closed.local_addr().unwrap()),
    ];
    let bodies: Vec<&str> = allowed.iter().chain(&denied).map(String::as_str).collect();
    let out = run(&plugin, &bodies).unwrap();
    let leaked = |o: &Outcome| match o {
        Outcome::Replace(v) => v.iter().map(|m| String::from_utf8_lossy(&m.body()).into_owned()).collect::<Vec<_>>().join(""),
        other => panic!("expected the plugin's report of what it reached, got {other:?}"),
    };
    assert!(leaked(&out[0]).contains("12 bytes"), "{:?}", out[0]);
    assert!(leaked(&out[1]).contains("SLUICE_TEST_GRANTED=visible"), "{:?}", out[1]);
    assert!(leaked(&out[2]).contains("connected"), "{:?}", out[2]);
    for (body, o) in denied.iter().zip(&out[3..]) {
        assert!(matches!(o, Outcome::Failed(f) if f.class() == FailureClass::PluginReject), "{body}: not denied: {o:?}");
    }
    assert!(matches!(closed.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock), "no connection may reach the closed listener");

    // A grant that cannot be given is a load error naming it.
    let mut spec = PluginSpec::new(CHAOS);
    spec.grants.env = vec!["SLUICE_TEST_SURELY_UNSET_VAR".into()];
    let e = engine().load(&spec).err().expect("refused").to_string();
    assert!(e.contains("grants.env: the environment variable SLUICE_TEST_SURELY_UNSET_VAR is not set"), "{e}");
    spec.grants.env.clear();
    spec.grants.connect = vec!["localhost:80".into()];
    let e = engine().load(&spec).err().expect("refused").to_string();
    assert!(e.contains("grants.connect: \"localhost:80\" is not an IP:port address"), "{e}");
    spec.grants.connect.clear();
    spec.grants.read_dirs = vec!["/surely/not/here".into()];
    let e = engine().load(&spec).err().expect("refused").to_string();
    assert!(e.contains("grants.read_dirs: /surely/not/here is not a directory"), "{e}");
}

#[test]
fn guest_logs_and_counters_reach_the_host() {
    let plugin = load(CHAOS, &[]);
    run(&plugin, &["log", "log", "ok"]).unwrap();
    assert_eq!(plugin.guest_counters().get("chaos_logs"), Some(&2));
}

#[test]
fn compile_cache_is_used_on_second_load_and_keyed_by_engine_settings() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = |opt| EngineConfig { cache_dir: Some(dir.path().to_owned()), opt_level: opt, ..EngineConfig::default() };
    let spec = PluginSpec::new(JSON_FILTER);
    let with = |spec: &PluginSpec| {
        let mut s = spec.clone();
        s.config = vec![("field".into(), "a".into()), ("equals".into(), "1".into())];
        s
    };
    let first = PluginEngine::new(&cfg(OptLevel::Speed)).unwrap().load(&with(&spec)).unwrap();
    assert_eq!(first.info().cache, CacheStatus::Miss);
    let second = PluginEngine::new(&cfg(OptLevel::Speed)).unwrap().load(&with(&spec)).unwrap();
    assert_eq!(second.info().cache, CacheStatus::Hit);
    let other = PluginEngine::new(&cfg(OptLevel::None)).unwrap().load(&with(&spec)).unwrap();
    assert_eq!(other.info().cache, CacheStatus::Miss, "an engine with other settings must not load that artifact");
    let files = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(files, 2, "one artifact per engine configuration");
    // A damaged artifact is recompiled, not trusted.
    for f in std::fs::read_dir(dir.path()).unwrap() {
        std::fs::write(f.unwrap().path(), b"garbage").unwrap();
    }
    let again = PluginEngine::new(&cfg(OptLevel::Speed)).unwrap().load(&with(&spec)).unwrap();
    assert_eq!(again.info().cache, CacheStatus::Miss);
    assert_eq!(run(&again, &["{\"a\":1}"]).unwrap(), [Outcome::Keep]);
}

fn wat_plugin(dir: &std::path::Path, name: &str, wat: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, wat::parse_str(wat).unwrap()).unwrap();
    path
}

#[test]
fn components_of_another_world_version_or_with_foreign_imports_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let body = r#"
        (core module $m (func (export "f")))
        (core instance $i (instantiate $m))
        (func $f (canon lift (core func $i "f")))
        (instance $inst (export "init" (func $f)))
    "#;
    let v2 = wat_plugin(dir.path(), "v2.wasm", &format!("(component {body} (export \"sluice:plugin/typed-filter@0.2.0\" (instance $inst)))"));
    let other = wat_plugin(dir.path(), "cli.wasm", &format!("(component {body} (export \"wasi:cli/run@0.2.0\" (instance $inst)))"));
    let foreign = wat_plugin(
        dir.path(),
        "vault.wasm",
        &format!("(component (import \"acme:vault/secrets@1.0.0\" (instance (export \"get\" (func)))) {body} (export \"sluice:plugin/typed-filter@0.1.0\" (instance $inst)))"),
    );
    let err = |p: &std::path::Path| match engine().load(&PluginSpec::new(p)) {
        Ok(_) => panic!("{} loaded", p.display()),
        Err(e) => e,
    };
    let e = err(&v2);
    assert!(matches!(e, LoadError::WrongVersion { .. }), "{e}");
    assert!(e.to_string().contains("contract version 0.2.0") && e.to_string().contains("v2.wasm"), "{e}");
    let e = err(&other);
    assert!(matches!(e, LoadError::UnknownWorld { .. }), "{e}");
    assert!(e.to_string().contains("wasi:cli/run@0.2.0"), "{e}");
    let e = err(&foreign);
    assert!(matches!(e, LoadError::Link { .. }), "{e}");
    assert!(e.to_string().contains("acme:vault/secrets"), "{e}");
}

#[test]
fn one_plugin_serves_many_threads_with_an_instance_each() {
    let plugin = load(PROPERTY_FILTER, &[("property", "region"), ("equals", "eu")]);
    let messages: Vec<Message> = (0..64)
        .map(|i| {
            let mut m = parts(i, "x");
            m.properties = vec![("region".into(), if i % 2 == 0 { "eu" } else { "us" }.into())];
            m.build()
        })
        .collect();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..25 {
                    let out = plugin.process(&Batch { topic: "t", queue_id: 1, messages: &messages }).unwrap();
                    assert_eq!(out.iter().filter(|o| **o == Outcome::Keep).count(), 32);
                }
            });
        }
    });
    // A batch whose frames share one buffer (as a source builds it) takes the path without
    // a host-side copy; the answers are the same.
    let shared = MessageParts::build_batch(&messages.iter().map(|m| m.to_parts()).collect::<Vec<_>>());
    assert!(Message::contiguous_frames(&shared).is_some() && Message::contiguous_frames(&messages).is_none());
    let a = plugin.process(&Batch { topic: "t", queue_id: 1, messages: &messages }).unwrap();
    let b = plugin.process(&Batch { topic: "t", queue_id: 1, messages: &shared }).unwrap();
    assert_eq!(a, b);
    let stats = plugin.stats();
    assert_eq!(stats.calls, 102);
    assert!(stats.instances_created <= 5, "{stats:?}");
}
