//! Extension negotiation (RFC 7692 section 7.1).

use core::fmt::Write as _;

use crate::extensions::{parse_element, split_outside_quotes, Param};
use crate::Role;

/// What this end asks for and accepts in permessage-deflate negotiation.
///
/// The defaults offer (client) and accept (server) compression with context
/// takeover and a 15-bit window both ways, which is what browsers offer.
///
/// ```
/// use ws_proto::DeflateConfig;
/// let config = DeflateConfig::default()
///     .client_no_context_takeover(true)
///     .server_max_window_bits(12)
///     .threshold(64);
/// assert_eq!(config.offer(), "permessage-deflate; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflateConfig {
    pub(crate) server_no_context_takeover: bool,
    pub(crate) client_no_context_takeover: bool,
    pub(crate) server_max_window_bits: u8,
    pub(crate) client_max_window_bits: u8,
    pub(crate) level: u32,
    pub(crate) threshold: usize,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: 1,
            threshold: 32,
        }
    }
}

impl DeflateConfig {
    /// Ask (client) or require (server) that the server start every message
    /// with a fresh compression context: less memory, worse ratio.
    ///
    /// ```
    /// let c = ws_proto::DeflateConfig::default().server_no_context_takeover(true);
    /// assert!(c.offer().contains("server_no_context_takeover"));
    /// ```
    pub fn server_no_context_takeover(mut self, on: bool) -> Self {
        self.server_no_context_takeover = on;
        self
    }

    /// Promise (client) or require (server) that the client start every
    /// message with a fresh compression context.
    ///
    /// ```
    /// let c = ws_proto::DeflateConfig::default().client_no_context_takeover(true);
    /// assert!(c.offer().contains("client_no_context_takeover"));
    /// ```
    pub fn client_no_context_takeover(mut self, on: bool) -> Self {
        self.client_no_context_takeover = on;
        self
    }

    /// The largest window the server may compress with, 9 to 15 (clamped).
    ///
    /// ```
    /// let c = ws_proto::DeflateConfig::default().server_max_window_bits(10);
    /// assert!(c.offer().contains("server_max_window_bits=10"));
    /// ```
    pub fn server_max_window_bits(mut self, bits: u8) -> Self {
        self.server_max_window_bits = bits.clamp(9, 15);
        self
    }

    /// The largest window the client may compress with, 9 to 15 (clamped).
    ///
    /// ```
    /// let c = ws_proto::DeflateConfig::default().client_max_window_bits(11);
    /// assert!(c.offer().contains("client_max_window_bits=11"));
    /// ```
    pub fn client_max_window_bits(mut self, bits: u8) -> Self {
        self.client_max_window_bits = bits.clamp(9, 15);
        self
    }

    /// The zlib compression level, 0 to 9 (clamped; default 1). Measured on
    /// chat-like JSON (`examples/deflate-ratio.rs`): level 1 compresses about
    /// six times faster than level 6 for a ratio about a fifth lower.
    ///
    /// ```
    /// let c = ws_proto::DeflateConfig::default().level(1);
    /// # let _ = c;
    /// ```
    pub fn level(mut self, level: u32) -> Self {
        self.level = level.min(9);
        self
    }

    /// Outgoing messages shorter than this many bytes are sent uncompressed
    /// (default 32): compressing them costs more than it saves.
    ///
    /// ```
    /// let c = ws_proto::DeflateConfig::default().threshold(0); // compress everything
    /// # let _ = c;
    /// ```
    pub fn threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }

    /// The client's `Sec-WebSocket-Extensions` offer for this configuration.
    /// It always includes `client_max_window_bits`, which tells the server it
    /// may ask for a smaller client window.
    ///
    /// ```
    /// assert_eq!(ws_proto::DeflateConfig::default().offer(), "permessage-deflate; client_max_window_bits");
    /// ```
    pub fn offer(&self) -> String {
        let mut out = String::from("permessage-deflate");
        if self.server_no_context_takeover {
            out.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            out.push_str("; client_no_context_takeover");
        }
        if self.server_max_window_bits < 15 {
            let _ = write!(
                out,
                "; server_max_window_bits={}",
                self.server_max_window_bits
            );
        }
        if self.client_max_window_bits < 15 {
            let _ = write!(
                out,
                "; client_max_window_bits={}",
                self.client_max_window_bits
            );
        } else {
            out.push_str("; client_max_window_bits");
        }
        out
    }

    /// Server side: picks the first acceptable offer from the client's
    /// `Sec-WebSocket-Extensions` values (section 7.1). Offers with unknown,
    /// duplicate or invalid parameters are declined, as are offers asking for
    /// an 8-bit server window (zlib cannot compress with one). Returns the
    /// agreed parameters, or `None` to go without compression.
    ///
    /// ```
    /// use ws_proto::DeflateConfig;
    /// let offers = ["permessage-deflate; server_max_window_bits=8, permessage-deflate; client_max_window_bits"];
    /// let agreed = DeflateConfig::default().negotiate(offers.iter().copied()).unwrap();
    /// assert_eq!(agreed.response(), "permessage-deflate");
    /// assert!(DeflateConfig::default().negotiate(["x-webkit-deflate-frame"].into_iter()).is_none());
    /// ```
    pub fn negotiate<'a>(
        &self,
        header_values: impl Iterator<Item = &'a str>,
    ) -> Option<DeflateParams> {
        header_values
            .flat_map(split_outside_quotes)
            .filter_map(|offer| parse_element(offer).ok())
            .filter(|(name, _)| name.eq_ignore_ascii_case("permessage-deflate"))
            .find_map(|(_, params)| self.accept_offer(&params))
    }

    pub(crate) fn accept_offer(&self, params: &[Param]) -> Option<DeflateParams> {
        let offer = Params::parse(params, Role::Client).ok()?;
        let server_bits = match offer.server_max_window_bits {
            Some(Some(8)) => return None,
            Some(Some(n)) => n.min(self.server_max_window_bits),
            Some(None) => return None, // the offer must give a value (section 7.1.2.1)
            None => self.server_max_window_bits,
        };
        let client_bits = match offer.client_max_window_bits {
            // The client accepts a limit; ask for ours if it is smaller.
            Some(Some(n)) => n.min(self.client_max_window_bits),
            Some(None) => self.client_max_window_bits,
            // Without the parameter the server may not limit the client.
            None => 15,
        };
        Some(DeflateParams {
            server_no_context_takeover: offer.server_no_context_takeover
                || self.server_no_context_takeover,
            client_no_context_takeover: offer.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
            client_max_window_bits_sent: client_bits < 15
                || offer.client_max_window_bits.is_some_and(|v| v.is_some()),
            server_max_window_bits_sent: server_bits < 15 || offer.server_max_window_bits.is_some(),
            level: self.level,
            threshold: self.threshold,
        })
    }

    /// Client side: checks the server's answer to [`offer`](Self::offer)
    /// (section 7.1): one `permessage-deflate` element, known parameters, no
    /// duplicates, and nothing beyond what was offered. `Ok(None)` when the
    /// server declined compression.
    ///
    /// ```
    /// use ws_proto::DeflateConfig;
    /// let config = DeflateConfig::default();
    /// let agreed = config.check_response(["permessage-deflate; client_max_window_bits=10"].into_iter()).unwrap().unwrap();
    /// assert_eq!(agreed.window_bits_for(ws_proto::Role::Client), 10);
    /// assert!(config.check_response(["permessage-deflate; server_max_window_bits=16"].into_iter()).is_err());
    /// ```
    pub fn check_response<'a>(
        &self,
        header_values: impl Iterator<Item = &'a str>,
    ) -> Result<Option<DeflateParams>, String> {
        let mut found = None;
        for element in header_values.flat_map(split_outside_quotes) {
            let (name, params) = parse_element(element)?;
            if !name.eq_ignore_ascii_case("permessage-deflate") {
                continue;
            }
            if found.is_some() {
                return Err("permessage-deflate appears twice in the response".into());
            }
            found = Some(self.check_answer(&params)?);
        }
        Ok(found)
    }

    /// [`check_response`](Self::check_response) for one answer element's parameters.
    pub(crate) fn check_answer(&self, params: &[Param]) -> Result<DeflateParams, String> {
        let answer = Params::parse(params, Role::Server)?;
        let server_bits = match answer.server_max_window_bits {
            Some(Some(n)) if n <= self.server_max_window_bits => n,
            Some(Some(n)) => {
                return Err(format!(
                    "server_max_window_bits={n} exceeds the {} offered",
                    self.server_max_window_bits
                ))
            }
            Some(None) => return Err("server_max_window_bits needs a value".into()),
            None if self.server_max_window_bits < 15 => {
                return Err("server ignored the server_max_window_bits we asked for".into())
            }
            None => 15,
        };
        let client_bits = match answer.client_max_window_bits {
            Some(Some(8)) => {
                return Err(
                    "client_max_window_bits=8 is not supported (zlib needs 9 or more)".into(),
                )
            }
            Some(Some(n)) => n.min(self.client_max_window_bits),
            Some(None) => return Err("client_max_window_bits needs a value in a response".into()),
            None => self.client_max_window_bits,
        };
        if self.server_no_context_takeover && !answer.server_no_context_takeover {
            return Err("server ignored the server_no_context_takeover we asked for".into());
        }
        Ok(DeflateParams {
            server_no_context_takeover: answer.server_no_context_takeover,
            client_no_context_takeover: answer.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
            client_max_window_bits_sent: answer.client_max_window_bits.is_some(),
            server_max_window_bits_sent: answer.server_max_window_bits.is_some(),
            level: self.level,
            threshold: self.threshold,
        })
    }
}

/// The agreed permessage-deflate parameters of one connection.
///
/// ```
/// use ws_proto::{DeflateConfig, Role};
/// let agreed = DeflateConfig::default()
///     .negotiate(["permessage-deflate; client_no_context_takeover"].into_iter())
///     .unwrap();
/// assert!(agreed.no_context_takeover_for(Role::Client));
/// assert_eq!(agreed.response(), "permessage-deflate; client_no_context_takeover");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflateParams {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: u8,
    client_max_window_bits: u8,
    client_max_window_bits_sent: bool,
    server_max_window_bits_sent: bool,
    pub(crate) level: u32,
    pub(crate) threshold: usize,
}

impl DeflateParams {
    /// The server's `Sec-WebSocket-Extensions` answer for these parameters.
    ///
    /// ```
    /// let agreed = ws_proto::DeflateConfig::default()
    ///     .negotiate(["permessage-deflate; server_max_window_bits=10; server_no_context_takeover"].into_iter())
    ///     .unwrap();
    /// assert_eq!(agreed.response(), "permessage-deflate; server_no_context_takeover; server_max_window_bits=10");
    /// ```
    pub fn response(&self) -> String {
        let mut out = String::from("permessage-deflate");
        if self.server_no_context_takeover {
            out.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            out.push_str("; client_no_context_takeover");
        }
        if self.server_max_window_bits_sent {
            let _ = write!(
                out,
                "; server_max_window_bits={}",
                self.server_max_window_bits
            );
        }
        if self.client_max_window_bits_sent {
            let _ = write!(
                out,
                "; client_max_window_bits={}",
                self.client_max_window_bits
            );
        }
        out
    }

    /// The window the side in `role` compresses with.
    ///
    /// ```
    /// # use ws_proto::{DeflateConfig, Role};
    /// let agreed = DeflateConfig::default().negotiate(["permessage-deflate"].into_iter()).unwrap();
    /// assert_eq!(agreed.window_bits_for(Role::Server), 15);
    /// ```
    pub fn window_bits_for(&self, role: Role) -> u8 {
        match role {
            Role::Server => self.server_max_window_bits,
            Role::Client => self.client_max_window_bits,
        }
    }

    /// Whether the side in `role` resets its compression context after every message.
    ///
    /// ```
    /// # use ws_proto::{DeflateConfig, Role};
    /// let agreed = DeflateConfig::default().negotiate(["permessage-deflate"].into_iter()).unwrap();
    /// assert!(!agreed.no_context_takeover_for(Role::Server));
    /// ```
    pub fn no_context_takeover_for(&self, role: Role) -> bool {
        match role {
            Role::Server => self.server_no_context_takeover,
            Role::Client => self.client_no_context_takeover,
        }
    }
}

/// The four parameters of one offer or response, checked for duplicates and values.
#[derive(Debug, Default)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    /// Absent, present without a value, or present with one.
    server_max_window_bits: Option<Option<u8>>,
    client_max_window_bits: Option<Option<u8>>,
}

impl Params {
    /// `from` is who wrote the element: a client's offer may leave
    /// `client_max_window_bits` without a value; nothing else may.
    fn parse(params: &[Param], from: Role) -> Result<Self, String> {
        let mut out = Self::default();
        let mut seen = [false; 4];
        for (name, value) in params {
            let slot = match name.to_ascii_lowercase().as_str() {
                "server_no_context_takeover" => 0,
                "client_no_context_takeover" => 1,
                "server_max_window_bits" => 2,
                "client_max_window_bits" => 3,
                _ => return Err(format!("unknown permessage-deflate parameter {name:?}")),
            };
            if core::mem::replace(&mut seen[slot], true) {
                return Err(format!("duplicate permessage-deflate parameter {name:?}"));
            }
            match slot {
                0 | 1 => {
                    if value.is_some() {
                        return Err(format!("{name} takes no value"));
                    }
                    if slot == 0 {
                        out.server_no_context_takeover = true;
                    } else {
                        out.client_no_context_takeover = true;
                    }
                }
                _ => {
                    let bits = match value {
                        None if slot == 3 && from == Role::Client => None,
                        None => return Err(format!("{name} needs a value")),
                        Some(v) => match v.parse::<u8>() {
                            // Leading zeros and signs are not allowed (section 7.1.2.1).
                            Ok(n @ 8..=15) if !v.starts_with('0') && !v.starts_with('+') => Some(n),
                            _ => return Err(format!("invalid {name} value {v:?}")),
                        },
                    };
                    if slot == 2 {
                        out.server_max_window_bits = Some(bits);
                    } else {
                        out.client_max_window_bits = Some(bits);
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_answer(config: &DeflateConfig, offer: &str) -> Option<String> {
        config.negotiate([offer].into_iter()).map(|p| p.response())
    }

    #[test]
    fn server_negotiation_table() {
        let d = DeflateConfig::default();
        let table: &[(&str, Option<&str>)] = &[
            ("permessage-deflate", Some("permessage-deflate")),
            ("permessage-deflate; client_max_window_bits", Some("permessage-deflate")),
            ("permessage-deflate; client_max_window_bits=10", Some("permessage-deflate; client_max_window_bits=10")),
            ("permessage-deflate; server_max_window_bits=9", Some("permessage-deflate; server_max_window_bits=9")),
            ("permessage-deflate; server_max_window_bits=15", Some("permessage-deflate; server_max_window_bits=15")),
            ("permessage-deflate; server_no_context_takeover", Some("permessage-deflate; server_no_context_takeover")),
            ("permessage-deflate; client_no_context_takeover", Some("permessage-deflate; client_no_context_takeover")),
            (
                "permessage-deflate; client_no_context_takeover; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits",
                Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12"),
            ),
            ("permessage-deflate; server_max_window_bits=\"10\"", Some("permessage-deflate; server_max_window_bits=10")),
            // Declined: unknown, duplicate, invalid values, a bare server_max_window_bits, an 8-bit server window.
            ("permessage-deflate; foo", None),
            ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", None),
            ("permessage-deflate; server_max_window_bits=16", None),
            ("permessage-deflate; server_max_window_bits=7", None),
            ("permessage-deflate; server_max_window_bits=010", None),
            ("permessage-deflate; server_max_window_bits", None),
            ("permessage-deflate; client_max_window_bits=abc", None),
            ("permessage-deflate; server_no_context_takeover=1", None),
            ("permessage-deflate; server_max_window_bits=8", None),
            ("x-webkit-deflate-frame", None),
        ];
        for (offer, expected) in table {
            assert_eq!(server_answer(&d, offer).as_deref(), *expected, "{offer}");
        }
    }

    #[test]
    fn server_takes_the_first_acceptable_of_several_offers() {
        let d = DeflateConfig::default();
        let header = "permessage-deflate; server_max_window_bits=8, permessage-deflate; server_no_context_takeover, permessage-deflate";
        assert_eq!(
            server_answer(&d, header).as_deref(),
            Some("permessage-deflate; server_no_context_takeover")
        );
        // Across several header lines too.
        let got = d.negotiate(
            [
                "foo, permessage-deflate; bad",
                "permessage-deflate; client_max_window_bits=9",
            ]
            .into_iter(),
        );
        assert_eq!(
            got.unwrap().response(),
            "permessage-deflate; client_max_window_bits=9"
        );
    }

    #[test]
    fn server_configuration_shapes_the_answer() {
        let d = DeflateConfig::default()
            .server_max_window_bits(10)
            .client_max_window_bits(11)
            .server_no_context_takeover(true);
        assert_eq!(
            server_answer(&d, "permessage-deflate; client_max_window_bits").as_deref(),
            Some("permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11")
        );
        // Without client_max_window_bits in the offer the server may not limit the client.
        assert_eq!(
            server_answer(&d, "permessage-deflate").as_deref(),
            Some("permessage-deflate; server_no_context_takeover; server_max_window_bits=10")
        );
        assert_eq!(
            server_answer(&d, "permessage-deflate; server_max_window_bits=9").as_deref(),
            Some("permessage-deflate; server_no_context_takeover; server_max_window_bits=9")
        );
    }

    #[test]
    fn client_response_table() {
        let d = DeflateConfig::default();
        let ok = |r: &str| d.check_response([r].into_iter()).unwrap().unwrap();
        let p = ok("permessage-deflate");
        assert_eq!(
            (
                p.window_bits_for(Role::Server),
                p.window_bits_for(Role::Client)
            ),
            (15, 15)
        );
        let p = ok("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9");
        assert!(p.no_context_takeover_for(Role::Server) && p.no_context_takeover_for(Role::Client));
        assert_eq!(
            (
                p.window_bits_for(Role::Server),
                p.window_bits_for(Role::Client)
            ),
            (10, 9)
        );
        assert_eq!(d.check_response(["other-ext"].into_iter()), Ok(None));
        for bad in [
            "permessage-deflate, permessage-deflate",
            "permessage-deflate; foo",
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; client_max_window_bits=8",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        ] {
            assert!(d.check_response([bad].into_iter()).is_err(), "{bad}");
        }
        // What we asked for must be honoured.
        let strict = DeflateConfig::default()
            .server_max_window_bits(10)
            .server_no_context_takeover(true);
        assert!(strict
            .check_response(["permessage-deflate; server_no_context_takeover"].into_iter())
            .is_err());
        assert!(strict
            .check_response(
                ["permessage-deflate; server_no_context_takeover; server_max_window_bits=11"]
                    .into_iter()
            )
            .is_err());
        assert!(strict
            .check_response(
                ["permessage-deflate; server_no_context_takeover; server_max_window_bits=9"]
                    .into_iter()
            )
            .is_ok());
        // Promising client_no_context_takeover binds us even if the server does not echo it.
        let promise = DeflateConfig::default().client_no_context_takeover(true);
        assert!(promise
            .check_response(["permessage-deflate"].into_iter())
            .unwrap()
            .unwrap()
            .no_context_takeover_for(Role::Client));
    }
}
