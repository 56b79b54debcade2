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
    fn a_spinning_thread_moves_its_cpu_clock_on_and_a_sleeping_one_hardly() {
        let mut clock = ThreadCpu::open();
        let Some(before) = clock.used() else {
            // Not Linux: nothing to read.
            return;
        };
        // Spinning moves the clock on (however much of the machine other
        // work takes: up to five seconds are given to use 20 ms)...
        let spin = std::time::Instant::now();
        let mut x = 0u64;
        let mut spun = Duration::ZERO;
        while spun < Duration::from_millis(20) && spin.elapsed() < Duration::from_secs(5) {
            for _ in 0..10_000 {
                x = x.wrapping_mul(31).wrapping_add(7);
            }
            spun = clock.used().unwrap() - before;
        }
        std::hint::black_box(x);
        assert!(spun >= Duration::from_millis(20), "{spun:?}");
        // ...and sleeping hardly at all.
        std::thread::sleep(Duration::from_millis(50));
        let slept = clock.used().unwrap() - before - spun;
        assert!(slept < Duration::from_millis(10), "{slept:?}");
    }
}
