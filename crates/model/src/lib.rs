//! Plain types shared by the control plane (`lakeward-meta`) and the data plane
//! (`lakeward-engine`): validated identifiers and table references. No IO lives here.

mod ident;
pub mod query;

pub use ident::{Ident, IdentError, TableRef};
