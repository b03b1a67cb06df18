//! The fault log: one JSON object a line, each with the wall-clock time in
//! milliseconds since the Unix epoch (`t_ms`, comparable with what the
//! endpoints record on the same machine), the proxy's connection id and
//! the event:
//!
//! ```text
//! {"t_ms":1733400000123,"conn":7,"event":"open","client":"127.0.0.1:40312"}
//! {"t_ms":1733400000125,"conn":7,"event":"request","path":"/soak/t7"}
//! {"t_ms":1733400004000,"conn":7,"event":"fault","fault":"stall","spec":"stall:down:12000ms","dir":"down","ms":12000}
//! {"t_ms":1733400013002,"conn":7,"event":"close","reason":"eof","up_bytes":1234,"down_bytes":1234}
//! ```
//!
//! [`field`] reads a field back (for this format only, not JSON at large).

use std::io::{self, Write};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::fault::{Dir, Fault};

/// Where the lines go; shared by every connection of a proxy.
pub struct FaultLog {
    out: Mutex<Box<dyn Write + Send>>,
}

impl core::fmt::Debug for FaultLog {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FaultLog").finish_non_exhaustive()
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl FaultLog {
    /// A log written to `out`, a line at a time (each line flushed).
    pub fn new(out: impl Write + Send + 'static) -> Self {
        Self {
            out: Mutex::new(Box::new(out)),
        }
    }

    /// A log appended to the file at `path`.
    pub fn file(path: &std::path::Path) -> io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self::new(io::LineWriter::new(file)))
    }

    /// A log on standard error.
    pub fn stderr() -> Self {
        Self::new(io::stderr())
    }

    /// A log that keeps nothing.
    pub fn sink() -> Self {
        Self::new(io::sink())
    }

    /// Writes one event: `fields` are already JSON (`"key":value` pairs).
    pub fn event(&self, conn: u64, event: &str, fields: &str) {
        let sep = if fields.is_empty() { "" } else { "," };
        let line = format!(
            "{{\"t_ms\":{},\"conn\":{conn},\"event\":\"{event}\"{sep}{fields}}}\n",
            now_ms()
        );
        // A poisoned lock only means another writer panicked mid-line.
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A log that cannot be written must not stop the proxy.
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    }

    /// Logs a fault applied to `conn`.
    pub fn fault(&self, conn: u64, fault: &Fault) {
        let mut fields = format!("\"fault\":\"{}\",\"spec\":\"{fault}\"", fault.kind());
        let (dir, period): (Option<Dir>, Option<u128>) = match fault {
            Fault::Latency { dir, period, .. }
            | Fault::Bandwidth { dir, period, .. }
            | Fault::Stall { dir, period } => (Some(*dir), Some(period.as_millis())),
            Fault::HalfClose { dir } => (Some(*dir), None),
            Fault::Reset | Fault::Cut => (None, None),
        };
        if let Some(dir) = dir {
            fields.push_str(&format!(",\"dir\":\"{}\"", dir.name()));
        }
        if let Some(ms) = period {
            fields.push_str(&format!(",\"ms\":{ms}"));
        }
        self.event(conn, "fault", &fields);
    }
}

/// A JSON string literal for `text` (quotes, backslashes and control
/// characters escaped).
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The raw value of `key` in one line of this log: a number as written, a
/// string without its quotes (escapes left as they are).
///
/// ```
/// let line = r#"{"t_ms":17,"conn":3,"event":"fault","fault":"stall","ms":900}"#;
/// assert_eq!(ws_soak::log::field(line, "fault"), Some("stall"));
/// assert_eq!(ws_soak::log::field(line, "ms"), Some("900"));
/// assert_eq!(ws_soak::log::field(line, "dir"), None);
/// ```
pub fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let needle = format!("\"{key}\":");
    let start = line.find(&needle)? + needle.len();
    let rest = &line[start..];
    if let Some(string) = rest.strip_prefix('"') {
        let mut escaped = false;
        for (i, c) in string.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => return Some(&string[..i]),
                _ => escaped = false,
            }
        }
        None
    } else {
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        Some(&rest[..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_carry_time_connection_and_fault() {
        let buf = Shared::default();
        let log = FaultLog::new(buf.clone());
        let before = now_ms();
        log.fault(
            12,
            &Fault::Stall {
                dir: Dir::Down,
                period: Duration::from_millis(1500),
            },
        );
        log.fault(13, &Fault::Reset);
        log.event(13, "request", &format!("\"path\":{}", quote("/a\"b")));
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let t: u64 = field(lines[0], "t_ms").unwrap().parse().unwrap();
        assert!(t >= before && t <= now_ms());
        assert_eq!(field(lines[0], "conn"), Some("12"));
        assert_eq!(field(lines[0], "event"), Some("fault"));
        assert_eq!(field(lines[0], "fault"), Some("stall"));
        assert_eq!(field(lines[0], "dir"), Some("down"));
        assert_eq!(field(lines[0], "ms"), Some("1500"));
        assert_eq!(field(lines[0], "spec"), Some("stall:down:1500ms"));
        assert_eq!(field(lines[1], "fault"), Some("reset"));
        assert_eq!(field(lines[1], "dir"), None);
        assert_eq!(field(lines[2], "path"), Some("/a\\\"b"));
        for line in lines {
            assert!(line.starts_with('{') && line.ends_with('}'), "{line}");
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a\\b\n"), "\"a\\\\b\\u000a\"");
    }
}
