//! Readers for `/proc/<pid>/stat` and `/proc/<pid>/status` (Linux).

use std::io;
use std::time::Duration;

/// The unit of `utime`/`stime` in `/proc/<pid>/stat`: `USER_HZ`, which the
/// Linux ABI fixes at 100 on every architecture this runs on.
pub const USER_HZ: u64 = 100;

/// User plus system CPU time of every thread of process `pid` so far.
pub fn cpu_time(pid: u32) -> io::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let ticks = parse_cpu_ticks(&stat)
        .ok_or_else(|| io::Error::other(format!("unexpected /proc/{pid}/stat")))?;
    Ok(Duration::from_millis(ticks * 1000 / USER_HZ))
}

/// `utime + stime` (fields 14 and 15) from the text of `/proc/<pid>/stat`.
/// The command name (field 2) may contain spaces and parentheses, so fields
/// are counted from the last `)`.
///
/// ```
/// let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 1 0 5 1000 200";
/// assert_eq!(ws_benches::procfs::parse_cpu_ticks(stat), Some(281));
/// ```
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After the name: state is field 3, so utime (14) is the 12th from here.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Resident set size of process `pid`, in KiB.
pub fn vm_rss_kib(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_vm_rss_kib(&status)
        .ok_or_else(|| io::Error::other(format!("no VmRSS in /proc/{pid}/status")))
}

/// The `VmRSS:` line of `/proc/<pid>/status`, in KiB.
///
/// ```
/// let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t    1234 kB\nThreads:\t1\n";
/// assert_eq!(ws_benches::procfs::parse_vm_rss_kib(status), Some(1234));
/// ```
pub fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The number of threads of process `pid`.
pub fn threads(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other("no Threads line"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        assert!(vm_rss_kib(pid).unwrap() > 0);
        assert!(threads(pid).unwrap() >= 1);
        let before = cpu_time(pid).unwrap();
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(60) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(cpu_time(pid).unwrap() >= before);
    }
}
