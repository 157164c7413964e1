//! The control plane: who may do what, and the store that remembers organisations,
//! users, API keys, sessions and the audit trail. No HTTP and no table engine here; the
//! access model ([`access`]) and the list of audited events ([`events`]) are pure code.

pub mod access;
pub mod events;
pub mod secrets;
pub mod store;

pub use events::EventKind;
pub use store::{MetaError, MetaResult, MetaStore};
