//! The faults of an input that does not fit a table, by row and column: every write and
//! import reports them the same way, and each surface shows them in its own terms.

/// At most this many faults are reported; the total is always counted.
pub const MAX_REPORTED_ERRORS: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    /// 0-based index of the row in the request.
    pub row: usize,
    pub column: Option<String>,
    pub message: String,
}

/// The faults of a whole input: the first [`MAX_REPORTED_ERRORS`] and how many in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowErrors {
    pub errors: Vec<RowError>,
    pub total: usize,
}

impl RowErrors {
    pub fn push(&mut self, row: usize, column: Option<&str>, message: impl Into<String>) {
        self.total += 1;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(RowError { row, column: column.map(str::to_owned), message: message.into() });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}
