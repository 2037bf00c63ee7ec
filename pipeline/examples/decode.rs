//! `decode` — time what classify calls "decode" (`decode_for_resize`: the truncation
//! check, the header caps, the choice of scale, the reduced-scale JPEG decode, EXIF) on one
//! photo per request, for the decoder benchmark in `make bench` (scripts/decode_bench.py).
//! The same source is built natively and for wasm32-wasip2 (run under spinfer's own
//! wasmtime engine by `spinfer-bench wasm`), so both sides time the same code.
//!
//! Each request on stdin is a line `LENGTH [REPEATS]` followed by LENGTH bytes of image
//! (so the Wasm build needs no filesystem); the answer is one line,
//! `ms_1 … ms_REPEATS WIDTHxHEIGHT SHA256` (the times of each decode in milliseconds, the
//! output size, a hash of the RGB bytes: native and Wasm must agree to the byte) or
//! `error MESSAGE`.

use sha2::{Digest, Sha256};
use spinfer_pipeline::{decode_for_resize, DecodeLimits, RESIZE};
use std::io::{BufRead, Read, Write};
use std::time::Instant;

fn answer(bytes: &[u8], repeats: usize) -> String {
    let mut times = Vec::with_capacity(repeats);
    let mut last = None;
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let decoded = decode_for_resize(bytes, DecodeLimits::default(), RESIZE);
        times.push(format!("{:.4}", t.elapsed().as_secs_f64() * 1e3));
        match decoded {
            Ok(d) => last = Some(d),
            Err(e) => return format!("error {e}"),
        }
    }
    let image = last.expect("at least one decode").image;
    let hash: String = Sha256::digest(image.as_raw()).iter().map(|b| format!("{b:02x}")).collect();
    format!("{} {}x{} {hash}", times.join(" "), image.width(), image.height())
}

fn main() {
    let (stdin, stdout) = (std::io::stdin(), std::io::stdout());
    let (mut input, mut out) = (stdin.lock(), stdout.lock());
    let mut line = String::new();
    while input.read_line(&mut line).expect("stdin") > 0 {
        let mut parts = line.split_whitespace().map(|p| p.parse::<usize>());
        let (Some(Ok(length)), repeats) = (parts.next(), parts.next()) else {
            panic!("bad request line {line:?}");
        };
        let mut bytes = vec![0u8; length];
        input.read_exact(&mut bytes).expect("image bytes");
        let answer = answer(&bytes, repeats.and_then(Result::ok).unwrap_or(1));
        writeln!(out, "{answer}").and_then(|()| out.flush()).expect("stdout");
        line.clear();
    }
}
