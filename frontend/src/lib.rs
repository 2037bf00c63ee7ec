//! `frontend` — the page people use, and the API it calls.
//!
//! - `GET /` → redirect to `/home`; `GET /home` the page; `GET /static/...` its assets
//! - `POST /api/classify[?model=&top=]` raw image, multipart upload or `{"url":…}` →
//!   forwarded to classify at `http://{{ classify_host }}` → classify's JSON plus the
//!   frontend's own timings
//! - `GET /api/models` classify's model list
//!
//! HTTP handling stays here; upload parsing is in [`upload`], URL policy and fetch in
//! [`fetch`], file serving in [`assets`].

mod assets;
pub mod fetch;
pub mod upload;

use serde::de::DeserializeOwned;
use spin_sdk::http::{IncomingRequest, Method, Request, Response};
use spin_sdk::http_component;
use spinfer_api::{header, json, ApiError, ClassifyResponse, ErrorBody, FrontendTimings};
use spinfer_api::{ModelsResponse, DEFAULT_MAX_BODY};
use std::time::{Duration, Instant};

/// Largest image the page accepts, uploaded or fetched (classify's own default limit).
const MAX_IMAGE_BYTES: usize = DEFAULT_MAX_BODY;
/// Room for a multipart envelope around an image of the largest size.
const ENVELOPE_BYTES: usize = 64 * 1024;
/// Overall time allowed for fetching an image by URL, unless `fetch_timeout_ms` says otherwise.
const FETCH_DEADLINE: Duration = Duration::from_secs(10);

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    let path_query = req.path_with_query().unwrap_or_default();
    let (path, query) = path_query.split_once('?').unwrap_or((&path_query, ""));
    let (path, query) = (path.to_owned(), query.to_owned());
    let result = match (path.as_str(), req.method()) {
        ("/", Method::Get) => Ok(redirect("/home")),
        ("/home" | "/home/", Method::Get) => static_file(&req, "index.html"),
        (p, Method::Get) if p.starts_with("/static/") => static_file(&req, &p["/static/".len()..]),
        ("/api/classify", Method::Post) => classify(req, &query).await,
        ("/api/classify", _) => Err(ApiError::method_not_allowed("POST")),
        ("/api/models", Method::Get) => models().await,
        ("/api/models", _) => Err(ApiError::method_not_allowed("GET")),
        ("/" | "/home" | "/home/", _) => Err(ApiError::method_not_allowed("GET")),
        _ => Err(ApiError::new(404, "not_found", format!("no route for {path}"))),
    };
    result.unwrap_or_else(ApiError::into_response)
}

fn redirect(to: &str) -> Response {
    Response::builder().status(308).header("location", to).body(Vec::new()).build()
}

fn static_file(req: &IncomingRequest, rel: &str) -> Result<Response, ApiError> {
    assets::serve(rel, header(req, "if-none-match").as_deref())
        .ok_or_else(|| ApiError::new(404, "not_found", format!("no static file {rel}")))
}

/// Base URL of classify, from the `classify_host` variable.
fn classify_base() -> Result<String, ApiError> {
    let host = spin_sdk::variables::get("classify_host")
        .map_err(|e| ApiError::new(500, "config_error", format!("variable classify_host: {e}")))?;
    Ok(format!("http://{host}"))
}

/// Operator-listed hosts that URL fetches may reach even though they are private.
fn fetch_allow_hosts() -> Vec<String> {
    spin_sdk::variables::get("fetch_allow_hosts")
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default()
}

fn fetch_deadline() -> Duration {
    spin_sdk::variables::get("fetch_timeout_ms")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(FETCH_DEADLINE, Duration::from_millis)
}

async fn classify(req: IncomingRequest, query: &str) -> Result<Response, ApiError> {
    let start = Instant::now();
    let content_type = header(&req, "content-type");
    let body = spinfer_api::read_body(req, MAX_IMAGE_BYTES + ENVELOPE_BYTES)?;
    let mut fetch_ms = None;
    let image = match upload::parse(content_type.as_deref(), body)
        .map_err(|e| ApiError::new(400, e.code, e.message))?
    {
        upload::Upload::Bytes(bytes) if bytes.len() > MAX_IMAGE_BYTES => {
            return Err(ApiError::new(
                413,
                "body_too_large",
                format!(
                    "the image is {} bytes, over the limit of {MAX_IMAGE_BYTES} bytes",
                    bytes.len()
                ),
            ))
        }
        upload::Upload::Bytes(bytes) => bytes,
        upload::Upload::Url(url) => {
            let t = Instant::now();
            let target = fetch::check_url(&url, &fetch_allow_hosts()).map_err(into_api)?;
            let limits =
                fetch::FetchLimits { max_bytes: MAX_IMAGE_BYTES, deadline: fetch_deadline() };
            let bytes = fetch::fetch(&target, &limits).map_err(into_api)?;
            fetch_ms = Some(ms(t));
            bytes
        }
    };
    let url = format!("{}/classify?{}", classify_base()?, forwarded_query(query));
    let response = call_classify(Request::post(url, image).build()).await?;
    relay(&response, |mut answer: ClassifyResponse| {
        answer.frontend = Some(FrontendTimings { total_ms: ms(start), fetch_ms });
        answer
    })
}

/// Classify's answer, passed on with its status: a 200 body as `T` (changed by `edit`),
/// any other as the uniform [`ErrorBody`]; a body of neither shape is a 502.
fn relay<T: serde::Serialize + DeserializeOwned>(
    response: &Response,
    edit: impl FnOnce(T) -> T,
) -> Result<Response, ApiError> {
    let status = *response.status();
    let bad = |e: serde_json::Error| {
        ApiError::new(
            502,
            "classify_bad_response",
            format!("classify answered a body that is not its API's JSON: {e}"),
        )
    };
    if status == 200 {
        let answer: T = serde_json::from_slice(response.body()).map_err(bad)?;
        Ok(json(status, &edit(answer)))
    } else {
        let answer: ErrorBody = serde_json::from_slice(response.body()).map_err(bad)?;
        Ok(json(status, &answer))
    }
}

/// Only the query parameters classify understands travel on.
fn forwarded_query(query: &str) -> String {
    let pairs =
        form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k == "model" || k == "top");
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// Classify's models and limits; the body limit the page works to is the smaller of
/// classify's and this component's own.
async fn models() -> Result<Response, ApiError> {
    let response =
        call_classify(Request::get(format!("{}/classify/models", classify_base()?)).build())
            .await?;
    relay(&response, |mut models: ModelsResponse| {
        let own = MAX_IMAGE_BYTES as u64;
        models.limits.max_body_bytes = models.limits.max_body_bytes.min(own);
        models
    })
}

async fn call_classify(req: Request) -> Result<Response, ApiError> {
    spin_sdk::http::send::<Request, Response>(req).await.map_err(|e| {
        ApiError::new(
            503,
            "classify_unavailable",
            format!("the classify service is unavailable: {e}"),
        )
    })
}

fn into_api(e: fetch::FetchError) -> ApiError {
    ApiError::new(e.status, e.code, e.message)
}

fn ms(since: Instant) -> f64 {
    spinfer_api::millis(since.elapsed())
}
