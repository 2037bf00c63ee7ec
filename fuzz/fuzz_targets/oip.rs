//! Open Inference Protocol request framing (oip/src/framing.rs): the body split at
//! `Inference-Header-Content-Length`, the JSON header, each input's binary slice or
//! inline data, then every accessor classify may call. Input: the header value up to the
//! first newline (an empty line: no header), then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spinfer_oip::parse_request;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(header) = std::str::from_utf8(&data[..split]) else { return };
    let body = data.get(split + 1..).unwrap_or_default();
    let header = (!header.is_empty()).then_some(header);
    let Ok(request) = parse_request(body, header) else { return };
    for input in &request.inputs {
        if let Ok(values) = input.fp32() {
            assert_eq!(values.len(), input.elements);
        }
        if let Ok(bytes) = input.fp32_le() {
            assert_eq!(bytes.len(), input.elements * 4);
        }
        if let Ok(elements) = input.bytes() {
            assert_eq!(elements.len(), input.elements);
        }
    }
});
