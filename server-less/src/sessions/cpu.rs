//! The session thread's own CPU time, so that a slow tick can be told
//! apart from a machine too busy to run it: Linux's scheduler statistics
//! for the thread (`/proc/thread-self/schedstat`, whose first field is
//! the nanoseconds it has spent on a CPU). Elsewhere nothing is read.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::time::Duration;

/// Reads the CPU time of the thread that opened it.
pub(super) struct ThreadCpu {
    file: Option<File>,
    buffer: [u8; 96],
}

impl ThreadCpu {
    /// The calling thread's clock (one that reads nothing where the
    /// kernel does not say).
    pub(super) fn open() -> Self {
        ThreadCpu {
            file: File::open("/proc/thread-self/schedstat").ok(),
            buffer: [0; 96],
        }
    }

    /// The CPU time the thread has used so far, if known.
    pub(super) fn used(&mut self) -> Option<Duration> {
        let file = self.file.as_mut()?;
        file.seek(SeekFrom::Start(0)).ok()?;
        let read = file.read(&mut self.buffer).ok()?;
        let text = std::str::from_utf8(self.buffer.get(..read)?).ok()?;
        let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
        Some(Duration::from_nanos(nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_thread_is_seen_using_about_the_time_it_spun_and_a_sleeping_one_not() {
        let mut clock = ThreadCpu::open();
        let Some(before) = clock.used() else {
            // Not Linux: nothing to read.
            return;
        };
        let spin = std::time::Instant::now();
        let mut x = 0u64;
        while spin.elapsed() < Duration::from_millis(50) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let spun = clock.used().unwrap() - before;
        std::thread::sleep(Duration::from_millis(50));
        let slept = clock.used().unwrap() - before - spun;
        // Spinning uses the CPU for most of the wall time (the machine
        // may take some of it away); sleeping hardly at all.
        assert!(spun >= Duration::from_millis(10), "{spun:?}");
        assert!(slept < Duration::from_millis(10), "{slept:?}");
    }
}
