//! What the proxy does to a connection: the faults, a connection's plan of
//! them (a fixed schedule, or drawn at random from a seed), and the text
//! form the `fault-proxy` command line takes.

use core::fmt;
use std::time::Duration;

/// Which way the bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// From the client to the server.
    Up,
    /// From the server to the client.
    Down,
    /// Both ways.
    Both,
}

impl Dir {
    /// Whether this covers the direction `one` (`Up` or `Down`).
    ///
    /// ```
    /// use ws_soak::fault::Dir;
    /// assert!(Dir::Both.covers(Dir::Up) && !Dir::Down.covers(Dir::Up));
    /// ```
    pub fn covers(self, one: Self) -> bool {
        self == Self::Both || self == one
    }

    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "up" => Ok(Self::Up),
            "down" => Ok(Self::Down),
            "both" => Ok(Self::Both),
            _ => Err(format!("direction {text:?}: expected up, down or both")),
        }
    }

    /// `up`, `down` or `both`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Both => "both",
        }
    }
}

/// One fault, applied to one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Every chunk read during `period` is delivered `delay` plus up to
    /// `jitter` later (order kept).
    Latency {
        /// Which way.
        dir: Dir,
        /// Added to every chunk.
        delay: Duration,
        /// A further random delay, uniform in `[0, jitter]`.
        jitter: Duration,
        /// How long it lasts.
        period: Duration,
    },
    /// At most `bytes_per_sec` are written during `period`.
    Bandwidth {
        /// Which way.
        dir: Dir,
        /// The cap.
        bytes_per_sec: u64,
        /// How long it lasts.
        period: Duration,
    },
    /// A blackhole: no bytes are delivered during `period` and the TCP
    /// connections stay open (what arrives is held, and delivered after,
    /// as TCP would retransmit it; once the proxy's buffer is full the
    /// sender's socket fills up).
    Stall {
        /// Which way.
        dir: Dir,
        /// How long it lasts.
        period: Duration,
    },
    /// Both sockets closed with `SO_LINGER` 0: each endpoint gets an RST.
    Reset,
    /// A FIN toward the receiving end of `dir` (`up`: the server; `down`:
    /// the client; `both`: both); what is still sent that way is dropped,
    /// the other direction keeps flowing.
    HalfClose {
        /// Which way stops.
        dir: Dir,
    },
    /// A clean cut: a FIN to both endpoints, what they still send is
    /// dropped, the sockets close once both have closed (or after a bound).
    Cut,
}

impl Fault {
    /// The fault's name in the log: `latency`, `bandwidth`, `stall`,
    /// `reset`, `halfclose`, `cut`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Latency { .. } => "latency",
            Self::Bandwidth { .. } => "bandwidth",
            Self::Stall { .. } => "stall",
            Self::Reset => "reset",
            Self::HalfClose { .. } => "halfclose",
            Self::Cut => "cut",
        }
    }

    /// Whether the connection ends with it.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Reset | Self::Cut)
    }

    /// Parses `latency:DIR:DELAY[:JITTER]:FOR`, `bandwidth:DIR:BYTES_PER_SEC:FOR`,
    /// `stall:DIR:FOR`, `reset`, `halfclose:DIR` or `cut`; durations as
    /// `250ms`, `2s`, `1.5s`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ws_soak::fault::{Dir, Fault};
    /// assert_eq!(
    ///     Fault::parse("stall:both:12s").unwrap(),
    ///     Fault::Stall { dir: Dir::Both, period: Duration::from_secs(12) }
    /// );
    /// assert!(Fault::parse("stall:sideways:1s").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split(':').collect();
        let fault =
            match parts.as_slice() {
                ["latency", dir, delay, period] => Self::Latency {
                    dir: Dir::parse(dir)?,
                    delay: parse_duration(delay)?,
                    jitter: Duration::ZERO,
                    period: parse_duration(period)?,
                },
                ["latency", dir, delay, jitter, period] => Self::Latency {
                    dir: Dir::parse(dir)?,
                    delay: parse_duration(delay)?,
                    jitter: parse_duration(jitter)?,
                    period: parse_duration(period)?,
                },
                ["bandwidth", dir, rate, period] => Self::Bandwidth {
                    dir: Dir::parse(dir)?,
                    bytes_per_sec: rate.parse().ok().filter(|&r| r > 0).ok_or_else(|| {
                        format!("bandwidth {rate:?}: expected bytes per second > 0")
                    })?,
                    period: parse_duration(period)?,
                },
                ["stall", dir, period] => Self::Stall {
                    dir: Dir::parse(dir)?,
                    period: parse_duration(period)?,
                },
                ["reset"] => Self::Reset,
                ["halfclose", dir] => Self::HalfClose {
                    dir: Dir::parse(dir)?,
                },
                ["cut"] => Self::Cut,
                _ => return Err(format!("fault {text:?}: see `fault-proxy --help`")),
            };
        Ok(fault)
    }
}

impl fmt::Display for Fault {
    /// The form [`Fault::parse`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Latency {
                dir,
                delay,
                jitter,
                period,
            } => write!(
                f,
                "latency:{}:{}ms:{}ms:{}ms",
                dir.name(),
                delay.as_millis(),
                jitter.as_millis(),
                period.as_millis()
            ),
            Self::Bandwidth {
                dir,
                bytes_per_sec,
                period,
            } => write!(
                f,
                "bandwidth:{}:{bytes_per_sec}:{}ms",
                dir.name(),
                period.as_millis()
            ),
            Self::Stall { dir, period } => {
                write!(f, "stall:{}:{}ms", dir.name(), period.as_millis())
            }
            Self::Reset => f.write_str("reset"),
            Self::HalfClose { dir } => write!(f, "halfclose:{}", dir.name()),
            Self::Cut => f.write_str("cut"),
        }
    }
}

/// `250ms`, `2s`, `1.5s`, `0`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(ws_soak::fault::parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
/// assert_eq!(ws_soak::fault::parse_duration("20ms"), Ok(Duration::from_millis(20)));
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("duration {text:?}: expected e.g. 250ms, 2s or 1.5s");
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 1e-3)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1.0)
    } else if text == "0" {
        ("0", 1.0)
    } else {
        return Err(bad());
    };
    let value: f64 = number.parse().map_err(|_| bad())?;
    if !value.is_finite() || value < 0.0 || value * scale > 1e9 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(value * scale))
}

/// A small deterministic generator (SplitMix64): the same seed gives the
/// same faults, and the same jitter.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[low, high]`.
    pub fn between(&mut self, low: Duration, high: Duration) -> Duration {
        if high <= low {
            return low;
        }
        low + (high - low).mul_f64(self.unit())
    }
}

/// The parameters of random faults; each connection draws its own plan
/// from `seed` and its id.
#[derive(Debug, Clone)]
pub struct RandomFaults {
    /// The seed.
    pub seed: u64,
    /// The mean time between two faults on one connection (exponential
    /// gaps), counted from the connection's start.
    pub mean_gap: Duration,
    /// Stalls "shorter than the idle timeout" last up to this.
    pub short_stall: Duration,
    /// Stalls "longer than the idle timeout" last at least this (and up to
    /// 1.5 times it).
    pub long_stall: Duration,
    /// Latency spikes add between half this and this.
    pub spike: Duration,
    /// Latency spikes and bandwidth caps last up to this.
    pub episode: Duration,
}

impl RandomFaults {
    /// The plan of connection `conn`: an endless list of (time since the
    /// connection opened, fault), drawn from the seed and `conn`.
    /// Weights: latency spike 24 %, bandwidth cap 18 %, short stall 20 %,
    /// long stall 16 %, reset 8 %, half-close 6 %, cut 8 %.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ws_soak::fault::RandomFaults;
    /// let faults = RandomFaults {
    ///     seed: 1, mean_gap: Duration::from_secs(10), short_stall: Duration::from_secs(2),
    ///     long_stall: Duration::from_secs(9), spike: Duration::from_secs(2), episode: Duration::from_secs(5),
    /// };
    /// let a: Vec<_> = faults.plan(7).take(20).collect();
    /// let b: Vec<_> = faults.plan(7).take(20).collect();
    /// assert_eq!(a, b);
    /// ```
    pub fn plan(&self, conn: u64) -> impl Iterator<Item = (Duration, Fault)> {
        let params = self.clone();
        let mut rng = Rng::new(self.seed ^ conn.wrapping_mul(0xa076_1d64_78bd_642f));
        let mut at = Duration::ZERO;
        core::iter::from_fn(move || {
            // Exponential gap, at least 10 ms.
            let gap = params.mean_gap.mul_f64(-(1.0 - rng.unit()).ln().min(50.0));
            at += gap.max(Duration::from_millis(10));
            let dir = match rng.next_u64() % 3 {
                0 => Dir::Up,
                1 => Dir::Down,
                _ => Dir::Both,
            };
            let pick = rng.next_u64() % 100;
            let second = Duration::from_secs(1);
            let fault = match pick {
                0..24 => Fault::Latency {
                    dir,
                    delay: rng.between(params.spike / 2, params.spike),
                    jitter: params.spike / 4,
                    period: rng.between(second.min(params.episode), params.episode),
                },
                24..42 => Fault::Bandwidth {
                    dir,
                    bytes_per_sec: 1024 + rng.next_u64() % (63 * 1024),
                    period: rng.between(second.min(params.episode), params.episode),
                },
                42..62 => Fault::Stall {
                    dir,
                    period: rng.between(params.short_stall / 4, params.short_stall),
                },
                62..78 => Fault::Stall {
                    dir,
                    period: rng.between(params.long_stall, params.long_stall.mul_f64(1.5)),
                },
                78..86 => Fault::Reset,
                86..92 => Fault::HalfClose { dir },
                _ => Fault::Cut,
            };
            Some((at, fault))
        })
    }
}

/// Where a connection's faults come from.
#[derive(Debug, Clone)]
pub enum Plan {
    /// No faults: a plain relay.
    None,
    /// The same schedule for every connection (times since it opened).
    Fixed(Vec<(Duration, Fault)>),
    /// Drawn at random, per connection.
    Random(RandomFaults),
}

impl Plan {
    /// The faults for connection `conn`, in time order.
    pub fn for_connection(&self, conn: u64) -> Box<dyn Iterator<Item = (Duration, Fault)> + Send> {
        match self {
            Self::None => Box::new(core::iter::empty()),
            Self::Fixed(list) => {
                let mut list = list.clone();
                list.sort_by_key(|(at, _)| *at);
                Box::new(list.into_iter())
            }
            Self::Random(random) => Box::new(random.plan(conn)),
        }
    }
}

/// Parses one schedule entry, `AT@FAULT` (e.g. `2s@stall:both:10s`).
///
/// ```
/// use std::time::Duration;
/// use ws_soak::fault::{parse_entry, Fault};
/// assert_eq!(parse_entry("500ms@reset"), Ok((Duration::from_millis(500), Fault::Reset)));
/// ```
pub fn parse_entry(text: &str) -> Result<(Duration, Fault), String> {
    let (at, fault) = text
        .split_once('@')
        .ok_or_else(|| format!("schedule entry {text:?}: expected AT@FAULT"))?;
    Ok((parse_duration(at)?, Fault::parse(fault)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn every_fault_parses_and_prints_back() {
        let cases = [
            (
                "latency:up:200ms:2s",
                Fault::Latency {
                    dir: Dir::Up,
                    delay: ms(200),
                    jitter: ms(0),
                    period: ms(2000),
                },
            ),
            (
                "latency:both:1s:250ms:3s",
                Fault::Latency {
                    dir: Dir::Both,
                    delay: ms(1000),
                    jitter: ms(250),
                    period: ms(3000),
                },
            ),
            (
                "bandwidth:down:4096:1.5s",
                Fault::Bandwidth {
                    dir: Dir::Down,
                    bytes_per_sec: 4096,
                    period: ms(1500),
                },
            ),
            (
                "stall:down:45s",
                Fault::Stall {
                    dir: Dir::Down,
                    period: ms(45_000),
                },
            ),
            ("reset", Fault::Reset),
            ("halfclose:up", Fault::HalfClose { dir: Dir::Up }),
            ("cut", Fault::Cut),
        ];
        for (text, fault) in cases {
            assert_eq!(Fault::parse(text).as_ref(), Ok(&fault), "{text}");
            assert_eq!(Fault::parse(&fault.to_string()), Ok(fault), "{text}");
        }
    }

    #[test]
    fn bad_faults_are_refused_in_words() {
        for text in [
            "",
            "stall",
            "stall:up",
            "stall:up:10",
            "stall:north:1s",
            "bandwidth:up:0:1s",
            "bandwidth:up:fast:1s",
            "latency:up:-1s:2s",
            "reset:now",
            "halfclose",
            "explode",
        ] {
            let err = Fault::parse(text).unwrap_err();
            assert!(!err.is_empty(), "{text}");
        }
        assert!(parse_entry("reset").is_err());
        assert!(parse_entry("soon@reset").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0.25s"), Ok(ms(250)));
        assert_eq!(parse_duration("3s"), Ok(ms(3000)));
        for bad in ["", "s", "ms", "3", "3m", "NaNs", "infs", "-2s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    fn random() -> RandomFaults {
        RandomFaults {
            seed: 42,
            mean_gap: Duration::from_secs(10),
            short_stall: Duration::from_secs(4),
            long_stall: Duration::from_secs(12),
            spike: Duration::from_secs(2),
            episode: Duration::from_secs(5),
        }
    }

    #[test]
    fn random_plans_repeat_per_seed_and_differ_per_connection() {
        let faults = random();
        let a: Vec<_> = faults.plan(3).take(50).collect();
        assert_eq!(a, faults.plan(3).take(50).collect::<Vec<_>>());
        assert_ne!(a, faults.plan(4).take(50).collect::<Vec<_>>());
        let other_seed = RandomFaults {
            seed: 43,
            ..random()
        };
        assert_ne!(a, other_seed.plan(3).take(50).collect::<Vec<_>>());
    }

    #[test]
    fn random_plans_have_every_kind_in_bounds_and_in_order() {
        let faults = random();
        let mut kinds = std::collections::BTreeMap::new();
        let mut short = 0;
        let mut long = 0;
        for conn in 0..200 {
            let mut last = Duration::ZERO;
            for (at, fault) in faults.plan(conn).take(20) {
                assert!(at > last, "times increase");
                last = at;
                *kinds.entry(fault.kind()).or_insert(0) += 1;
                match fault {
                    Fault::Stall { period, .. } if period >= faults.long_stall => {
                        assert!(period <= faults.long_stall.mul_f64(1.5));
                        long += 1;
                    }
                    Fault::Stall { period, .. } => {
                        assert!(period <= faults.short_stall);
                        short += 1;
                    }
                    Fault::Latency { delay, period, .. } => {
                        assert!(delay >= faults.spike / 2 && delay <= faults.spike);
                        assert!(period <= faults.episode);
                    }
                    Fault::Bandwidth { bytes_per_sec, .. } => assert!(bytes_per_sec >= 1024),
                    _ => {}
                }
            }
        }
        assert_eq!(kinds.len(), 6, "{kinds:?}");
        // 4,000 draws: the weights show (loosely).
        assert!(short > 500 && long > 400, "short {short} long {long}");
        // The mean gap is about 10 s.
        let total: Duration = (0..200).map(|c| faults.plan(c).nth(19).unwrap().0).sum();
        let mean = total / (200 * 20);
        assert!(mean > ms(8000) && mean < ms(12000), "{mean:?}");
    }

    #[test]
    fn fixed_plans_come_sorted() {
        let plan = Plan::Fixed(vec![
            (ms(2000), Fault::Cut),
            (
                ms(500),
                Fault::Stall {
                    dir: Dir::Up,
                    period: ms(100),
                },
            ),
        ]);
        let times: Vec<_> = plan.for_connection(9).map(|(at, _)| at).collect();
        assert_eq!(times, [ms(500), ms(2000)]);
        assert_eq!(Plan::None.for_connection(1).count(), 0);
    }
}
