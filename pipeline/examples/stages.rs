//! `stages` — time the pipeline's two image stages natively, one image per request, for
//! the Wasm-tax comparison in `make bench` (loadtest/fastpath.py): the same code that
//! classify.wasm runs, built for the host. Reads one image path per line on stdin and
//! answers each with one line `decode_ms preprocess_ms` (or `error <message>`), so the
//! caller can interleave native and in-Wasm runs request by request.

use spinfer_pipeline::{decode_for_resize, model_input_bytes, DecodeLimits, MODELS, RESIZE};
use std::io::{BufRead, Write};
use std::time::Instant;

fn main() {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in std::io::stdin().lock().lines() {
        let path = line.expect("stdin");
        let answer = match std::fs::read(path.trim()) {
            Err(e) => format!("error {e}"),
            Ok(bytes) => {
                let t0 = Instant::now();
                match decode_for_resize(&bytes, DecodeLimits::default(), RESIZE) {
                    Err(e) => format!("error {e}"),
                    Ok(decoded) => {
                        let t1 = Instant::now();
                        let input = model_input_bytes(&decoded, &MODELS[0]);
                        let t2 = Instant::now();
                        std::hint::black_box(input);
                        let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
                        format!("{:.4} {:.4}", ms(t0, t1), ms(t1, t2))
                    }
                }
            }
        };
        writeln!(out, "{answer}").and_then(|()| out.flush()).expect("stdout");
    }
}
