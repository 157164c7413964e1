//! `Json<T>` for request bodies, answering every way a body can be wrong in the error
//! shape: 415 for a missing or wrong content type, 413 over the size limit, 400 for
//! malformed JSON, and 400 with `details` naming the field for wrong types, missing
//! fields and unknown fields (request types deny unknown fields).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_content_type(req.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Expected a request body with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                crate::body_limit::too_large()
            } else {
                ApiError::bad_request("Could not read the request body")
            }
        })?;
        parse(&bytes).map(Json)
    }
}

/// For optional fields that can also be cleared: absent stays `None`, `null` becomes
/// `Some(None)`. Use with `#[serde(default, deserialize_with = "crate::json::present")]`.
pub fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(serde::Deserialize::deserialize(d)?))
}

fn is_json_content_type(value: Option<&axum::http::HeaderValue>) -> bool {
    let Some(Ok(value)) = value.map(|v| v.to_str()) else { return false };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(ApiError::bad_request("Request body is empty; expected a JSON object")),
        // Derived struct deserializers also accept arrays (fields by position): refuse them.
        Some(b'{') => {}
        Some(_) if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() => {
            return Err(ApiError::invalid_field("body", "expected a JSON object"));
        }
        Some(_) => {}
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::bad_request(format!("Malformed JSON: {inner}"));
        }
        let message = strip_position(&inner.to_string());
        ApiError::invalid_field(field_name(&path, &message), message)
    })?;
    de.end().map_err(|err| ApiError::bad_request(format!("Malformed JSON: {err}")))?;
    Ok(value)
}

/// serde_json appends " at line 1 column 17"; the field name says more than a position.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// The field a data error is about: for unknown or missing fields serde names it in the
/// message (the path stops at the parent), otherwise the path is the field.
fn field_name(path: &str, message: &str) -> String {
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix).and_then(|rest| rest.split('`').next()));
    match (path, named) {
        (".", Some(name)) => name.to_owned(),
        // serde_path_to_error already ends the path with an unknown field's name.
        (path, Some(name)) if path == name || path.ends_with(&format!(".{name}")) => path.to_owned(),
        (parent, Some(name)) => format!("{parent}.{name}"),
        (".", None) => "body".to_owned(),
        (path, None) => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        count: u32,
    }

    fn err(raw: &str) -> ApiError {
        parse::<Body>(raw.as_bytes()).unwrap_err()
    }

    #[test]
    fn names_the_field_for_each_kind_of_data_error() {
        let e = err(r#"{"name":"a","count":"x"}"#);
        assert_eq!(e.details[0].field, "count");
        assert!(
            e.details[0].message.starts_with("invalid type: string \"x\", expected u32"),
            "{}",
            e.details[0].message
        );
        assert_eq!(err(r#"{"count":1}"#).details[0].field, "name");
        let unknown = err(r#"{"name":"a","count":1,"admin":true}"#);
        assert_eq!(unknown.details[0].field, "admin");
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Outer {
            inner: Body,
        }
        let nested = parse::<Outer>(br#"{"inner":{"name":"a","count":1,"x":0}}"#).unwrap_err();
        assert_eq!(nested.details[0].field, "inner.x");
        let missing = parse::<Outer>(br#"{"inner":{"name":"a"}}"#).unwrap_err();
        assert_eq!(missing.details[0].field, "inner.count");
        assert!(unknown.details[0].message.starts_with("unknown field `admin`"));
    }

    #[test]
    fn malformed_and_empty_bodies_are_bad_requests_without_details() {
        for raw in [r#"{"name":"#, "not json", "", "  ", r#"{"name":"a","count":1} trailing"#] {
            let e = err(raw);
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{raw}");
            assert!(e.details.is_empty(), "{raw}");
        }
        assert!(parse::<Body>(br#"{"name":"a","count":1}"#).is_ok());
        assert_eq!(err(r#"["a", 1]"#).details[0].message, "expected a JSON object");
        assert_eq!(err("42").details[0].field, "body");
    }

    #[test]
    fn json_content_types() {
        let ok = |v: &'static str| is_json_content_type(Some(&axum::http::HeaderValue::from_static(v)));
        assert!(ok("application/json") && ok("application/json; charset=utf-8") && ok("application/merge-patch+json"));
        assert!(!ok("text/plain") && !ok("application/x-www-form-urlencoded") && !is_json_content_type(None));
    }
}
