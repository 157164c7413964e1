//! Progress of uploads, downloads and jobs, on stderr. On a terminal: an indicatif bar.
//! Anywhere else (a pipe, a log, a test): plain lines `upload 40%`, one each time the
//! percentage has moved on by at least 10 points, and always a last `upload 100%`, so a
//! log shows that the work advanced and finished without a bar's control codes.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What the counts are, for the bar's labels.
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    Bytes,
    /// Work counted in anything else (a job's rows, bytes or steps): the bar shows percent.
    Work,
}

/// Shared by the code that advances it (an upload's body is read on reqwest's tasks).
#[derive(Clone)]
pub struct Progress(Arc<Inner>);

struct Inner {
    label: String,
    bar: Option<ProgressBar>,
    /// Plain lines: the work done, the total (0 = not known yet) and the last percentage
    /// printed (`u64::MAX` before the first).
    done: AtomicU64,
    total: AtomicU64,
    printed: AtomicU64,
}

const NOTHING_PRINTED: u64 = u64::MAX;

impl Progress {
    /// A bar on a terminal, plain lines elsewhere.
    pub fn new(label: &str, unit: Unit, total: Option<u64>) -> Self {
        Self::with_terminal(label, unit, total, std::io::stderr().is_terminal())
    }

    fn with_terminal(label: &str, unit: Unit, total: Option<u64>, terminal: bool) -> Self {
        let bar = terminal.then(|| {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            let template = match (unit, total.is_some()) {
                (Unit::Bytes, true) => "{prefix:>8} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
                (Unit::Bytes, false) => "{prefix:>8} {spinner} {bytes} {bytes_per_sec} {msg}",
                (Unit::Work, _) => "{prefix:>8} [{bar:30}] {percent:>3}% {elapsed} {msg}",
            };
            let style = ProgressStyle::with_template(template).expect("valid template").progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(label.to_owned());
            bar
        });
        Self(Arc::new(Inner {
            label: label.to_owned(),
            bar,
            done: AtomicU64::new(0),
            total: AtomicU64::new(total.unwrap_or(0)),
            printed: AtomicU64::new(NOTHING_PRINTED),
        }))
    }

    pub fn set_total(&self, total: u64) {
        if let Some(bar) = &self.0.bar
            && bar.length() != Some(total)
        {
            bar.set_length(total);
        }
        self.0.total.store(total, Ordering::Relaxed);
    }

    pub fn set_position(&self, done: u64) {
        match &self.0.bar {
            Some(bar) => bar.set_position(done),
            None => {
                self.0.done.store(done, Ordering::Relaxed);
                self.print_if_moved(done);
            }
        }
    }

    pub fn inc(&self, delta: u64) {
        match &self.0.bar {
            Some(bar) => bar.inc(delta),
            None => {
                let done = self.0.done.fetch_add(delta, Ordering::Relaxed) + delta;
                self.print_if_moved(done);
            }
        }
    }

    pub fn set_message(&self, message: String) {
        if let Some(bar) = &self.0.bar {
            bar.set_message(message);
        }
    }

    /// The work is complete: the bar full, or the last `100%` line.
    pub fn finish(&self) {
        match &self.0.bar {
            Some(bar) => {
                if let Some(total) = bar.length() {
                    bar.set_position(total);
                }
                bar.finish();
            }
            None => {
                if self.0.printed.swap(100, Ordering::Relaxed) != 100 {
                    self.line(100);
                }
            }
        }
    }

    /// The work stopped short (an error, a cancel): the bar stays where it was.
    pub fn abandon(&self) {
        if let Some(bar) = &self.0.bar {
            bar.abandon();
        }
    }

    fn print_if_moved(&self, done: u64) {
        let total = self.0.total.load(Ordering::Relaxed);
        if total == 0 {
            return;
        }
        let percent = (done.min(total) * 100 / total).min(100);
        let mut printed = self.0.printed.load(Ordering::Relaxed);
        loop {
            if !moved_enough(printed, percent) {
                return;
            }
            match self.0.printed.compare_exchange(printed, percent, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return self.line(percent),
                Err(now) => printed = now,
            }
        }
    }

    fn line(&self, percent: u64) {
        // One write per line, so lines of parallel writers do not interleave mid-line.
        let _ = std::io::stderr().write_all(format!("{} {percent}%\n", self.0.label).as_bytes());
    }
}

/// Whether `percent` gets a line after `printed`: the first one, one 10 points on, and 100.
fn moved_enough(printed: u64, percent: u64) -> bool {
    printed == NOTHING_PRINTED || percent >= printed.saturating_add(10) || (percent == 100 && printed != 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_every_ten_points_and_at_the_end() {
        let mut printed = NOTHING_PRINTED;
        let mut lines = Vec::new();
        for percent in [3, 5, 12, 13, 14, 25, 60, 61, 69, 70, 99, 100, 100] {
            if moved_enough(printed, percent) {
                printed = percent;
                lines.push(percent);
            }
        }
        assert_eq!(lines, vec![3, 13, 25, 60, 70, 99, 100]);
    }
}
