//! The frontend's upload parsing (frontend/src/upload.rs): `POST /api/classify` with a
//! Content-Type and a body, as multipart/form-data, JSON `{"url":…}` or raw bytes. Input:
//! the Content-Type up to the first newline, then the body. Every outcome is an Upload or
//! an UploadError with a stable code. The module is compiled here from its source file
//! (it is pure parsing; the frontend crate itself links a wasi:http export).
#![no_main]

#[allow(dead_code)]
#[path = "../../frontend/src/upload.rs"]
mod upload;

use libfuzzer_sys::fuzz_target;
use upload::{parse, Upload};

const CODES: [&str; 5] = ["bad_multipart", "empty_body", "missing_file", "bad_json", "missing_url"];

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(content_type) = std::str::from_utf8(&data[..split]) else { return };
    let body = data.get(split + 1..).unwrap_or_default().to_vec();
    let len = body.len();
    match parse(Some(content_type), body) {
        Ok(Upload::Bytes(bytes)) => assert!(bytes.len() <= len),
        Ok(Upload::Url(url)) => assert!(!url.is_empty() && url.len() <= len),
        Err(e) => assert!(CODES.contains(&e.code), "unknown code {:?}", e.code),
    }
});
