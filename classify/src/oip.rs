//! The Open Inference Protocol v2 (KServe v2 / Triton HTTP/REST) on classify, mounted at
//! `/v2/...` by spin.toml: server metadata and health, model metadata, readiness and
//! Triton's model configuration, and `infer` ([`infer`]). Framing and JSON types are in
//! `spinfer-oip`; every error answer is the protocol's `{"error": "<message>"}`.

mod infer;

use spin_sdk::http::{IncomingRequest, Method, Response};
use spinfer_oip::{
    ConfigTensor, Health, ModelConfig, ModelMetadata, ModelReady, OipError, Reshape,
    ServerMetadata, TensorMetadata,
};
use spinfer_pipeline::{find_model, ModelSpec, MODELS};

/// The only version of each model.
pub const VERSION: &str = "1";
/// The largest batch `infer` takes (also `max_batch_size` in the model configuration).
pub const MAX_BATCH: usize = 8;
/// The preprocessed tensor input: FP32 `[N,3,224,224]`, as the ONNX graph takes it.
pub const TENSOR_INPUT: &str = "input";
/// The encoded-image input: BYTES `[N]` (or `[N,1]`), one JPEG/PNG/WebP/GIF/BMP each.
pub const IMAGE_INPUT: &str = "image";
/// The one output: FP32 `[N,1000]` logits.
pub const OUTPUT: &str = "logits";
const PLATFORM: &str = "onnxruntime_onnx";
const EXTENSIONS: [&str; 3] = ["binary_tensor_data", "classification", "model_configuration"];

/// Answer a `/v2...` request.
pub async fn handle(req: IncomingRequest, path: &str) -> Response {
    let method = req.method();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).skip(1).collect();
    let result = match (segments.as_slice(), method) {
        ([], Method::Get) => Ok(ok_json(&server_metadata())),
        (["health", "live"], Method::Get) => Ok(ok_json(&Health { live: Some(true), ready: None })),
        (["health", "ready"], Method::Get) => MODELS
            .iter()
            .try_for_each(ready)
            .map(|_| ok_json(&Health { live: None, ready: Some(true) })),
        (["models", name, rest @ ..], method) => model_route(req, name, rest, method).await,
        _ => Err(OipError::NotFound(format!("no route for {path}"))),
    };
    result.unwrap_or_else(|e| error_response(&e))
}

async fn model_route(
    req: IncomingRequest,
    name: &str,
    rest: &[&str],
    method: Method,
) -> Result<Response, OipError> {
    let model = find_model(name).ok_or_else(|| {
        let known: Vec<_> = MODELS.iter().map(|m| m.name).collect();
        OipError::NotFound(format!("unknown model {name:?}; known: {}", known.join(", ")))
    })?;
    let rest = match rest {
        ["versions", v, rest @ ..] if *v == VERSION => rest,
        ["versions", v, ..] => {
            return Err(OipError::NotFound(format!(
                "unknown version {v:?} of model {name:?}; versions: [{VERSION:?}]"
            )))
        }
        rest => rest,
    };
    match (rest, method) {
        ([], Method::Get) => Ok(ok_json(&metadata(model))),
        (["ready"], Method::Get) => {
            ready(model).map(|_| ok_json(&ModelReady { name: model.name.into(), ready: true }))
        }
        (["config"], Method::Get) => Ok(ok_json(&config(model))),
        (["infer"], Method::Post) => infer::infer(req, model).await,
        (["infer"], _) => Err(OipError::Invalid("use POST on infer".into())),
        ([] | ["ready"] | ["config"], _) => Err(OipError::Invalid("use GET on this route".into())),
        _ => Err(OipError::NotFound(format!("no route under model {name:?}"))),
    }
}

fn ready(model: &ModelSpec) -> Result<(), OipError> {
    crate::nn::probe(model)
        .map_err(|e| OipError::Unavailable(format!("model {:?} is not ready: {e}", model.name)))
}

fn server_metadata() -> ServerMetadata {
    ServerMetadata {
        name: "spinfer".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        extensions: EXTENSIONS.iter().map(|e| e.to_string()).collect(),
    }
}

fn tensor(name: &str, datatype: &str, shape: &[i64]) -> TensorMetadata {
    TensorMetadata { name: name.into(), datatype: datatype.into(), shape: shape.to_vec() }
}

fn chw(model: &ModelSpec) -> [i64; 3] {
    let [_, c, h, w] = model.input_shape;
    [c.into(), h.into(), w.into()]
}

fn metadata(model: &ModelSpec) -> ModelMetadata {
    let [c, h, w] = chw(model);
    ModelMetadata {
        name: model.name.into(),
        versions: vec![VERSION.into()],
        platform: PLATFORM.into(),
        inputs: vec![
            tensor(TENSOR_INPUT, "FP32", &[-1, c, h, w]),
            tensor(IMAGE_INPUT, "BYTES", &[-1]),
        ],
        outputs: vec![tensor(OUTPUT, "FP32", &[-1, model.classes as i64])],
    }
}

fn config(model: &ModelSpec) -> ModelConfig {
    let entry = |name: &str, data_type: &str, dims: Vec<i64>, reshape| ConfigTensor {
        name: name.into(),
        data_type: data_type.into(),
        dims,
        reshape,
        optional: name != OUTPUT,
    };
    ModelConfig {
        name: model.name.into(),
        platform: PLATFORM.into(),
        backend: "onnxruntime".into(),
        max_batch_size: MAX_BATCH as u32,
        input: vec![
            entry(TENSOR_INPUT, "TYPE_FP32", chw(model).to_vec(), None),
            // Triton's way of saying "one element per batch item": dims [1], reshaped to [].
            entry(IMAGE_INPUT, "TYPE_STRING", vec![1], Some(Reshape { shape: vec![] })),
        ],
        output: vec![entry(OUTPUT, "TYPE_FP32", vec![model.classes as i64], None)],
    }
}

fn ok_json(value: &impl serde::Serialize) -> Response {
    spinfer_api::json(200, value)
}

/// The protocol's error answer.
pub fn error_response(e: &OipError) -> Response {
    spinfer_api::json(e.status(), &e.body())
}
