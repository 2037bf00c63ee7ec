//! `POST /v2/models/{name}[/versions/{v}]/infer`: one input (`input` FP32 `[N,3,224,224]`
//! or `image` BYTES `[N]`), batch N up to [`MAX_BATCH`] as one wasi:nn `compute`, the
//! `logits` output as JSON or binary data, or as classification strings.

use super::{IMAGE_INPUT, MAX_BATCH, OUTPUT, TENSOR_INPUT, VERSION};
use crate::glue::Limits;
use spin_sdk::http::{IncomingRequest, Response};
use spinfer_oip::{
    classification, encode_response, flag, parse_request, Input, OipError, Output, OutputData,
    HEADER_LENGTH,
};
use spinfer_pipeline::{decode_for_resize, decode_full, model_input_bytes, ModelSpec, RESIZE};
use std::borrow::Cow;

/// What the client asked of one output.
struct Wanted {
    name: String,
    binary: bool,
    classification: Option<usize>,
}

pub async fn infer(req: IncomingRequest, model: &'static ModelSpec) -> Result<Response, OipError> {
    let limits = Limits::from_env();
    let header = spinfer_api::header(&req, HEADER_LENGTH);
    let body = spinfer_api::read_body(req, limits.max_body_bytes).map_err(|e| {
        let message = e.message().to_owned();
        if e.status() == 413 {
            OipError::TooLarge(message)
        } else {
            OipError::Malformed(message)
        }
    })?;
    let request = parse_request(&body, header.as_deref())?;
    let wanted = wanted_outputs(&request, model)?;
    let [input] = request.inputs.as_slice() else {
        return Err(OipError::Invalid(format!(
            "{} inputs; send exactly one: {TENSOR_INPUT:?} or {IMAGE_INPUT:?}",
            request.inputs.len()
        )));
    };
    let (n, tensor) = match input.name.as_str() {
        TENSOR_INPUT => tensor_input(input, model)?,
        IMAGE_INPUT => image_input(input, model, &limits, full_decode(&request)?)?,
        other => {
            return Err(OipError::Invalid(format!(
                "unknown input {other:?}; model {:?} takes {TENSOR_INPUT:?} (FP32 [N,3,224,224]) \
                 or {IMAGE_INPUT:?} (BYTES [N])",
                model.name
            )))
        }
    };
    let id = request.id.clone();
    let (logits, _) = crate::nn::infer_batch(model, n as u32, &tensor)
        .map_err(|e| OipError::Unavailable(e.to_string()))?;
    if logits.len() != n * model.classes {
        return Err(OipError::Unavailable(format!(
            "model returned {} values, expected {n} × {}",
            logits.len(),
            model.classes
        )));
    }
    let outputs = wanted
        .into_iter()
        .map(|w| match w.classification {
            Some(k) => Output {
                data: OutputData::Bytes(
                    logits
                        .chunks(model.classes)
                        .flat_map(|row| classification(row, k, model.labels))
                        .collect(),
                ),
                shape: vec![n, k],
                name: w.name,
                binary: w.binary,
            },
            None => Output {
                data: OutputData::Fp32(logits.clone()),
                shape: vec![n, model.classes],
                name: w.name,
                binary: w.binary,
            },
        })
        .collect();
    let encoded = encode_response(model.name, Some(VERSION), id, outputs);
    let mut response = Response::builder();
    response.status(200);
    match encoded.header_length {
        Some(n) => response
            .header("content-type", "application/octet-stream")
            .header("inference-header-content-length", n.to_string()),
        None => response.header("content-type", "application/json"),
    };
    Ok(response.body(encoded.body).build())
}

/// The requested outputs (default: `logits`), checked before any work is done.
fn wanted_outputs(
    request: &spinfer_oip::Request<'_>,
    model: &ModelSpec,
) -> Result<Vec<Wanted>, OipError> {
    let Some(outputs) = &request.outputs else {
        return Ok(vec![Wanted {
            name: OUTPUT.into(),
            binary: request.binary_output,
            classification: None,
        }]);
    };
    outputs
        .iter()
        .map(|o| {
            if o.name != OUTPUT {
                return Err(OipError::Invalid(format!(
                    "unknown output {:?}; model {:?} has {OUTPUT:?}",
                    o.name, model.name
                )));
            }
            let params = o.parameters.as_ref();
            let binary = match params.and_then(|p| p.get("binary_data")) {
                Some(_) => flag(params, "binary_data"),
                None => request.binary_output,
            };
            let classification = match params.and_then(|p| p.get("classification")) {
                None => None,
                Some(v) => Some(
                    v.as_u64()
                        .map(|k| k as usize)
                        .filter(|k| (1..=model.classes).contains(k))
                        .ok_or_else(|| {
                            OipError::Invalid(format!(
                                "classification must be an integer from 1 to {}, got {v}",
                                model.classes
                            ))
                        })?,
                ),
            };
            Ok(Wanted { name: o.name.clone(), binary, classification })
        })
        .collect()
}

/// Request parameter `decode`: `"fast"` (default: large JPEGs decode at reduced scale, as
/// `POST /classify` does) or `"full"` (every image at full size, the reference's path).
fn full_decode(request: &spinfer_oip::Request<'_>) -> Result<bool, OipError> {
    match request.parameters.as_ref().and_then(|p| p.get("decode")) {
        None => Ok(false),
        Some(v) if v == "fast" => Ok(false),
        Some(v) if v == "full" => Ok(true),
        Some(v) => Err(OipError::Invalid(format!("decode must be \"fast\" or \"full\", got {v}"))),
    }
}

fn check_datatype(input: &Input<'_>, want: &str) -> Result<(), OipError> {
    if input.datatype == want {
        return Ok(());
    }
    Err(OipError::Invalid(format!(
        "input {:?} has datatype {}; it takes {want}",
        input.name, input.datatype
    )))
}

fn check_batch(n: usize) -> Result<usize, OipError> {
    match n {
        0 => Err(OipError::Invalid("batch size 0: send at least one item".into())),
        n if n > MAX_BATCH => {
            Err(OipError::Invalid(format!("batch size {n} is over the cap of {MAX_BATCH}")))
        }
        n => Ok(n),
    }
}

/// `input`: FP32 `[N,3,224,224]`, passed to the graph as it is.
fn tensor_input<'a>(
    input: &'a Input<'_>,
    model: &ModelSpec,
) -> Result<(usize, Cow<'a, [u8]>), OipError> {
    check_datatype(input, "FP32")?;
    let [_, c, h, w] = model.input_shape.map(|d| d as usize);
    let n = match input.shape.as_slice() {
        [n, ic, ih, iw] if [*ic, *ih, *iw] == [c, h, w] => *n,
        other => {
            return Err(OipError::Invalid(format!(
                "input {:?} has shape {other:?}; it takes [N,{c},{h},{w}]",
                input.name
            )))
        }
    };
    let n = check_batch(n)?;
    Ok((n, input.fp32_le()?))
}

/// `image`: BYTES `[N]` or `[N,1]` of encoded images → classify's decode + preprocess.
fn image_input(
    input: &Input<'_>,
    model: &ModelSpec,
    limits: &Limits,
    full_decode: bool,
) -> Result<(usize, Cow<'static, [u8]>), OipError> {
    check_datatype(input, "BYTES")?;
    let n = match input.shape.as_slice() {
        [n] | [n, 1] => check_batch(*n)?,
        other => {
            return Err(OipError::Invalid(format!(
                "input {:?} has shape {other:?}; it takes [N] (or [N,1]), one encoded image each",
                input.name
            )))
        }
    };
    let mut tensor = Vec::new();
    for (i, bytes) in input.bytes()?.iter().enumerate() {
        let image = match full_decode {
            true => decode_full(bytes, limits.decode),
            false => decode_for_resize(bytes, limits.decode, RESIZE),
        }
        .map_err(|e| OipError::Invalid(format!("image {i} of {n}: {e}")))?;
        tensor.extend(model_input_bytes(&image, model));
    }
    Ok((n, tensor.into()))
}
