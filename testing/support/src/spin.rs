//! The real Spin CLI (`spin up`) as a test server, beside `spinfer up`: found by
//! `scripts/spin.sh` (SPIN_BIN, then PATH),
//! run on a free loopback port with a private HOME and state directory (its component
//! logs land there), so it neither touches the user's Spin set-up nor writes into the app
//! directory.

use crate::process::{lines, stop_group, wait_for_serving, Spinfer, StartFailure};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The build cache (`SPINFER_CACHE`, as the Makefile exports it).
fn cache() -> PathBuf {
    std::env::var_os("SPINFER_CACHE").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/spinfer")
    })
}

/// The Spin CLI, or why there is none (looked up once per test binary).
pub fn find_spin() -> Result<PathBuf, String> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let out = Command::new("bash")
                .arg(repo_root().join("scripts/spin.sh"))
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run scripts/spin.sh: {e}"))?;
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            if !out.status.success() {
                return Err(stderr);
            }
            Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
        .clone()
}

/// Report a skipped case on the terminal: cargo's test harness captures `eprintln!`, not
/// writes to the stderr handle itself, so `make test` shows the line.
pub fn report_skip(case: &str, reason: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {case}: {reason}");
}

/// `spin up -f manifest` on a free loopback port (Spin cannot take port 0: it prints the
/// address it was given), with `env` added. Ok(None) where no Spin is found (the reason
/// already reported for `case`).
pub fn start_spin(
    case: &str,
    manifest: &Path,
    env: &[(&str, &str)],
) -> Result<Option<Spinfer>, StartFailure> {
    let spin = match find_spin() {
        Ok(spin) => spin,
        Err(reason) => {
            report_skip(case, &reason);
            return Ok(None);
        }
    };
    // A private, persistent HOME: Spin's wasmtime cache lives there between runs (the
    // portable classify compiles once), the user's ~/.spin and ~/.cache are untouched.
    let home = cache().join("spin-home");
    std::fs::create_dir_all(&home).expect("create Spin's private HOME");
    let port = crate::free_port();
    let mut cmd = Command::new(spin);
    cmd.arg("up").arg("-f").arg(manifest);
    cmd.args(["--listen", &format!("127.0.0.1:{port}")]).arg("--state-dir").arg(home.join("state"));
    cmd.env("HOME", &home)
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that stopping it stops its trigger child too.
        .process_group(0);
    let mut child = cmd.spawn().expect("spawn spin");
    let stderr = lines(child.stderr.take().expect("piped stderr"));
    let stdout = child.stdout.take().expect("piped stdout");
    match wait_for_serving(stdout, Duration::from_secs(300)) {
        Some(addr) => Ok(Some(Spinfer { child, addr, stderr, group: true })),
        None => {
            stop_group(&mut child);
            let code = child.wait().ok().and_then(|s| s.code());
            let mut lines = Vec::new();
            while let Ok(line) = stderr.recv_timeout(Duration::from_secs(5)) {
                lines.push(line);
            }
            Err(StartFailure { code, stderr: lines.join("\n") })
        }
    }
}
