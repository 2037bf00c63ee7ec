//! Graceful shutdown under load, through the real binary: SIGTERM while 50 requests are
//! in flight — every one is answered 200, the listener is closed at once (a new
//! connection is refused), and the process exits 0 well within the 30 s drain limit.

mod common;

use common::{fixture, repo_root, Host};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

const IN_FLIGHT: usize = 50;

#[test]
fn sigterm_under_load_answers_every_request_and_refuses_new_ones() {
    let rc = repo_root().join("runtime-config.toml");
    let args = ["--runtime-config-file", rc.to_str().unwrap(), "--max-concurrency", "64"];
    let mut h = Host::start(&fixture("faults.toml"), &args);
    let addr = h.addr;
    let clients: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            std::thread::spawn(move || {
                common::request(addr, "GET", "/fault/sleep?ms=2000", &[], b"")
            })
        })
        .collect();
    // Let every request reach its instance (each sleeps 2 s there).
    std::thread::sleep(Duration::from_millis(800));
    let started = Instant::now();
    let pid = h.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(TcpStream::connect(addr).is_err(), "a new connection was accepted while draining");
    let statuses: Vec<u16> = clients.into_iter().map(|c| c.join().unwrap().status).collect();
    assert!(
        statuses.iter().all(|&s| s == 200),
        "not every in-flight request got 200: {statuses:?}"
    );
    let code = h.child.wait().unwrap().code();
    assert_eq!(code, Some(0));
    assert!(started.elapsed() < Duration::from_secs(30), "drain took {:?}", started.elapsed());
}
