//! Response framing: outputs as JSON `data` or as binary tensor data after the JSON
//! header (whose length goes in `Inference-Header-Content-Length`).

use crate::{InferResponse, Parameters, ResponseOutput};
use serde_json::Value;

/// The values of one output.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputData {
    Fp32(Vec<f32>),
    Bytes(Vec<Vec<u8>>),
}

/// One output to send back.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: OutputData,
    /// Send as binary tensor data (else JSON `data`).
    pub binary: bool,
}

/// An encoded response: the body, and the JSON header's length when binary data follows.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub body: Vec<u8>,
    pub header_length: Option<usize>,
}

/// Build the response body for `outputs` (in order).
pub fn encode_response(
    model_name: &str,
    model_version: Option<&str>,
    id: Option<String>,
    outputs: Vec<Output>,
) -> Encoded {
    let mut binary = Vec::new();
    let mut headers = Vec::with_capacity(outputs.len());
    for output in outputs {
        let datatype = match output.data {
            OutputData::Fp32(_) => "FP32",
            OutputData::Bytes(_) => "BYTES",
        };
        let (parameters, data) = if output.binary {
            let start = binary.len();
            match &output.data {
                OutputData::Fp32(v) => v.iter().for_each(|x| binary.extend(x.to_le_bytes())),
                OutputData::Bytes(v) => binary.extend(serialize_bytes(v)),
            }
            let mut p = Parameters::new();
            p.insert("binary_data_size".into(), Value::from(binary.len() - start));
            (Some(p), None)
        } else {
            let data = match output.data {
                OutputData::Fp32(v) => v.into_iter().map(|x| Value::from(x as f64)).collect(),
                OutputData::Bytes(v) => v
                    .into_iter()
                    .map(|b| Value::from(String::from_utf8_lossy(&b).into_owned()))
                    .collect(),
            };
            (None, Some(Value::Array(data)))
        };
        headers.push(ResponseOutput {
            name: output.name,
            datatype: datatype.into(),
            shape: output.shape.iter().map(|&d| d as u64).collect(),
            parameters,
            data,
        });
    }
    let response = InferResponse {
        model_name: model_name.into(),
        model_version: model_version.map(Into::into),
        id,
        outputs: headers,
    };
    let mut body = serde_json::to_vec(&response).unwrap_or_default();
    let header_length = (!binary.is_empty()).then_some(body.len());
    body.extend(binary);
    Encoded { body, header_length }
}

/// BYTES elements in the binary form: each a 4-byte little-endian length, then the bytes.
pub fn serialize_bytes(elements: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(elements.iter().map(|e| e.len() + 4).sum());
    for e in elements {
        out.extend((e.len() as u32).to_le_bytes());
        out.extend(e);
    }
    out
}

/// Triton's classification extension: the `k` largest values of one row as
/// `"score:index:label"` (`"score:index"` without a label), best first.
pub fn classification(row: &[f32], k: usize, labels: &[&str]) -> Vec<Vec<u8>> {
    let mut order: Vec<usize> = (0..row.len()).collect();
    order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
    order
        .into_iter()
        .take(k)
        .map(|i| match labels.get(i) {
            Some(label) => format!("{:.6}:{i}:{label}", row[i]),
            None => format!("{:.6}:{i}", row[i]),
        })
        .map(String::into_bytes)
        .collect()
}
