//! Timing shared by the bench examples (the same protocol as tools/parity/timing.py).
use std::time::Instant;

/// Wall times of `runs` calls of a closure made after `warmup` untimed ones, in milliseconds,
/// sorted. The closure should end by reading its result back to the host (`into_data`), so that
/// asynchronous backends are timed to completion.
pub struct Timings(Vec<f64>);

impl Timings {
    pub fn measure<T>(warmup: usize, runs: usize, mut f: impl FnMut() -> T) -> Timings {
        assert!(runs > 0, "at least one timed run");
        for _ in 0..warmup {
            f();
        }
        let mut times: Vec<f64> = (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        Timings(times)
    }
}

/// `median 12.3 ms over 5 runs (min 12.0, max 13.1)`; the precision (`{:.2}`) applies to the times.
impl std::fmt::Display for Timings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = f.precision().unwrap_or(1);
        let (times, n) = (&self.0, self.0.len());
        write!(f, "median {:.p$} ms over {n} runs (min {:.p$}, max {:.p$})", times[n / 2], times[0], times[n - 1])
    }
}
