//! The framing parser on well-formed and hostile bodies: every refusal is an `OipError`
//! (never a panic, never an allocation the body did not pay for).

use spinfer_oip::*;

fn framed(json: &str, tail: &[u8]) -> (Vec<u8>, String) {
    let mut body = json.as_bytes().to_vec();
    body.extend_from_slice(tail);
    (body, json.len().to_string())
}

fn fp32_le(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn binary_fp32_and_bytes_inputs_in_order() {
    let json = r#"{"id":"7","inputs":[
        {"name":"a","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}},
        {"name":"b","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":13}}]}"#;
    let mut tail = fp32_le(&[1.5, -2.0]);
    tail.extend(serialize_bytes(&[b"abc".to_vec(), b"de".to_vec()]));
    let (body, h) = framed(json, &tail);
    let req = parse_request(&body, Some(&h)).unwrap();
    assert_eq!(req.id.as_deref(), Some("7"));
    assert_eq!(req.inputs[0].fp32().unwrap(), vec![1.5, -2.0]);
    assert_eq!(req.inputs[1].bytes().unwrap(), vec![b"abc".to_vec(), b"de".to_vec()]);
}

#[test]
fn json_data_nested_or_flat() {
    for data in ["[[1,2,3],[4,5,6]]", "[1,2,3,4,5,6]"] {
        let json = format!(
            r#"{{"inputs":[{{"name":"x","shape":[2,3],"datatype":"FP32","data":{data}}}],
                "parameters":{{"binary_data_output":true}}}}"#
        );
        let req = parse_request(json.as_bytes(), None).unwrap();
        assert!(req.binary_output);
        assert_eq!(req.inputs[0].fp32().unwrap(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }
}

fn refuse(body: &[u8], header: Option<&str>) -> OipError {
    match parse_request(body, header) {
        Err(e) => e,
        Ok(req) => req
            .inputs
            .iter()
            .find_map(|i| if i.datatype == "BYTES" { i.bytes().err() } else { i.fp32().err() })
            .expect("should have been refused"),
    }
}

/// A body and its `Inference-Header-Content-Length`, if any.
type Framed = (Vec<u8>, Option<String>);

fn binary_input(shape: &str, size: &str, tail: &[u8]) -> Framed {
    let json = format!(
        r#"{{"inputs":[{{"name":"x","shape":{shape},"datatype":"FP32",
            "parameters":{{"binary_data_size":{size}}}}}]}}"#
    );
    let (b, h) = framed(&json, tail);
    (b, Some(h))
}

#[test]
fn hostile_bodies_are_refused_with_400() {
    let plain = |s: &str| (s.as_bytes().to_vec(), None);
    let with_header = |s: &str, h: &str| (s.as_bytes().to_vec(), Some(h.to_owned()));
    let cases: Vec<(Framed, &str)> = vec![
        (plain("{not json"), "malformed"),
        (plain(""), "malformed"),
        (plain(r#"{"inputs":[]}"#), "no inputs"),
        // Header length past the end, negative, overflowing.
        (with_header("{}", "3"), "past the end"),
        (with_header("{}", "-1"), "non-negative"),
        (with_header("{}", "99999999999999999999999"), "non-negative"),
        // Truncated body: the binary part is shorter than binary_data_size.
        (binary_input("[1,2]", "8", &[0; 5]), "past the end"),
        // Negative and overflowing sizes.
        (binary_input("[1,2]", "-8", &[0; 8]), "non-negative"),
        (binary_input("[1,2]", "18446744073709551615", &[0; 8]), "past the end"),
        (binary_input("[1,2]", "1e3", &[0; 8]), "non-negative"),
        (binary_input("[1,-2]", "8", &[0; 8]), "negative dimension"),
        (binary_input("[4294967296,4294967296,4294967296]", "8", &[0; 8]), "overflows"),
        // The product fits usize but × 4 bytes does not.
        (binary_input("[4611686018427387904]", "8", &[0; 8]), "bytes of FP32 data"),
        // Byte count ≠ shape, leftover bytes.
        (binary_input("[1,3]", "8", &[0; 8]), "bytes of FP32 data"),
        (binary_input("[1,2]", "8", &[0; 12]), "follow the last"),
        // JSON count and type mismatches, no data at all.
        (
            plain(r#"{"inputs":[{"name":"x","shape":[3],"datatype":"FP32","data":[1,2]}]}"#),
            "2 elements",
        ),
        (
            plain(r#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":["a"]}]}"#),
            "not a number",
        ),
        (plain(r#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]}"#), "no data"),
    ];
    for ((body, header), needle) in cases {
        let e = refuse(&body, header.as_deref());
        assert_eq!(e.status(), 400, "{e}");
        assert!(e.to_string().contains(needle), "{e:?} lacks {needle:?}");
    }
}

#[test]
fn bytes_elements_truncated_or_miscounted() {
    let mut long = serialize_bytes(&[b"abc".to_vec()]);
    long[0] = 200; // claims 200 bytes, has 3
    let cases: [(Vec<u8>, &str); 4] = [
        (long, "truncated"),
        (vec![1, 0], "truncated"),
        (serialize_bytes(&[b"a".to_vec()]), "1 elements"),
        (serialize_bytes(&[b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]), "elements for shape"),
    ];
    for (tail, needle) in cases {
        let json = format!(
            r#"{{"inputs":[{{"name":"b","shape":[2],"datatype":"BYTES",
                "parameters":{{"binary_data_size":{}}}}}]}}"#,
            tail.len()
        );
        let (body, h) = framed(&json, &tail);
        let e = refuse(&body, Some(&h));
        assert!(e.to_string().contains(needle), "{e} lacks {needle:?}");
    }
}

#[test]
fn response_binary_and_json() {
    let labels = ["a", "b"];
    let outputs = vec![
        Output {
            name: "l".into(),
            shape: vec![1, 2],
            data: OutputData::Fp32(vec![1.0, 2.0]),
            binary: true,
        },
        Output {
            name: "c".into(),
            shape: vec![1, 1],
            data: OutputData::Bytes(classification(&[1.0, 2.0], 1, &labels)),
            binary: false,
        },
    ];
    let enc = encode_response("m", Some("1"), Some("x".into()), outputs);
    let h = enc.header_length.unwrap();
    let head: InferResponse = serde_json::from_slice(&enc.body[..h]).unwrap();
    assert_eq!(head.id.as_deref(), Some("x"));
    assert_eq!(head.outputs[0].parameters.as_ref().unwrap()["binary_data_size"], 8);
    assert_eq!(head.outputs[1].data, Some(serde_json::json!(["2.000000:1:b"])));
    assert_eq!(&enc.body[h..], fp32_le(&[1.0, 2.0]).as_slice());
}

#[test]
fn errors_have_the_protocol_body_and_status() {
    let e = OipError::NotFound("unknown model \"x\"".into());
    assert_eq!(e.status(), 404);
    assert_eq!(serde_json::to_string(&e.body()).unwrap(), r#"{"error":"unknown model \"x\""}"#);
}

#[test]
fn fp32_le_borrows_binary_data_and_converts_json() {
    let json = r#"{"inputs":[{"name":"a","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}"#;
    let tail = fp32_le(&[1.0, 2.0]);
    let (body, h) = framed(json, &tail);
    let req = parse_request(&body, Some(&h)).unwrap();
    let le = req.inputs[0].fp32_le().unwrap();
    assert!(matches!(le, std::borrow::Cow::Borrowed(_)));
    assert_eq!(&*le, tail.as_slice());
    let json = r#"{"inputs":[{"name":"a","shape":[1,2],"datatype":"FP32","data":[[1,2]]}]}"#;
    let req = parse_request(json.as_bytes(), None).unwrap();
    assert_eq!(&*req.inputs[0].fp32_le().unwrap(), tail.as_slice());
    let json = r#"{"inputs":[{"name":"a","shape":[3],"datatype":"FP32","parameters":{"binary_data_size":8}}]}"#;
    let (body, h) = framed(json, &tail);
    let e = parse_request(&body, Some(&h)).unwrap().inputs[0].fp32_le().unwrap_err();
    assert!(e.to_string().contains("8 bytes of FP32 data for shape [3]"), "{e}");
}
