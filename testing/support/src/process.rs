//! Child processes for tests: `spinfer up` on a free loopback port, awaited until it
//! prints the line it serves on, and killed however the test ends.

use crate::client::{request, Response};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The line `spinfer up` prints once it accepts requests, followed by the address.
pub const SERVING: &str = "Serving http://";

/// A loopback port that was free a moment ago (for listeners that cannot take port 0).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port()
}

/// The `spinfer` binary: `SPINFER_BIN`, else the one cargo built beside the running
/// test (`target/<profile>/spinfer`, next to `target/<profile>/deps/<test>`).
pub fn spinfer_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("SPINFER_BIN") {
        return bin.into();
    }
    let exe = std::env::current_exe().expect("current test executable");
    let profile = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>");
    profile.join("spinfer")
}

/// Stops a child process however the test ends.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines of `stream`, sent one by one on the returned channel from a reader thread.
pub(crate) fn lines(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The address in the first [`SERVING`] line of `stdout`, waiting at most `timeout`.
pub fn wait_for_serving(
    stdout: impl Read + Send + 'static,
    timeout: Duration,
) -> Option<SocketAddr> {
    let rx = lines(stdout);
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.checked_duration_since(std::time::Instant::now())?;
        let line = rx.recv_timeout(left).ok()?;
        if let Some(addr) = line.strip_prefix(SERVING) {
            // Keep draining stdout so the child never blocks on a full pipe.
            std::thread::spawn(move || for _ in rx {});
            return addr.trim().parse().ok();
        }
    }
}

/// A running `spinfer up`; killed on drop.
pub struct Spinfer {
    pub child: Child,
    pub addr: SocketAddr,
    pub stderr: mpsc::Receiver<String>,
    /// The child leads its own process group, stopped as a whole (`spin up`).
    pub group: bool,
}

/// What `spinfer up` printed when it refused to start.
pub struct StartFailure {
    pub code: Option<i32>,
    pub stderr: String,
}

impl Spinfer {
    /// `spinfer up -f manifest --listen 127.0.0.1:0 args…`; panics if it does not start.
    pub fn start(manifest: &Path, args: &[&str]) -> Spinfer {
        Self::try_start(manifest, args, &[])
            .unwrap_or_else(|f| panic!("spinfer did not start ({:?}):\n{}", f.code, f.stderr))
    }

    pub fn try_start(
        manifest: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Spinfer, StartFailure> {
        let mut cmd = Command::new(spinfer_bin());
        cmd.arg("up").arg("-f").arg(manifest).args(["--listen", "127.0.0.1:0"]).args(args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.envs(env.iter().copied());
        let mut child = cmd.spawn().expect("spawn spinfer");
        let stderr = lines(child.stderr.take().expect("piped stderr"));
        let stdout = child.stdout.take().expect("piped stdout");
        match wait_for_serving(stdout, Duration::from_secs(300)) {
            Some(addr) => Ok(Spinfer { child, addr, stderr, group: false }),
            None => {
                let _ = child.kill();
                let code = child.wait().ok().and_then(|s| s.code());
                // The child has exited: read its stderr to the end (the reader thread may
                // still be catching up), bounded in case a grandchild kept the pipe open.
                let mut lines = Vec::new();
                while let Ok(line) = stderr.recv_timeout(Duration::from_secs(5)) {
                    lines.push(line);
                }
                Err(StartFailure { code, stderr: lines.join("\n") })
            }
        }
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        request(self.addr, method, path, headers, body)
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], b"")
    }

    pub fn post(&self, path: &str, body: &[u8]) -> Response {
        self.request("POST", path, &[], body)
    }

    /// Send SIGTERM and wait for the exit code.
    pub fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        let status = self.child.wait().expect("wait for spinfer");
        status.code()
    }
}

impl Drop for Spinfer {
    fn drop(&mut self) {
        if self.group {
            stop_group(&mut self.child);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Stop a child that leads its own process group, and everything in it: `spin up` serves
/// from a `spin trigger http` child that outlives a SIGKILL of its parent. SIGTERM to the
/// group (Spin stops its trigger), SIGKILL to whatever is left after 10 s.
pub(crate) fn stop_group(child: &mut Child) {
    let group = format!("-{}", child.id());
    let _ = Command::new("kill").args(["-TERM", "--", &group]).stderr(Stdio::null()).status();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
    let _ = child.wait();
}
