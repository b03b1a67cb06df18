//! What the soak client makes of the proxy's fault log and its own record
//! of each connection: which stalls were dead links and how fast they were
//! detected, and what each fault looked like to the client.
//!
//! Connections are matched by the request path (the client's id), which
//! the proxy logs, and by time. A fault applied to a proxy connection that
//! the client has already replaced (a dead link it gave up on, still open
//! in the proxy until its stall ends) is seen by no client and is left out.

use std::collections::BTreeMap;
use std::time::Duration;

use ws_tokio::CloseCode;

use crate::log::field;

/// One connection's life, as a client saw it.
#[derive(Debug, Clone)]
pub struct Life {
    /// The client's request path.
    pub path: String,
    /// When its handshake finished (ms since the Unix epoch).
    pub opened_ms: u64,
    /// How it ended, if it did before the run was over.
    pub lost: Option<Loss>,
}

/// The end of a connection, as the client saw it.
#[derive(Debug, Clone)]
pub struct Loss {
    /// When (ms since the Unix epoch).
    pub t_ms: u64,
    /// The close code the application saw (1006 for a dropped transport).
    pub code: CloseCode,
    /// The error with it, in words (`io ConnectionReset`), or empty.
    pub error: String,
}

/// One fault line of the proxy's log.
#[derive(Debug, Clone)]
pub struct LoggedFault {
    /// When it was applied (ms since the Unix epoch).
    pub t_ms: u64,
    /// The proxy's connection id.
    pub conn: u64,
    /// `stall`, `reset`, ...
    pub kind: String,
    /// `up`, `down`, `both`, or empty.
    pub dir: String,
    /// How long it lasts, or 0.
    pub ms: u64,
}

/// The proxy's fault log, read back.
#[derive(Debug, Default)]
pub struct FaultRecord {
    /// Every fault applied.
    pub total: usize,
    /// The faults applied to a client's current connection.
    pub faults: Vec<LoggedFault>,
    /// Each proxy connection's request path.
    pub paths: BTreeMap<u64, String>,
    /// When each proxy connection's request went through.
    pub requested: BTreeMap<u64, u64>,
}

impl FaultRecord {
    /// Reads the JSON lines of [`FaultLog`](crate::log::FaultLog).
    pub fn parse(text: &str) -> Self {
        let mut log = Self::default();
        let number = |line: &str, key: &str| field(line, key).and_then(|v| v.parse().ok());
        for line in text.lines() {
            let conn = number(line, "conn").unwrap_or(0);
            match field(line, "event") {
                Some("request") => {
                    if let Some(p) = field(line, "path") {
                        log.paths.insert(conn, p.to_owned());
                        log.requested
                            .insert(conn, number(line, "t_ms").unwrap_or(0));
                    }
                }
                Some("fault") => log.faults.push(LoggedFault {
                    t_ms: number(line, "t_ms").unwrap_or(0),
                    conn,
                    kind: field(line, "fault").unwrap_or("?").to_owned(),
                    dir: field(line, "dir").unwrap_or("").to_owned(),
                    ms: number(line, "ms").unwrap_or(0),
                }),
                _ => {}
            }
        }
        log.total = log.faults.len();
        let mut by_path: BTreeMap<&str, Vec<(u64, u64)>> = BTreeMap::new();
        for (conn, path) in &log.paths {
            by_path
                .entry(path.as_str())
                .or_default()
                .push((log.requested[conn], *conn));
        }
        // Current: no newer connection of the same client had made its
        // request by the time of the fault.
        let current: Vec<bool> = log
            .faults
            .iter()
            .map(|fault| {
                let (Some(path), Some(&since)) =
                    (log.paths.get(&fault.conn), log.requested.get(&fault.conn))
                else {
                    return false;
                };
                !by_path[path.as_str()]
                    .iter()
                    .any(|&(t, c)| c != fault.conn && t > since && t <= fault.t_ms)
            })
            .collect();
        let mut current = current.into_iter();
        log.faults.retain(|_| current.next().unwrap_or(false));
        log
    }

    /// The life of the client's connection that `fault` hit: opened after
    /// the proxy connection's request, before the fault, not lost before it.
    fn life_of<'a>(&self, fault: &LoggedFault, lives: &'a [Life]) -> Option<&'a Life> {
        let path = self.paths.get(&fault.conn)?;
        let since = self.requested.get(&fault.conn).copied().unwrap_or(0);
        lives.iter().find(|l| {
            &l.path == path
                && l.opened_ms + 100 >= since
                && l.opened_ms <= fault.t_ms
                && l.lost.as_ref().is_none_or(|loss| loss.t_ms >= fault.t_ms)
        })
    }
}

/// The findings.
#[derive(Debug, Default)]
pub struct Analysis {
    /// For each stall longer than the idle timeout on an open connection,
    /// the seconds until the client lost that connection; sorted.
    pub detections: Vec<f64>,
    /// Such stalls that did not end the connection within the bound (one
    /// line each), leaving out those whose window reached the quiesce.
    pub undetected: Vec<String>,
    /// Per fault (kind, direction, stall short or long): how many connections
    /// it hit were lost within the bound, and how many stayed up.
    pub outcome: BTreeMap<String, (u64, u64)>,
    /// Per fault that explains a loss: what the client saw (client kind,
    /// close code, error), counted.
    pub table: BTreeMap<String, BTreeMap<String, u64>>,
}

fn name(fault: &LoggedFault, idle_ms: u64) -> String {
    match fault.kind.as_str() {
        "stall" if fault.ms > idle_ms => format!("stall {} long", fault.dir),
        "stall" => format!("stall {} short", fault.dir),
        _ if fault.dir.is_empty() => fault.kind.clone(),
        _ => format!("{} {}", fault.kind, fault.dir),
    }
}

/// Matches the faults with the connections' lives. `bound` is the longest
/// detection allowed (ping interval + idle timeout + slack); stalls whose
/// window reaches `quiesced_ms` (when the proxy stopped injecting and
/// stalls ended) are not counted as undetected.
pub fn analyse(
    log: &FaultRecord,
    lives: &[Life],
    idle: Duration,
    bound: Duration,
    quiesced_ms: u64,
) -> Analysis {
    let idle_ms = idle.as_millis() as u64;
    let bound_ms = bound.as_millis() as u64;
    let mut out = Analysis::default();
    for fault in &log.faults {
        let Some(life) = log.life_of(fault, lives) else {
            continue;
        };
        let lost_in_time = life
            .lost
            .as_ref()
            .is_some_and(|loss| loss.t_ms <= fault.t_ms + bound_ms);
        let entry = out.outcome.entry(name(fault, idle_ms)).or_default();
        if lost_in_time {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
        if fault.kind != "stall" || fault.ms <= idle_ms {
            continue;
        }
        match &life.lost {
            Some(loss) if lost_in_time => {
                out.detections
                    .push((loss.t_ms - fault.t_ms) as f64 / 1000.0);
            }
            _ if fault.t_ms + bound_ms >= quiesced_ms => {}
            _ => out.undetected.push(format!(
                "{}: stall of {} ms at {} not detected within {bound:?}",
                life.path, fault.ms, fault.t_ms
            )),
        }
    }
    out.detections.sort_by(f64::total_cmp);
    let mut by_path: BTreeMap<&str, Vec<&LoggedFault>> = BTreeMap::new();
    for fault in &log.faults {
        if let Some(path) = log.paths.get(&fault.conn) {
            by_path.entry(path.as_str()).or_default().push(fault);
        }
    }
    for life in lives {
        let Some(loss) = &life.lost else { continue };
        let t = loss.t_ms;
        // The faults on this connection before its loss: the latest reset,
        // cut or half-close within 2 s explains it; else the latest stall
        // longer than the idle timeout within the bound; else the latest.
        let during: Vec<&LoggedFault> = by_path
            .get(life.path.as_str())
            .map(|faults| {
                faults
                    .iter()
                    .filter(|f| f.t_ms <= t + 50 && f.t_ms + 100 >= life.opened_ms)
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        let cause = during
            .iter()
            .rev()
            .find(|f| {
                matches!(f.kind.as_str(), "reset" | "cut" | "halfclose") && f.t_ms + 2000 >= t
            })
            .or_else(|| {
                during
                    .iter()
                    .rev()
                    .find(|f| f.kind == "stall" && f.ms > idle_ms && f.t_ms + bound_ms >= t)
            })
            .or(during.last());
        let row = cause.map_or_else(|| "none".to_owned(), |f| name(f, idle_ms));
        let client = if life.path.contains("/t") {
            "ws-tokio"
        } else {
            "ws-blocking"
        };
        let seen = format!("{client}: {} {}", loss.code, loss.error)
            .trim_end()
            .to_owned();
        *out.table.entry(row).or_default().entry(seen).or_insert(0) += 1;
    }
    out
}

/// The `p` quantile (0 to 1) of sorted values, 0 when there are none.
///
/// ```
/// assert_eq!(ws_soak::report::percentile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.0);
/// assert_eq!(ws_soak::report::percentile(&[], 0.99), 0.0);
/// ```
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(t: u64, conn: u64, rest: &str) -> String {
        format!("{{\"t_ms\":{t},\"conn\":{conn},{rest}}}\n")
    }

    fn request(t: u64, conn: u64, path: &str) -> String {
        line(
            t,
            conn,
            &format!("\"event\":\"request\",\"path\":\"{path}\""),
        )
    }

    fn fault(t: u64, conn: u64, kind: &str, dir: &str, ms: u64) -> String {
        line(
            t,
            conn,
            &format!("\"event\":\"fault\",\"fault\":\"{kind}\",\"dir\":\"{dir}\",\"ms\":{ms}"),
        )
    }

    fn life(path: &str, opened: u64, lost: Option<(u64, u16, &str)>) -> Life {
        Life {
            path: path.into(),
            opened_ms: opened,
            lost: lost.map(|(t, code, error)| Loss {
                t_ms: t,
                code: CloseCode(code),
                error: error.into(),
            }),
        }
    }

    const IDLE: Duration = Duration::from_secs(8);
    const BOUND: Duration = Duration::from_secs(14);

    #[test]
    fn faults_on_a_replaced_connection_are_left_out() {
        // Conn 1 stalls; the client gives up at 9,000 and reconnects (conn 2
        // at 9,500); a second stall on the old conn 1 at 10,000 hits nobody.
        let text = [
            request(100, 1, "/soak/t1"),
            fault(1_000, 1, "stall", "both", 12_000),
            request(9_500, 2, "/soak/t1"),
            fault(10_000, 1, "stall", "both", 12_000),
            fault(11_000, 2, "reset", "", 0),
        ]
        .concat();
        let log = FaultRecord::parse(&text);
        assert_eq!(log.total, 3);
        assert_eq!(log.faults.len(), 2);
        let lives = [
            life("/soak/t1", 150, Some((9_000, 1006, ""))),
            life(
                "/soak/t1",
                9_550,
                Some((11_001, 1006, "io ConnectionReset")),
            ),
        ];
        let a = analyse(&log, &lives, IDLE, BOUND, 100_000);
        assert!(a.undetected.is_empty(), "{:?}", a.undetected);
        assert_eq!(a.detections, [8.0]);
        assert_eq!(
            a.table["stall both long"]["ws-tokio: 1006 (abnormal closure)"],
            1
        );
        assert_eq!(
            a.table["reset"]["ws-tokio: 1006 (abnormal closure) io ConnectionReset"],
            1
        );
    }

    #[test]
    fn a_long_stall_that_does_not_end_the_connection_is_undetected() {
        let text = [
            request(100, 1, "/soak/b3"),
            fault(1_000, 1, "stall", "down", 12_000),
            request(100, 2, "/soak/b4"),
            // Its window reaches the quiesce at 20,000: not counted.
            fault(10_000, 2, "stall", "down", 12_000),
        ]
        .concat();
        let log = FaultRecord::parse(&text);
        let lives = [life("/soak/b3", 200, None), life("/soak/b4", 200, None)];
        let a = analyse(&log, &lives, IDLE, BOUND, 20_000);
        assert_eq!(a.undetected.len(), 1, "{:?}", a.undetected);
        assert!(a.undetected[0].starts_with("/soak/b3:"));
        assert_eq!(a.outcome["stall down long"], (0, 2));
        assert!(a.detections.is_empty());
    }

    #[test]
    fn a_reset_right_before_the_loss_explains_it_over_a_later_latency() {
        let text = [
            request(100, 1, "/soak/t9"),
            fault(500, 1, "stall", "up", 2_000),
            fault(3_000, 1, "halfclose", "up", 0),
            fault(3_010, 1, "latency", "down", 1_000),
        ]
        .concat();
        let log = FaultRecord::parse(&text);
        let lives = [life("/soak/t9", 200, Some((3_050, 1006, "")))];
        let a = analyse(&log, &lives, IDLE, BOUND, 100_000);
        assert_eq!(a.table.keys().collect::<Vec<_>>(), ["halfclose up"]);
        assert_eq!(a.outcome["stall up short"], (1, 0));
    }
}
