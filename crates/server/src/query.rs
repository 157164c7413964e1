//! `Query<T>` for query strings, answering bad parameters in the error shape with the
//! parameter named (request types deny unknown parameters).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(raw));
        serde_path_to_error::deserialize(de).map(Query).map_err(|err| {
            let path = err.path().to_string();
            let message = err.into_inner().to_string();
            let field = ["unknown field `", "missing field `"]
                .iter()
                .find_map(|p| message.strip_prefix(p).and_then(|rest| rest.split('`').next()).map(str::to_owned))
                .unwrap_or(if path == "." { "query".to_owned() } else { path });
            let message =
                message.replace("unknown field", "unknown parameter").replace("missing field", "missing parameter");
            ApiError::invalid_field(field, message)
        })
    }
}

fn form_urlencoded_parse(raw: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(raw.as_bytes())
}
