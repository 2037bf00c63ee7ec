//! Request framing: split the body at `Inference-Header-Content-Length`, parse the JSON
//! header, give each input its slice of the binary tail (`binary_data_size`, in input
//! order) or its inline `data`, and check every size with checked arithmetic, so that
//! no hostile length can index past the body, overflow or allocate what it claims.

use crate::{InferRequest, OipError, Parameters, RequestOutput};
use serde_json::Value;

/// A parsed request. Inputs borrow their binary data from the body.
#[derive(Debug)]
pub struct Request<'a> {
    pub id: Option<String>,
    pub inputs: Vec<Input<'a>>,
    /// `None`: every output, in the default form.
    pub outputs: Option<Vec<RequestOutput>>,
    /// Request-level `binary_data_output`: outputs without their own `binary_data`.
    pub binary_output: bool,
    /// The request-level `parameters`, for the server's own options.
    pub parameters: Option<Parameters>,
}

/// One input, its shape checked (non-negative, element count fits `usize`).
#[derive(Debug)]
pub struct Input<'a> {
    pub name: String,
    pub datatype: String,
    pub shape: Vec<usize>,
    /// The product of `shape`.
    pub elements: usize,
    payload: Payload<'a>,
}

#[derive(Debug)]
enum Payload<'a> {
    Binary(&'a [u8]),
    Json(Value),
}

/// Parse a request body. `header_length` is the `Inference-Header-Content-Length` header
/// value, if any: the JSON is that many bytes, the rest is binary tensor data.
pub fn parse_request<'a>(
    body: &'a [u8],
    header_length: Option<&str>,
) -> Result<Request<'a>, OipError> {
    let (json, mut tail) = match header_length {
        None => (body, &body[body.len()..]),
        Some(text) => {
            let n: usize = text.trim().parse().map_err(|_| {
                OipError::Framing(format!(
                    "Inference-Header-Content-Length {text:?} is not a non-negative integer"
                ))
            })?;
            if n > body.len() {
                return Err(OipError::Framing(format!(
                    "Inference-Header-Content-Length {n} is past the end of the {}-byte body",
                    body.len()
                )));
            }
            body.split_at(n)
        }
    };
    let request: InferRequest =
        serde_json::from_slice(json).map_err(|e| OipError::Malformed(e.to_string()))?;
    if request.inputs.is_empty() {
        return Err(OipError::Malformed("no inputs".into()));
    }
    let mut inputs = Vec::with_capacity(request.inputs.len());
    for input in request.inputs {
        let (shape, elements) = check_shape(&input.name, &input.shape)?;
        let size = match input.parameters.as_ref().and_then(|p| p.get("binary_data_size")) {
            None => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                OipError::Framing(format!(
                    "binary_data_size of {:?} must be a non-negative integer, got {v}",
                    input.name
                ))
            })?),
        };
        let payload = match (size, input.data) {
            (Some(_), Some(_)) => {
                return Err(OipError::data(&input.name, "both data and binary_data_size"))
            }
            (None, None) => return Err(OipError::data(&input.name, "no data and no binary data")),
            (None, Some(data)) => Payload::Json(data),
            (Some(size), None) => {
                let size =
                    usize::try_from(size).ok().filter(|&s| s <= tail.len()).ok_or_else(|| {
                        OipError::Framing(format!(
                            "binary_data_size {size} of {:?} is past the end of the body \
                             ({} binary bytes left)",
                            input.name,
                            tail.len()
                        ))
                    })?;
                let (mine, rest) = tail.split_at(size);
                tail = rest;
                Payload::Binary(mine)
            }
        };
        inputs.push(Input { name: input.name, datatype: input.datatype, shape, elements, payload });
    }
    if !tail.is_empty() {
        return Err(OipError::Framing(format!(
            "{} bytes of binary data follow the last input's",
            tail.len()
        )));
    }
    Ok(Request {
        id: request.id,
        inputs,
        outputs: request.outputs,
        binary_output: flag(request.parameters.as_ref(), "binary_data_output"),
        parameters: request.parameters,
    })
}

/// A boolean parameter (absent: false).
pub fn flag(parameters: Option<&Parameters>, key: &str) -> bool {
    parameters.and_then(|p| p.get(key)).and_then(Value::as_bool).unwrap_or(false)
}

/// Dimensions as `usize` and their product; refuses negatives and overflow.
fn check_shape(name: &str, dims: &[i64]) -> Result<(Vec<usize>, usize), OipError> {
    let bad = |reason: String| OipError::Shape { name: name.to_owned(), reason };
    let mut shape = Vec::with_capacity(dims.len());
    let mut elements: usize = 1;
    for &d in dims {
        if d < 0 {
            return Err(bad(format!("negative dimension {d}")));
        }
        let d = usize::try_from(d)
            .map_err(|_| bad(format!("dimension {d} overflows this server's sizes")))?;
        elements = elements
            .checked_mul(d)
            .ok_or_else(|| bad(format!("the element count of {dims:?} overflows")))?;
        shape.push(d);
    }
    Ok((shape, elements))
}

impl Input<'_> {
    /// The data as f32 (datatype must be FP32): binary little-endian, or JSON numbers
    /// (nested or flat, row-major). The count must match the shape.
    pub fn fp32(&self) -> Result<Vec<f32>, OipError> {
        match &self.payload {
            Payload::Binary(bytes) => {
                self.fp32_byte_count(bytes.len())?;
                let words = bytes.chunks_exact(4);
                Ok(words.map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
            }
            Payload::Json(value) => {
                let mut out = Vec::with_capacity(self.elements.min(1 << 24));
                flatten(value, &mut |v| match v.as_f64() {
                    Some(x) => {
                        out.push(x as f32);
                        Ok(())
                    }
                    None => Err(format!("{v} is not a number")),
                })
                .map_err(|e| OipError::data(&self.name, e))?;
                self.check_count(out.len())?;
                Ok(out)
            }
        }
    }

    /// The data of an FP32 tensor as little-endian bytes: binary data as it came (no
    /// copy), JSON numbers converted. The count must match the shape.
    pub fn fp32_le(&self) -> Result<std::borrow::Cow<'_, [u8]>, OipError> {
        match &self.payload {
            Payload::Binary(bytes) => {
                self.fp32_byte_count(bytes.len())?;
                Ok(std::borrow::Cow::Borrowed(bytes))
            }
            Payload::Json(_) => {
                let values = self.fp32()?;
                Ok(values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>().into())
            }
        }
    }

    fn fp32_byte_count(&self, got: usize) -> Result<(), OipError> {
        if self.elements.checked_mul(4) == Some(got) {
            return Ok(());
        }
        Err(OipError::data(
            &self.name,
            format!(
                "{got} bytes of FP32 data for shape {:?} ({} elements × 4 bytes)",
                self.shape, self.elements
            ),
        ))
    }

    /// The elements of a BYTES tensor: binary (each a 4-byte little-endian length, then
    /// the bytes) or JSON strings. The count must match the shape.
    pub fn bytes(&self) -> Result<Vec<Vec<u8>>, OipError> {
        let mut out = Vec::new();
        match &self.payload {
            Payload::Binary(bytes) => {
                let mut rest: &[u8] = bytes;
                while !rest.is_empty() {
                    let truncated = || OipError::data(&self.name, "BYTES element truncated");
                    let (len, after) = rest.split_first_chunk::<4>().ok_or_else(truncated)?;
                    let len = u32::from_le_bytes(*len) as usize;
                    if len > after.len() {
                        return Err(truncated());
                    }
                    let (element, after) = after.split_at(len);
                    out.push(element.to_vec());
                    rest = after;
                    if out.len() > self.elements {
                        break;
                    }
                }
            }
            Payload::Json(value) => flatten(value, &mut |v| match v.as_str() {
                Some(s) => {
                    out.push(s.as_bytes().to_vec());
                    Ok(())
                }
                None => Err(format!("{v} is not a string")),
            })
            .map_err(|e| OipError::data(&self.name, e))?,
        }
        self.check_count(out.len())?;
        Ok(out)
    }

    fn check_count(&self, got: usize) -> Result<(), OipError> {
        if got == self.elements {
            return Ok(());
        }
        Err(OipError::data(
            &self.name,
            format!("{got} elements for shape {:?} ({} elements)", self.shape, self.elements),
        ))
    }
}

/// Visit the leaves of nested arrays in row-major order (a scalar is one leaf).
fn flatten(
    value: &Value,
    leaf: &mut impl FnMut(&Value) -> Result<(), String>,
) -> Result<(), String> {
    match value {
        Value::Array(items) => items.iter().try_for_each(|v| flatten(v, leaf)),
        other => leaf(other),
    }
}
