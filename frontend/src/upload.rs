//! Where the page's image comes from: a raw image body, a `multipart/form-data`
//! upload (the first part that carries a filename, or is named `image`/`file`), or a
//! JSON `{"url": "…"}` to fetch. Pure parsing, unit-tested on the host.

/// What a `POST /api/classify` carried.
#[derive(Debug, PartialEq)]
pub enum Upload {
    Bytes(Vec<u8>),
    Url(String),
}

/// A client mistake in the upload, with its stable error code.
#[derive(Debug, PartialEq)]
pub struct UploadError {
    pub code: &'static str,
    pub message: String,
}

fn err(code: &'static str, message: impl Into<String>) -> UploadError {
    UploadError { code, message: message.into() }
}

/// Interpret a request body by its content type.
pub fn parse(content_type: Option<&str>, body: Vec<u8>) -> Result<Upload, UploadError> {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    let mime = ct.split(';').next().unwrap_or("").trim();
    match mime {
        "multipart/form-data" => {
            let boundary = content_type
                .unwrap_or("")
                .split(';')
                .filter_map(|p| p.trim().strip_prefix("boundary="))
                .next()
                .map(|b| b.trim_matches('"').to_owned())
                .ok_or_else(|| err("bad_multipart", "multipart/form-data without a boundary"))?;
            multipart_file(body, &boundary).map(Upload::Bytes)
        }
        "application/json" => {
            let value: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| err("bad_json", format!("body is not valid JSON: {e}")))?;
            match value.get("url").and_then(|u| u.as_str()) {
                Some(url) if !url.trim().is_empty() => Ok(Upload::Url(url.trim().to_owned())),
                _ => Err(err("missing_url", "JSON body needs a non-empty \"url\" string")),
            }
        }
        _ => Ok(Upload::Bytes(body)),
    }
}

/// The bytes of the file part of a multipart body, cut out of the body's own buffer (a
/// 40 MiB photo is not copied into a second one).
fn multipart_file(mut body: Vec<u8>, boundary: &str) -> Result<Vec<u8>, UploadError> {
    let delimiter = format!("--{boundary}").into_bytes();
    // (lower-cased headers, where the part's data lies in `body`)
    let mut parts = Vec::new();
    let mut pos = 0;
    while let Some(found) = find(&body[pos..], &delimiter) {
        pos += found + delimiter.len();
        if body[pos..].starts_with(b"--") {
            break;
        }
        let Some(len) = find(&body[pos..], &delimiter) else { break };
        let (mut start, mut end) = (pos, pos + len);
        if body[start..end].starts_with(b"\r\n") {
            start += 2;
        }
        if body[start..end].ends_with(b"\r\n") {
            end -= 2;
        }
        if let Some(split) = find(&body[start..end], b"\r\n\r\n") {
            let headers = String::from_utf8_lossy(&body[start..start + split]).to_ascii_lowercase();
            parts.push((headers, start + split + 4..end));
        }
    }
    if parts.is_empty() {
        return Err(err("bad_multipart", "multipart body has no parts (check the boundary)"));
    }
    let file = parts.iter().find(|(h, _)| h.contains("filename=")).or_else(|| {
        parts.iter().find(|(h, _)| h.contains("name=\"image\"") || h.contains("name=\"file\""))
    });
    match file.map(|(_, range)| range.clone()) {
        Some(range) if !range.is_empty() => {
            body.truncate(range.end);
            body.drain(..range.start);
            Ok(body)
        }
        Some(_) => Err(err("empty_body", "the uploaded file is empty")),
        None => Err(err(
            "missing_file",
            "multipart form has no file part (send it as `image` or `file`)",
        )),
    }
}

/// Where `needle` first occurs in `haystack`: a scan for its first byte, then a compare
/// (a 40 MiB upload is searched twice, so not a slice compare at every offset).
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, _) = needle.split_first()?;
    let mut from = 0;
    while let Some(i) = haystack.get(from..)?.iter().position(|&b| b == first) {
        let at = from + i;
        if haystack[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, filename, data) in parts {
            body.extend_from_slice(b"--XyZ\r\n");
            let fname = filename.map(|f| format!("; filename=\"{f}\"")).unwrap_or_default();
            body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"{fname}\r\n\r\n")
                    .as_bytes(),
            );
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--XyZ--\r\n");
        body
    }

    const CT: Option<&str> = Some("multipart/form-data; boundary=XyZ");

    #[test]
    fn multipart_file_part_is_found() {
        let body = form(&[
            ("model", None, b"mobilenetv2"),
            ("image", Some("cat.png"), b"\x89PNG\r\n--not-a-boundary"),
        ]);
        assert_eq!(parse(CT, body), Ok(Upload::Bytes(b"\x89PNG\r\n--not-a-boundary".to_vec())));
    }

    #[test]
    fn multipart_without_file_is_named() {
        let body = form(&[("model", None, b"mobilenetv2")]);
        assert_eq!(parse(CT, body).unwrap_err().code, "missing_file");
        assert_eq!(
            parse(Some("multipart/form-data"), b"x".to_vec()).unwrap_err().code,
            "bad_multipart"
        );
    }

    #[test]
    fn json_url_and_its_mistakes() {
        let json = Some("application/json");
        assert_eq!(
            parse(json, br#"{"url":" http://a/b.jpg "}"#.to_vec()),
            Ok(Upload::Url("http://a/b.jpg".into()))
        );
        assert_eq!(parse(json, br#"{"link":"x"}"#.to_vec()).unwrap_err().code, "missing_url");
        assert_eq!(parse(json, b"{nope".to_vec()).unwrap_err().code, "bad_json");
    }

    #[test]
    fn anything_else_is_raw_bytes() {
        assert_eq!(parse(Some("image/jpeg"), vec![1, 2]), Ok(Upload::Bytes(vec![1, 2])));
        assert_eq!(parse(None, vec![3]), Ok(Upload::Bytes(vec![3])));
    }
}
