//! Tickets and prepared-statement handles: what they stand for, signed with the server
//! secret and bound to the principal that asked for them. Nothing is kept on the server,
//! so any replica with the same secret serves them; another principal (or a changed
//! byte) is refused.

use bytes::Bytes;
use lakeward_meta::access::Principal;
use lakeward_meta::secrets;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tonic::Status;
use uuid::Uuid;

use crate::state::AppState;

/// A query to run: in a statement ticket, and in a prepared statement's handle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Statement {
    pub query: String,
    /// Parameter values bound to it: one row as an Arrow IPC stream, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Bound<T> {
    user: Uuid,
    org: Uuid,
    value: T,
}

/// `value` as bytes only the server can have made, for `principal` alone.
pub fn seal<T: Serialize>(state: &AppState, purpose: &str, principal: &Principal, value: T) -> Result<Bytes, Status> {
    let bound = Bound { user: principal.user_id, org: principal.org_id, value };
    let payload = serde_json::to_vec(&bound).map_err(|e| Status::internal(e.to_string()))?;
    Ok(secrets::sign(&state.config.secret, purpose, &payload).into())
}

/// The value `seal` put in `bytes`, if `principal` is the one it was made for.
pub fn open<T: DeserializeOwned>(
    state: &AppState,
    purpose: &str,
    principal: &Principal,
    bytes: &[u8],
) -> Result<T, Status> {
    let payload = secrets::verify_signed(&state.config.secret, purpose, bytes).ok_or_else(|| {
        Status::invalid_argument(format!("this {purpose} was not issued by this server or was altered"))
    })?;
    let bound: Bound<T> = serde_json::from_slice(payload).map_err(|e| Status::invalid_argument(e.to_string()))?;
    if bound.user != principal.user_id || bound.org != principal.org_id {
        return Err(Status::permission_denied(format!("this {purpose} was issued to another principal")));
    }
    Ok(bound.value)
}
