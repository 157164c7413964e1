//! Who is calling: the Basic handshake (email and password, or the user name `token`
//! with an API key as the password) answered with a bearer credential, then that bearer
//! credential (or one sent directly) on every call, resolved as REST resolves it.

use std::net::{IpAddr, Ipv4Addr};
use std::pin::Pin;

use arrow_flight::HandshakeResponse;
use base64::Engine as _;
use futures::Stream;
use lakeward_meta::access::Principal;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Request, Response, Status};

use crate::auth::{RequestMeta, resolve_bearer};
use crate::flight::status::status;
use crate::services::sign_in::sign_in;
use crate::state::AppState;

/// The user name that says the password is an API key.
const API_KEY_USER: &str = "token";

pub type HandshakeStream = Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>;

/// Where a call came from, for the audit trail.
pub fn request_meta<T>(request: &Request<T>) -> RequestMeta {
    RequestMeta {
        client_ip: request.remote_addr().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip()),
        request_id: request.metadata().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned),
    }
}

fn authorization(metadata: &MetadataMap) -> Result<&str, Status> {
    metadata
        .get("authorization")
        .ok_or_else(|| Status::unauthenticated("Missing credentials: send authorization: Bearer <token>"))?
        .to_str()
        .map_err(|_| Status::unauthenticated("The authorization header is not text"))
}

/// The principal of a call that carries `authorization: Bearer <session token or API key>`.
pub async fn principal<T>(state: &AppState, request: &Request<T>) -> Result<Principal, Status> {
    let header = authorization(request.metadata())?;
    let token = header
        .strip_prefix("Bearer ")
        .ok_or_else(|| Status::unauthenticated("Send authorization: Bearer <token> (Basic only in the handshake)"))?;
    resolve_bearer(state, token.trim()).await.map_err(status)
}

/// The handshake: Basic credentials in, `authorization: Bearer …` out (in the answer's
/// metadata and its payload). A bearer credential sent to the handshake is checked and
/// handed back.
pub async fn handshake<T>(state: &AppState, request: &Request<T>) -> Result<Response<HandshakeStream>, Status> {
    let header = authorization(request.metadata())?;
    let bearer = if let Some(token) = header.strip_prefix("Bearer ") {
        resolve_bearer(state, token.trim()).await.map_err(status)?;
        token.trim().to_owned()
    } else if let Some(encoded) = header.strip_prefix("Basic ") {
        // With or without padding: drivers differ (Go's ADBC driver leaves it out).
        let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(encoded.trim().trim_end_matches('='))
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| Status::unauthenticated("Basic credentials must be base64 of user:password"))?;
        let (user, password) = decoded
            .split_once(':')
            .ok_or_else(|| Status::unauthenticated("Basic credentials must be user:password"))?;
        if user == API_KEY_USER {
            resolve_bearer(state, password).await.map_err(status)?;
            password.to_owned()
        } else {
            let (_, token) = sign_in(state, &request_meta(request), user, password).await.map_err(status)?;
            token.access_token
        }
    } else {
        return Err(Status::unauthenticated("Send Basic or Bearer credentials"));
    };
    let value = MetadataValue::try_from(format!("Bearer {bearer}")).map_err(|e| Status::internal(e.to_string()))?;
    let answer = HandshakeResponse { protocol_version: 0, payload: bearer.into_bytes().into() };
    let mut response: Response<HandshakeStream> = Response::new(Box::pin(futures::stream::iter([Ok(answer)])));
    response.metadata_mut().insert("authorization", value);
    Ok(response)
}
