//! `classify` — a Spin HTTP component: image bytes in, ImageNet top-K JSON out.
//!
//! Routes (mounted at `/classify/...` by spin.toml):
//! - `POST /classify[?top=K&model=NAME&decode=fast|full]` raw image body → predictions
//! - `GET /classify/models` the models this component knows
//! - `GET /classify/healthz` 200 when the default graph loads through wasi:nn
//! - `/v2/...` (mounted at `/v2/...`): the Open Inference Protocol, in [`oip`]
//!
//! This file is only HTTP: parsing, limits and status codes. The image maths is in
//! `spinfer-pipeline`, the wasi:nn calls in [`nn`]. Nothing is read from files: the class
//! names are compiled in with each model's spec.

mod glue;
mod nn;
mod oip;

use glue::{ApiError, Limits};
use spin_sdk::http::{IncomingRequest, Method, Response};
use spin_sdk::http_component;
use spinfer_api::{json, ClassifyResponse, HealthResponse, ImageSize, ModelInfo, ModelsResponse};
use spinfer_pipeline::{
    decode_for_resize, decode_full, find_model, model_input_bytes, softmax, top_k, ModelSpec,
    MODELS, RESIZE,
};
use std::time::Instant;

const DEFAULT_TOP: usize = 5;
const MAX_TOP: usize = 20;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    let path_query = req.path_with_query().unwrap_or_default();
    let (path, query) = path_query.split_once('?').unwrap_or((&path_query, ""));
    if path == "/v2" || path.starts_with("/v2/") {
        return oip::handle(req, path).await;
    }
    let result = match (path.trim_end_matches('/'), req.method()) {
        ("/classify", Method::Post) => classify(req, query.to_owned()).await,
        ("/classify", _) => Err(ApiError::method_not_allowed("POST")),
        ("/classify/models", Method::Get) => Ok(models()),
        ("/classify/healthz", Method::Get) => healthz(),
        ("/classify/models" | "/classify/healthz", _) => Err(ApiError::method_not_allowed("GET")),
        _ => Err(ApiError::new(404, "not_found", format!("no route for {path}"))),
    };
    result.unwrap_or_else(ApiError::into_response)
}

/// The query options of `POST /classify`.
struct Options {
    top: usize,
    model: &'static ModelSpec,
    /// `decode=full`: decode every image at full size (the reference's path) instead of
    /// letting large JPEGs decode at reduced scale.
    full_decode: bool,
}

fn parse_options(query: &str) -> Result<Options, ApiError> {
    let mut options = Options { top: DEFAULT_TOP, model: &MODELS[0], full_decode: false };
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "top" => {
                options.top =
                    value.parse().ok().filter(|k| (1..=MAX_TOP).contains(k)).ok_or_else(|| {
                        ApiError::new(
                            400,
                            "bad_top",
                            format!("top must be an integer from 1 to {MAX_TOP}, got {value:?}"),
                        )
                    })?
            }
            "model" => {
                options.model = find_model(&value).ok_or_else(|| {
                    let known: Vec<_> = MODELS.iter().map(|m| m.name).collect();
                    ApiError::new(
                        404,
                        "unknown_model",
                        format!("unknown model {value:?}; known: {}", known.join(", ")),
                    )
                })?
            }
            "decode" => {
                options.full_decode = match value.as_ref() {
                    "fast" => false,
                    "full" => true,
                    other => {
                        return Err(ApiError::new(
                            400,
                            "bad_decode",
                            format!("decode must be \"fast\" or \"full\", got {other:?}"),
                        ))
                    }
                }
            }
            _ => {}
        }
    }
    Ok(options)
}

async fn classify(req: IncomingRequest, query: String) -> Result<Response, ApiError> {
    let start = Instant::now();
    let limits = Limits::from_env();
    // The body before the query: on Spin a chained caller (frontend) streams its body, and
    // an answer given before it was read reaches that caller as a closed stream instead of
    // this error (seen in tests/runtimes.rs with `?model=nope`; spinfer buffers the body).
    let body = spinfer_api::read_body(req, limits.max_body_bytes)?;
    let options = parse_options(&query)?;

    let t0 = Instant::now();
    // Large JPEGs decode at ½, ¼ or ⅛ scale: only what the 256-pixel resize needs.
    let image = if options.full_decode {
        decode_full(&body, limits.decode)?
    } else {
        decode_for_resize(&body, limits.decode, RESIZE)?
    };
    drop(body);
    let t1 = Instant::now();
    let input = model_input_bytes(&image, options.model);
    let t2 = Instant::now();
    let (logits, nn_times) = nn::infer(options.model, &input)
        .map_err(|e| ApiError::new(503, "inference_failed", e.to_string()))?;
    let t3 = Instant::now();
    if logits.len() != options.model.classes {
        return Err(ApiError::new(
            500,
            "bad_model_output",
            format!("model returned {} values, expected {}", logits.len(), options.model.classes),
        ));
    }
    let predictions = top_k(&softmax(&logits), options.top, options.model.labels);
    let ms = |a: Instant, b: Instant| spinfer_api::millis(b - a);
    let predictions = predictions
        .into_iter()
        .map(|p| spinfer_api::Prediction {
            index: p.index,
            label: p.label,
            probability: p.probability,
        })
        .collect();
    let t4 = Instant::now();
    let mut response = json(
        200,
        &ClassifyResponse {
            model: options.model.name.to_owned(),
            image: ImageSize { width: image.width, height: image.height },
            predictions,
            timings_ms: spinfer_api::Timings {
                decode: ms(t0, t1),
                preprocess: ms(t1, t2),
                inference: ms(t2, t3),
                total: ms(start, t4),
            },
            frontend: None,
        },
    );
    // The same stages for tools (browsers' network panels read Server-Timing), plus what the
    // JSON body cannot hold: the body read before decoding and the answer's own encoding.
    let stages = [
        ("body", start, t0),
        ("decode", t0, t1),
        ("preprocess", t1, t2),
        ("inference", t2, t3),
        ("topk", t3, t4),
        ("json", t4, Instant::now()),
    ];
    let nn_stages = [
        ("nn-setup", nn_times.setup),
        ("nn-compute", nn_times.compute),
        ("nn-output", nn_times.output),
    ];
    let timing: Vec<String> = stages
        .iter()
        .map(|(name, a, b)| (*name, ms(*a, *b)))
        .chain(nn_stages.iter().map(|(name, d)| (*name, d.as_secs_f64() * 1e3)))
        .map(|(name, dur)| format!("{name};dur={dur:.3}"))
        .collect();
    response.set_header("server-timing", timing.join(", "));
    Ok(response)
}

fn models() -> Response {
    let list: Vec<_> = MODELS
        .iter()
        .enumerate()
        .map(|(i, m)| ModelInfo {
            name: m.name.to_owned(),
            default: i == 0,
            input_shape: m.input_shape,
            labels: m.labels.len(),
        })
        .collect();
    let limits = Limits::from_env();
    json(200, &ModelsResponse { models: list, limits: limits.reported() })
}

fn healthz() -> Result<Response, ApiError> {
    let model = &MODELS[0];
    nn::probe(model).map_err(|e| ApiError::new(503, "graph_unavailable", e.to_string()))?;
    Ok(json(200, &HealthResponse { status: "ok".to_owned(), model: model.name.to_owned() }))
}
