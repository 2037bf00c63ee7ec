//! `decoders NAME < FILE` — candidate decoders timed on the same bytes (read from stdin, so
//! a Wasm build needs no preopened directory), to pick the ones the pipeline uses. Built
//! for wasm32-wasip2 and run under `wasmtime run` it measures them where classify runs
//! them (scripts/decoders.sh runs both builds); native builds work too. Prints the median
//! of 15 runs per decoder.

use std::time::Instant;

fn median_ms(mut f: impl FnMut() -> usize) -> (f64, usize) {
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..15 {
        let t = Instant::now();
        size = std::hint::black_box(f());
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], size)
}

fn main() {
    let name = std::env::args().nth(1).unwrap_or_else(|| "stdin".into());
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).expect("read stdin");
    {
        let row = |label: &str, f: &mut dyn FnMut() -> usize| {
            let (ms, size) = median_ms(f);
            println!("{name:28} {label:34} {ms:8.2} ms  ({size} bytes out)");
        };
        if bytes.starts_with(&[0xFF, 0xD8]) {
            row("image (zune-jpeg), full", &mut || {
                image::load_from_memory(&bytes).unwrap().to_rgb8().len()
            });
            for eighths in [4u32, 2, 1] {
                let label = format!("spinfer-pipeline, {eighths}/8 scale");
                row(&label, &mut || {
                    spinfer_pipeline::jpeg::decode_reduced(&bytes, eighths).unwrap().len()
                });
            }
            for eighths in [8u16, 4, 2, 1] {
                let label = format!("jpeg-decoder, {eighths}/8 scale");
                row(&label, &mut || {
                    let mut d = jpeg_decoder::Decoder::new(&bytes[..]);
                    d.read_info().unwrap();
                    let info = d.info().unwrap();
                    let (w, h) = (info.width * eighths / 8, info.height * eighths / 8);
                    d.scale(w.max(1), h.max(1)).unwrap();
                    d.decode().unwrap().len()
                });
            }
        } else if bytes.starts_with(b"\x89PNG") {
            row("image (png crate)", &mut || {
                image::load_from_memory(&bytes).unwrap().to_rgb8().len()
            });
            row("zune-png", &mut || {
                let mut d = zune_png::PngDecoder::new(
                    zune_png::zune_core::bytestream::ZCursor::new(&bytes[..]),
                );
                match d.decode().unwrap() {
                    zune_png::zune_core::result::DecodingResult::U8(v) => v.len(),
                    _ => 0,
                }
            });
        }
    }
}
