//! Load-generator statistics: latency percentiles and rates.

use std::fmt::Write as _;
use std::time::Duration;

/// The nearest-rank percentile `p` (0 to 100) of `sorted` (ascending);
/// `None` when there are no samples.
///
/// ```
/// use ws_benches::stats::percentile;
/// let samples = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
/// assert_eq!(percentile(&samples, 50.0), Some(5));
/// assert_eq!(percentile(&samples, 99.0), Some(10));
/// assert_eq!(percentile(&[], 50.0), None);
/// ```
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p.clamp(0.0, 100.0) / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Round-trip times in nanoseconds.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    samples: Vec<u64>,
}

impl Latencies {
    /// Records one round trip.
    pub fn record(&mut self, rtt: Duration) {
        self.samples
            .push(u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX));
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// p50 and p99, sorting the samples.
    pub fn p50_p99(&mut self) -> (Option<Duration>, Option<Duration>) {
        self.samples.sort_unstable();
        let at = |p| percentile(&self.samples, p).map(Duration::from_nanos);
        (at(50.0), at(99.0))
    }
}

/// What one load-generator run measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Messages echoed back within the measured window.
    pub messages: u64,
    /// Their payload bytes (each echoed message counted once).
    pub bytes: u64,
    /// The measured window.
    pub elapsed: Duration,
    /// Median round trip.
    pub p50: Option<Duration>,
    /// 99th percentile round trip.
    pub p99: Option<Duration>,
    /// Server CPU time (user + system) over the window, if a PID was given.
    pub server_cpu: Option<Duration>,
}

impl Report {
    /// Echoed messages per second.
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = ws_benches::stats::Report { messages: 500, elapsed: Duration::from_millis(250), ..Default::default() };
    /// assert_eq!(r.messages_per_sec(), 2000.0);
    /// ```
    pub fn messages_per_sec(&self) -> f64 {
        per_sec(self.messages as f64, self.elapsed)
    }

    /// Echoed payload megabytes (10^6 bytes) per second, one direction.
    pub fn mb_per_sec(&self) -> f64 {
        per_sec(self.bytes as f64 / 1e6, self.elapsed)
    }

    /// Server CPU microseconds per echoed message.
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = ws_benches::stats::Report {
    ///     messages: 1000,
    ///     server_cpu: Some(Duration::from_millis(3)),
    ///     ..Default::default()
    /// };
    /// assert_eq!(r.cpu_us_per_message(), Some(3.0));
    /// ```
    pub fn cpu_us_per_message(&self) -> Option<f64> {
        let cpu = self.server_cpu?;
        (self.messages > 0).then(|| cpu.as_secs_f64() * 1e6 / self.messages as f64)
    }

    /// `key=value` pairs on one line, for scripts (`-` for a missing value).
    pub fn to_line(&self) -> String {
        let mut line = String::new();
        let us =
            |d: Option<Duration>| d.map_or("-".into(), |d| format!("{:.1}", d.as_secs_f64() * 1e6));
        let _ = write!(
            line,
            "messages={} secs={:.3} msg_per_s={:.0} mb_per_s={:.2} p50_us={} p99_us={} server_cpu_s={} cpu_us_per_msg={}",
            self.messages,
            self.elapsed.as_secs_f64(),
            self.messages_per_sec(),
            self.mb_per_sec(),
            us(self.p50),
            us(self.p99),
            self.server_cpu.map_or("-".into(), |d| format!("{:.3}", d.as_secs_f64())),
            self.cpu_us_per_message().map_or("-".into(), |v| format!("{v:.3}")),
        );
        line
    }
}

fn per_sec(amount: f64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        amount / secs
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let sorted: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&sorted, 50.0), Some(500));
        assert_eq!(percentile(&sorted, 99.0), Some(990));
        assert_eq!(percentile(&sorted, 100.0), Some(1000));
        assert_eq!(percentile(&sorted, 0.0), Some(1));
        assert_eq!(percentile(&[7], 99.0), Some(7));
    }

    #[test]
    fn latencies_sort_before_ranking() {
        let mut lat = Latencies::default();
        for us in [900, 100, 500, 300, 700] {
            lat.record(Duration::from_micros(us));
        }
        assert_eq!(
            lat.p50_p99(),
            (
                Some(Duration::from_micros(500)),
                Some(Duration::from_micros(900))
            )
        );
    }

    #[test]
    fn report_rates_and_line() {
        let report = Report {
            messages: 20_000,
            bytes: 20_000 * 1024,
            elapsed: Duration::from_secs(2),
            p50: Some(Duration::from_micros(40)),
            p99: None,
            server_cpu: Some(Duration::from_millis(70)),
        };
        assert_eq!(report.messages_per_sec(), 10_000.0);
        assert!((report.mb_per_sec() - 10.24).abs() < 1e-9);
        assert_eq!(report.cpu_us_per_message(), Some(3.5));
        let line = report.to_line();
        assert!(line.contains("msg_per_s=10000 "), "{line}");
        assert!(line.contains("p50_us=40.0 p99_us=- "), "{line}");
        assert!(line.ends_with("cpu_us_per_msg=3.500"), "{line}");
        let empty = Report::default();
        assert_eq!(empty.messages_per_sec(), 0.0);
        assert_eq!(empty.cpu_us_per_message(), None);
    }
}
