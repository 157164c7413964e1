//! Workflows every surface calls (REST handlers today; GraphQL, Flight SQL and the console
//! next): each authorizes nothing itself (callers have), and does its steps all or none,
//! auditing what it changed. Handlers only extract, authorize, call a service or an engine
//! operation, and render.

pub mod clones;
pub mod compare;
pub mod domains;
pub mod imports;
pub mod maintenance;
pub mod rows;
pub mod scope;
pub mod sign_in;
pub mod sql;
pub mod storages;
pub mod tables;
