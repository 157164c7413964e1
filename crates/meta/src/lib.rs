//! The control plane: who may do what, and the store that remembers organisations,
//! users, API keys, sessions and the audit trail. No HTTP and no table engine here; the
//! access model ([`access`]) is pure code.

pub mod access;
pub mod secrets;
pub mod store;

pub use store::{MetaError, MetaResult, MetaStore};
