//! Static files for the page, read from the `/static` directory that spin.toml mounts
//! into the component: content type by extension, a content-hash `ETag` with
//! `If-None-Match` → 304, and cache headers (HTML revalidates, assets cache for an hour).

use spin_sdk::http::Response;

/// Serve `/static/<rel>`; `None` when the file does not exist.
pub fn serve(rel: &str, if_none_match: Option<&str>) -> Option<Response> {
    if rel.is_empty()
        || rel.split('/').any(|p| p.is_empty() || p == "." || p == ".." || p.contains('\\'))
    {
        return None;
    }
    let bytes = std::fs::read(format!("/static/{rel}")).ok()?;
    let etag = format!("\"{:016x}\"", fnv1a(&bytes));
    let ext = rel.rsplit('.').next().unwrap_or("");
    let cache = if ext == "html" { "no-cache" } else { "public, max-age=3600" };
    let mut builder = Response::builder();
    builder.header("etag", etag.as_str()).header("cache-control", cache);
    if if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == etag)) {
        return Some(builder.status(304).body(Vec::new()).build());
    }
    Some(builder.status(200).header("content-type", content_type(ext)).body(bytes).build())
}

fn content_type(ext: &str) -> &'static str {
    match ext {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

/// 64-bit FNV-1a: a cheap, stable content hash for ETags.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
