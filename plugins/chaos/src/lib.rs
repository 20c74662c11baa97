//! `chaos`: a transform that misbehaves on request, for the runtime's failure tests.
//! Each message's body (UTF-8 text) chooses what happens:
//!
//! | body | behaviour |
//! |---|---|
//! | `trap` | executes `unreachable` (aborts) |
//! | `panic` | panics with a message |
//! | `loop` | loops forever (the deadline must stop it) |
//! | `spin:MS` | busy-waits MS milliseconds, then passes the message on |
//! | `alloc` / `alloc:MIB` | allocates 1 GiB / MIB MiB and touches it |
//! | `retry` / `reject` | returns that error |
//! | `route:DEST` | passes the message on with destination DEST |
//! | `retry-until:N` | asks for a retry while the host's reconsume count is below N |
//! | `fanout` / `fanout:N` | emits 1,000 / N outputs |
//! | `read-file` / `read-file:PATH` | tries to read `/etc/passwd` / PATH |
//! | `list-dir` | tries to list `/` and `.` |
//! | `read-env` / `read-env:NAME` | tries to read all environment variables / NAME |
//! | `connect:ADDR` | tries to open a TCP connection to ADDR |
//! | `log` | logs a line and bumps the counter `chaos_logs` |
//! | `empty` | replaces the message by one with an empty body |
//! | `big` / `big:BYTES` | replaces the message by one of 5 MiB / BYTES bytes |
//! | `malformed` | the batch's answer is cut in half (frames that do not parse) |
//! | anything else | passes the message on unchanged |
//!
//! Whatever a sandbox escape would reveal (file content, a variable, a connection) is
//! emitted as an output body, so a test that sees no such output knows access was denied;
//! a denial is answered with `reject` and the OS error.

use sluice_sdk::{Config, ConfigError, Error, Level, Message, Output, Transform, Transformed};

/// The plugin.
pub struct Chaos;

impl Transform for Chaos {
    fn init(config: &Config) -> Result<Self, ConfigError> {
        if config.get("refuse").is_some() {
            return Err(ConfigError::key("refuse", "refused on request"));
        }
        config.only(&["refuse"])?;
        Ok(Chaos)
    }

    fn transform<'a>(&'a self, msg: &Message<'a>) -> Result<Transformed<'a>, Error> {
        let cmd = msg.body_str().unwrap_or("").trim();
        let (verb, arg) = cmd.split_once(':').unwrap_or((cmd, ""));
        let leak = |what: String| Ok(Output::new().body(what.into_bytes()).into());
        match verb {
            "trap" => std::process::abort(),
            "panic" => panic!("chaos plugin panicked on request"),
            "loop" => {
                let mut n = 0u64;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "spin" => {
                let ms: u64 = arg.parse().unwrap_or(10);
                let start = std::time::Instant::now();
                while start.elapsed().as_millis() < u128::from(ms) {
                    std::hint::black_box(());
                }
                Ok(Transformed::Unchanged)
            }
            "alloc" => {
                let mib: usize = arg.parse().unwrap_or(1024);
                let mut v = vec![0u8; mib << 20];
                for i in (0..v.len()).step_by(4096) {
                    v[i] = 1;
                }
                std::hint::black_box(&v);
                Ok(Transformed::Unchanged)
            }
            "retry" => Err(Error::retry("chaos: retry requested")),
            // Asks for a retry until the host has retried N times (its reconsume count).
            "retry-until" => {
                let n: u32 = arg.parse().unwrap_or(1);
                if msg.reconsume_count() < n {
                    Err(Error::retry(format!("chaos: retry {} of {n}", msg.reconsume_count() + 1)))
                } else {
                    Ok(Transformed::Unchanged)
                }
            }
            "reject" => Err(Error::reject("chaos: reject requested")),
            "empty" => Ok(Output::new().body(Vec::new()).into()),
            "big" => Ok(Output::new().body(vec![b'x'; arg.parse().unwrap_or(5 << 20)]).into()),
            // Routes the message (unchanged otherwise) to a destination.
            "route" => Ok(msg.derive().destination(arg).into()),
            "fanout" => {
                let n: usize = arg.parse().unwrap_or(1000);
                Ok(Transformed::Many((0..n).map(|i| Output::new().body(i.to_string().into_bytes())).collect()))
            }
            "read-file" => {
                let path = if arg.is_empty() { "/etc/passwd" } else { arg };
                match std::fs::read(path) {
                    Ok(content) => leak(format!("LEAK file {path}: {} bytes", content.len())),
                    Err(e) => Err(Error::reject(format!("read-file {path} denied: {e}"))),
                }
            }
            "list-dir" => {
                for dir in ["/", "."] {
                    if let Ok(entries) = std::fs::read_dir(dir) {
                        return leak(format!("LEAK dir {dir}: {} entries", entries.count()));
                    }
                }
                Err(Error::reject("list-dir denied"))
            }
            "read-env" => {
                if arg.is_empty() {
                    let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                    if vars.is_empty() { Err(Error::reject("read-env: no variables visible")) } else { leak(format!("LEAK env: {vars:?}")) }
                } else {
                    match std::env::var(arg) {
                        Ok(v) => leak(format!("LEAK env {arg}={v}")),
                        Err(e) => Err(Error::reject(format!("read-env {arg} denied: {e}"))),
                    }
                }
            }
            "connect" => match std::net::TcpStream::connect(arg) {
                Ok(_) => leak(format!("LEAK connected to {arg}")),
                Err(e) => Err(Error::reject(format!("connect {arg} denied: {e}"))),
            },
            "log" => {
                sluice_sdk::log(Level::Info, "chaos says hello", &[("queue_offset", &msg.queue_offset().to_string())]);
                sluice_sdk::counter_add("chaos_logs", 1);
                Ok(Transformed::Unchanged)
            }
            _ => Ok(Transformed::Unchanged),
        }
    }
}

// The export `sluice_sdk::export_transform!(Chaos)` would write, plus one misbehaviour
// the SDK cannot express: a batch holding a message whose body is `malformed` gets its
// answer cut in half, so the host receives frames that do not parse.
#[doc(hidden)]
pub struct ChaosExport;

impl sluice_sdk::__transform::exports::sluice::plugin::frames_transform::Guest for ChaosExport {
    fn init(config: Vec<(String, String)>) -> Result<(), sluice_sdk::__filter::sluice::plugin::types::ConfigError> {
        sluice_sdk::__glue::init_transform::<Chaos>(config)
    }

    fn transform(
        context: sluice_sdk::__filter::sluice::plugin::types::BatchContext,
        frames: Vec<u8>,
    ) -> Result<Vec<u8>, sluice_sdk::__filter::sluice::plugin::types::PluginError> {
        let malformed = frames.windows(b"malformed".len()).any(|w| w == b"malformed");
        let mut answer = sluice_sdk::__glue::transform_export::<Chaos>(&context, &frames)?;
        if malformed {
            answer.truncate(answer.len() / 2);
        }
        Ok(answer)
    }
}

#[cfg(target_arch = "wasm32")]
sluice_sdk::__transform::__export_transform_world!(ChaosExport with_types_in sluice_sdk::__transform);

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sdk::testing::{TestMessage as M, TestOutcome as O, run_transform};

    #[test]
    fn harmless_commands_natively() {
        let out = run_transform::<Chaos>(&[], &[M::new("retry"), M::new("reject"), M::new("fanout:3"), M::new("hello")]).unwrap();
        assert!(matches!(&out[0], O::Retry(_)) && matches!(&out[1], O::Reject(_)));
        assert!(matches!(&out[2], O::Replaced(v) if v.len() == 3));
        assert_eq!(out[3], O::Unchanged);
    }
}
