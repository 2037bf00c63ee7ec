//! `faulty` — a test fixture component for the host's fault-containment tests.
//! Each route misbehaves in one way; the host must answer with a JSON error and keep
//! serving. `/fault/chain` and `/fault/denied` exercise outbound HTTP policy;
//! `/fault/sleep?ms=N` answers 200 after N ms (requests in flight for drain tests).

use spin_sdk::http::{IncomingRequest, Method, Request, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    let path = req.path_with_query().unwrap_or_default();
    match path.as_str() {
        "/fault/ok" => text(200, "fine".into()),
        "/fault/trap" => panic!("deliberate trap"),
        "/fault/oom" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 16 * 1024 * 1024]);
                std::hint::black_box(&hoard);
            }
        }
        "/fault/loop" => {
            let mut x: u64 = 0;
            loop {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        // Slow but well: for drain tests, a request that is in flight for `ms`.
        p if p.starts_with("/fault/sleep?ms=") => {
            let ms: u64 = p["/fault/sleep?ms=".len()..].parse().unwrap_or(0);
            std::thread::sleep(std::time::Duration::from_millis(ms.min(10_000)));
            text(200, "slept".into())
        }
        "/fault/chain" => outbound("http://classify.spin.internal/classify/healthz").await,
        "/fault/denied" => outbound("http://example.com/").await,
        "/fault/variable" => match spin_sdk::variables::get("greeting") {
            Ok(v) => text(200, v),
            Err(e) => text(500, format!("{e}")),
        },
        _ => text(404, "no such fault".into()),
    }
}

async fn outbound(url: &str) -> Response {
    let req = Request::builder().method(Method::Get).uri(url).build();
    match spin_sdk::http::send::<_, Response>(req).await {
        Ok(resp) => text(*resp.status(), String::from_utf8_lossy(resp.body()).into_owned()),
        Err(e) => text(502, format!("outbound error: {e}")),
    }
}

fn text(status: u16, body: String) -> Response {
    Response::builder().status(status).header("content-type", "text/plain").body(body).build()
}
