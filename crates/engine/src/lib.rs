//! The data plane: where tables live and, as later work adds it, how they are written,
//! read and queried (Delta Lake through delta-rs, SQL through DataFusion). No HTTP and
//! no authorization here: callers hand the engine only what a principal may touch.
//! This is the only crate allowed to depend on DataFusion and delta-rs.

mod warehouse;

pub use warehouse::{Warehouse, WarehouseError};
