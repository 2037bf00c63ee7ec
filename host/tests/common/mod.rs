//! Test harness: start the real `spinfer` binary on a free loopback port and talk
//! HTTP/1.1 to it with the host's own small client (no extra dependencies, so test
//! builds reuse the host's compiled crates).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;

use serde_json::Value;
pub use spinfer::client::{request, Response};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The reference photos, tensors and top-5s (`tests/data/`, provenance in its README).
pub fn test_data() -> PathBuf {
    let dir = std::env::var_os("SPINFER_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("tests/data"));
    assert!(dir.join("images").is_dir(), "reference assets not found at {}", dir.display());
    dir
}

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// A running `spinfer up`; killed on drop.
pub struct Host {
    pub child: Child,
    pub addr: SocketAddr,
    pub stderr: mpsc::Receiver<String>,
}

/// What `spinfer up` printed when it refused to start.
pub struct StartFailure {
    pub code: Option<i32>,
    pub stderr: String,
}

fn command(manifest: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spinfer"));
    cmd.arg("up").arg("-f").arg(manifest).args(["--listen", "127.0.0.1:0"]).args(args);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

impl Host {
    pub fn start(manifest: &Path, args: &[&str]) -> Host {
        Self::try_start(manifest, args, &[])
            .unwrap_or_else(|f| panic!("spinfer did not start ({:?}):\n{}", f.code, f.stderr))
    }

    pub fn try_start(
        manifest: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Host, StartFailure> {
        let mut cmd = command(manifest, args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn spinfer");
        let (tx, stderr) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (addr_tx, addr_rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(a) = line.strip_prefix("Serving http://") {
                    let _ = addr_tx.send(a.parse::<SocketAddr>().unwrap());
                }
            }
        });
        match addr_rx.recv_timeout(Duration::from_secs(300)) {
            Ok(addr) => Ok(Host { child, addr, stderr }),
            Err(_) => {
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
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        status.code()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// ONNX Runtime's reference top-5 per shared image (tests/data/expected_<model>.json).
pub fn expected(model: &str) -> Vec<Value> {
    let text =
        std::fs::read_to_string(test_data().join(format!("expected_{model}.json"))).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()["images"].as_array().unwrap().clone()
}

/// Classify every shared image with `model` on `h`: top-1 (label, p within 0.02) and the
/// top-5 set must equal the reference.
pub fn check_model_on(h: &Host, model: &str) {
    let mut top1_hits = 0;
    for entry in expected(model) {
        let image = entry["image"].as_str().unwrap();
        let bytes = std::fs::read(test_data().join(image)).unwrap();
        let r = h.post(&format!("/classify?model={model}&top=5"), &bytes);
        assert_eq!(r.status, 200, "{image}: {}", r.text());
        let got = r.json();
        assert_eq!(got["model"], model);
        let preds = got["predictions"].as_array().unwrap();
        assert_eq!(preds.len(), 5);
        let want = entry["top5"].as_array().unwrap();
        assert_eq!(preds[0]["index"], want[0]["index"], "{model} {image} top-1: got {preds:?}");
        assert_eq!(preds[0]["label"], want[0]["label"]);
        let p_got = preds[0]["probability"].as_f64().unwrap();
        let p_want = want[0]["prob"].as_f64().unwrap();
        assert!(
            (p_got - p_want).abs() <= 0.02,
            "{model} {image}: top-1 p {p_got} vs reference {p_want}"
        );
        let set = |v: &[Value], k: &str| {
            v.iter().map(|p| p[k].as_u64().unwrap()).collect::<BTreeSet<_>>()
        };
        assert_eq!(set(preds, "index"), set(want, "index"), "{model} {image} top-5 set");
        for key in ["decode", "preprocess", "inference", "total"] {
            assert!(got["timings_ms"][key].as_f64().unwrap() >= 0.0, "timings_ms.{key}");
        }
        top1_hits += 1;
    }
    assert_eq!(top1_hits, 9);
}

/// Start-up must fail with a message naming the problem.
pub fn refuses(manifest: &std::path::Path, args: &[&str], env: &[(&str, &str)], expect: &str) {
    match Host::try_start(manifest, args, env) {
        Ok(_) => panic!("spinfer started despite: {expect}"),
        Err(f) => {
            assert_ne!(f.code, Some(0));
            assert!(f.stderr.contains(expect), "expected {expect:?} in:\n{}", f.stderr);
        }
    }
}
