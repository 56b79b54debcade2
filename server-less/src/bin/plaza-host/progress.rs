//! Progress bars for `init --join`: the genesis, then the snapshot's
//! chunks, with bytes, chunks and the time left.

use indicatif::{ProgressBar, ProgressStyle};
use server_less::joining::Progress;

/// The bar being shown, if any.
#[derive(Default)]
pub(crate) struct JoinBars {
    genesis: Option<ProgressBar>,
    snapshot: Option<ProgressBar>,
}

fn bar(total: u64, message: String) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:>22} [{bar:32}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message);
    bar
}

impl JoinBars {
    /// Shows `step`.
    pub(crate) fn show(&mut self, step: Progress) {
        match step {
            Progress::Genesis { got, total } => {
                let shown = self
                    .genesis
                    .get_or_insert_with(|| bar(total, "genesis".into()));
                shown.set_position(got);
            }
            Progress::Snapshot {
                height,
                got,
                total,
                chunks,
                of,
            } => {
                if let Some(genesis) = self.genesis.take() {
                    genesis.finish();
                }
                let shown = self
                    .snapshot
                    .get_or_insert_with(|| bar(total, format!("snapshot {height}")));
                shown.set_position(got);
                shown.set_message(format!("snapshot {height} {chunks}/{of}"));
            }
        }
    }

    /// Leaves the bars as they ended.
    pub(crate) fn finish(&mut self) {
        for bar in [self.genesis.take(), self.snapshot.take()]
            .into_iter()
            .flatten()
        {
            bar.finish();
        }
    }
}
