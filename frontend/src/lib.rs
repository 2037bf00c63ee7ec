//! `frontend` — serves the `/home` page (the API gateway arrives with its own issue).

use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

const HOME: &str = include_str!("../../static/index.html");

#[http_component]
fn handle(req: IncomingRequest) -> Response {
    let path = req.path_with_query().unwrap_or_default();
    let path = path.split('?').next().unwrap_or("");
    match path {
        "/" => Response::builder().status(308).header("location", "/home").body(Vec::new()).build(),
        "/home" | "/home/" => Response::builder()
            .status(200)
            .header("content-type", "text/html; charset=utf-8")
            .body(HOME)
            .build(),
        _ => Response::builder()
            .status(404)
            .header("content-type", "application/json")
            .body(format!(r#"{{"error":{{"code":"not_found","message":"no route for {path}"}}}}"#))
            .build(),
    }
}
