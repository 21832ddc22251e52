//! Progress bars for long work, drawn on stderr (and only when stderr is a terminal).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting entries up to `total`.
pub fn entries(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let style =
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} entries ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}

/// Returns a callback that advances `bar` every 4096 entries (drawing costs more than hashing).
pub fn ticker(bar: &ProgressBar) -> impl FnMut(u64) + '_ {
    move |n| {
        if n % 4096 == 0 {
            bar.set_position(n);
        }
    }
}

/// A bar counting bytes of a file read up to `total` (for files whose entry count is not
/// known before reading them).
pub fn bytes(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} ({eta})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}
