//! The front door's connection limits through the real binary, bounded and on loopback:
//! slowloris clients (headers at 1 byte per second) are cut off at the header timeout,
//! idle keep-alive connections at the idle timeout, connections over the cap get a 503,
//! and a normal client keeps getting 200s all along.

mod common;

use common::{fixture, repo_root, Host};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const HEALTH: &str = "/.well-known/spin/health";

fn host(extra: &[&str]) -> Host {
    let rc = repo_root().join("runtime-config.toml");
    let mut args = vec!["--runtime-config-file", rc.to_str().unwrap()];
    args.extend_from_slice(extra);
    Host::start(&fixture("faults.toml"), &args)
}

/// Seconds until the server closes `s` (read returns 0 or an error), at most `limit`.
fn closed_after(mut s: TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return None,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return None,
            Err(_) => return Some(started.elapsed()),
        }
    }
}

#[test]
fn slow_and_idle_connections_are_closed_while_others_are_served() {
    // Different timeouts, so each close shows which limit made it.
    let h = host(&["--header-timeout-ms", "1000", "--idle-timeout-ms", "1800"]);
    let addr = h.addr;
    // Slowloris: one byte of headers a second, never finishing.
    let slow: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
                let started = Instant::now();
                let mut buf = [0u8; 512];
                for b in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa".iter() {
                    if s.write_all(&[*b]).is_err() {
                        break;
                    }
                    // A second between bytes; a read that ends early means closed.
                    match s.read(&mut buf) {
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) => {}
                        _ => break,
                    }
                }
                started.elapsed()
            })
        })
        .collect();
    // Idle keep-alive: one request answered, then nothing.
    let idle: Vec<_> = (0..8)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            write!(s, "GET {HEALTH} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut buf = [0u8; 512];
            let n = s.read(&mut buf).unwrap();
            assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
            std::thread::spawn(move || closed_after(s, Duration::from_secs(5)))
        })
        .collect();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        assert_eq!(h.get(HEALTH).status, 200, "a normal client was not served");
        std::thread::sleep(Duration::from_millis(100));
    }
    for t in slow {
        let took = t.join().unwrap();
        eprintln!("slowloris closed after {took:?}");
        // Held until the header timeout (1 s), not refused outright, and not longer.
        assert!(took >= Duration::from_millis(900), "closed before the timeout: {took:?}");
        assert!(took < Duration::from_millis(3500), "slowloris connection held {took:?}");
    }
    for t in idle {
        let took = t.join().unwrap().expect("idle connection never closed");
        eprintln!("idle closed after {took:?}");
        assert!(took >= Duration::from_millis(1700), "closed before the idle timeout: {took:?}");
        assert!(took < Duration::from_millis(3000), "idle connection held {took:?}");
    }
}

#[test]
fn connections_over_the_cap_get_503() {
    let h = host(&["--max-connections", "2", "--idle-timeout-ms", "10000"]);
    let held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(h.addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let r = h.get(HEALTH);
    assert_eq!((r.status, r.error_code().as_str()), (503, "overloaded"), "{}", r.text());
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(h.get(HEALTH).status, 200);
}

/// Read one response (head + `Content-Length` body) from a keep-alive connection: its
/// status, or `None` when the server closed or reset the connection instead.
fn read_response(s: &mut TcpStream) -> Option<u16> {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => raw.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    head.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn host_answers_to_requests_with_bodies_keep_the_connection() {
    // The host answers these itself (health route, no route): the body it never needed
    // must still be read, or the client's next request on the same keep-alive
    // connection meets a closed socket.
    let h = host(&[]);
    let body = vec![b'x'; 200_000];
    for (path, status) in [(HEALTH, 200), ("/no-such-route", 404)] {
        let mut s = TcpStream::connect(h.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", body.len())
            .unwrap();
        s.write_all(&body).unwrap();
        assert_eq!(read_response(&mut s), Some(status), "POST {path}");
        write!(s, "GET {HEALTH} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(read_response(&mut s), Some(200), "the next request after POST {path}");
    }
}
