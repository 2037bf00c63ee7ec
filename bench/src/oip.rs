//! The per-image cost of `POST /v2/models/{m}/infer` (Open Inference Protocol) at batch 1
//! and batch 8, next to `POST /classify` and native inference at the same batch sizes,
//! measured in the same `spinfer-bench http` run. Bodies are built as tritonclient sends
//! them (binary tensor data, `Inference-Header-Content-Length`).

use crate::http::{line, summarize, BenchArgs, Native, Summary};
use spinfer_testing::try_request;
use std::time::Instant;

/// A request body and its JSON header's length.
struct Body {
    bytes: Vec<u8>,
    header_length: String,
}

fn body(input_json: String, output_json: &str, binary: Vec<u8>) -> Body {
    let json = format!(r#"{{"inputs":[{input_json}],"outputs":[{output_json}]}}"#);
    let header_length = json.len().to_string();
    let mut bytes = json.into_bytes();
    bytes.extend(binary);
    Body { bytes, header_length }
}

/// `image` BYTES `[n]` (the photo n times), top-5 classification strings back (the work
/// `/classify` does: decode, preprocess, infer, top-5).
fn images(photo: &[u8], n: usize) -> Body {
    let binary = spinfer_oip::serialize_bytes(&vec![photo.to_vec(); n]);
    let input = format!(
        r#"{{"name":"image","datatype":"BYTES","shape":[{n}],"parameters":{{"binary_data_size":{}}}}}"#,
        binary.len()
    );
    body(input, r#"{"name":"logits","parameters":{"classification":5}}"#, binary)
}

/// `input` FP32 `[n,3,224,224]` (the tensor n times), binary logits back.
fn tensors(input_le: &[u8], n: usize) -> Body {
    let binary = input_le.repeat(n);
    let input = format!(
        r#"{{"name":"input","datatype":"FP32","shape":[{n},3,224,224],"parameters":{{"binary_data_size":{}}}}}"#,
        binary.len()
    );
    body(input, r#"{"name":"logits","parameters":{"binary_data":true}}"#, binary)
}

/// Latency of `requests` sequential requests (after 3 untimed), milliseconds.
fn series(args: &BenchArgs, path: &str, b: &Body, requests: usize) -> anyhow::Result<Summary> {
    let headers = [
        ("inference-header-content-length", b.header_length.as_str()),
        ("content-type", "application/octet-stream"),
    ];
    let mut times = Vec::with_capacity(requests);
    for i in 0..requests + 3 {
        let t = Instant::now();
        let r = try_request(args.addr, "POST", path, &headers, &b.bytes)
            .map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
        anyhow::ensure!(r.status == 200, "{path}: status {}: {}", r.status, r.text());
        if i >= 3 {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok(summarize(times))
}

/// Print the OIP series and the per-image table.
pub fn report(
    args: &BenchArgs,
    photo: &[u8],
    input_le: &[u8],
    native_p50: f64,
    classify_p50: f64,
) -> anyhow::Result<()> {
    let path = format!("/v2/models/{}/infer", args.model);
    let native = Native::load(&args.model, &args.model_file, args.intra_threads)?;
    let batch8 = input_le.repeat(8);
    native.infer_batch(8, &batch8)?; // warm-up at this shape
    let native8 = summarize(
        (0..(args.requests / 8).max(10))
            .map(|_| native.infer_batch(8, &batch8).map(|r| r.0))
            .collect::<anyhow::Result<_>>()?,
    );
    line("native inference, batch 8 (one compute)", &native8, None);
    println!("per image (p50 / batch): native inference batch 1 {native_p50:.2} ms, batch 8 {:.2} ms; POST /classify {classify_p50:.2} ms", native8.p50 / 8.0);
    for (what, n, b) in [
        ("image BYTES", 1, images(photo, 1)),
        ("image BYTES", 8, images(photo, 8)),
        ("tensor FP32", 1, tensors(input_le, 1)),
        ("tensor FP32", 8, tensors(input_le, 8)),
    ] {
        let s = series(args, &path, &b, (args.requests / n).max(10))?;
        line(&format!("POST {path}, {what}, batch {n}, concurrency 1"), &s, Some(0));
        println!(
            "  per image: {:.2} ms = {:.2}x native batch-{n} inference, {:.2}x POST /classify",
            s.p50 / n as f64,
            s.p50 / n as f64 / if n == 1 { native_p50 } else { native8.p50 / 8.0 },
            s.p50 / n as f64 / classify_p50
        );
    }
    Ok(())
}
