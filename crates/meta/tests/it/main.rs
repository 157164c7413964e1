//! The metadata store against a real SQLite file.

mod store;
