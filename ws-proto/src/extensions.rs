//! Extensions (RFC 6455 section 9): the two traits an extension implements,
//! and the set a handshake agreed on.
//!
//! An extension has two halves. Its [`NegotiateExtension`] half lives in the
//! handshake settings ([`Config::extension`](crate::Config::extension)):
//! the client offers, the server accepts with an answer of its own, the
//! client checks that answer. Each side's acceptance yields the other half,
//! an [`Extension`]: the codec one connection uses to transform its data
//! messages, owning the reserved bits it declares. permessage-deflate
//! (feature `deflate`) is one such pair, built on nothing else.
//!
//! # The rules the connection keeps for every extension
//!
//! * A reserved bit (RSV1-3) is accepted only on the first frame of a data
//!   message and only when a negotiated extension owns it; anything else
//!   fails the connection with 1002 ([`rsv_allowed`] is the one rule, used
//!   by the decoder and by [`Connection::send_frame`](crate::Connection::send_frame)).
//! * Two negotiated extensions never own the same bit: a server skips an
//!   offer whose bits are taken, a client refuses an answer that does it.
//! * Messages are encoded in the order the server's answer lists the
//!   extensions and decoded in the reverse order; an extension's
//!   [`decode`](Extension::decode) runs only for a message whose first frame
//!   carries one of its bits, so a message without reserved bits never meets
//!   an extension (and takes the decoder's fast path).
//! * Text is validated as UTF-8 after decoding.
//!
//! # Example: a toy extension with its own bit
//!
//! `x-xor` XORs every byte of a message with a key both sides agree on, and
//! marks such messages with RSV2.
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use ws_proto::handshake::ClientRequest;
//! use ws_proto::{Config, Connection, Event, Extension, MessageKind, NegotiateExtension, ProtocolError};
//!
//! #[derive(Debug, Clone)]
//! struct Xor(u8);
//!
//! impl Extension for Xor {
//!     fn name(&self) -> &str { "x-xor" }
//!     fn rsv_bits(&self) -> u8 { ws_proto::RSV2 }
//!     fn encode(&mut self, _kind: MessageKind, payload: Bytes) -> (Bytes, u8) {
//!         (payload.iter().map(|b| b ^ self.0).collect::<Vec<u8>>().into(), ws_proto::RSV2)
//!     }
//!     fn decode(&mut self, _rsv: u8, input: &[u8], _last: bool, max: usize, out: &mut BytesMut) -> Result<(), ProtocolError> {
//!         if out.len() + input.len() > max {
//!             return Err(ProtocolError::MessageTooLarge { len: (out.len() + input.len()) as u64, max });
//!         }
//!         out.extend(input.iter().map(|b| b ^ self.0));
//!         Ok(())
//!     }
//!     fn clone_box(&self) -> Box<dyn Extension> { Box::new(self.clone()) }
//! }
//!
//! /// The handshake half: offers `x-xor; key=N`, accepts any key.
//! #[derive(Debug)]
//! struct XorOffer(u8);
//!
//! impl NegotiateExtension for XorOffer {
//!     fn name(&self) -> &str { "x-xor" }
//!     fn offer(&self) -> String { format!("x-xor; key={}", self.0) }
//!     fn accept(&self, params: &[(String, Option<String>)]) -> Option<(String, Box<dyn Extension>)> {
//!         let [(name, Some(key))] = params else { return None };
//!         let key: u8 = key.parse().ok().filter(|_| name == "key")?;
//!         Some((format!("x-xor; key={key}"), Box::new(Xor(key))))
//!     }
//!     fn check(&self, params: &[(String, Option<String>)]) -> Result<Box<dyn Extension>, String> {
//!         self.accept(params).map(|(_, ext)| ext).ok_or_else(|| "bad x-xor answer".to_string())
//!     }
//! }
//!
//! let config = || Config::default().deflate(None).extension(XorOffer(7));
//! let request = ClientRequest::from_url("ws://localhost/").unwrap();
//! let mut client = Connection::client(request, config());
//! let mut server = Connection::server(config());
//! fn pump(from: &mut Connection, to: &mut Connection) {
//!     while let Some(bytes) = from.poll_transmit() { to.receive(&bytes); }
//! }
//! pump(&mut client, &mut server);
//! let Ok(Some(Event::Request(request))) = server.poll_event() else { panic!() };
//! server.respond(request.accept()).unwrap();
//! pump(&mut server, &mut client);
//! let Ok(Some(Event::Response(response))) = client.poll_event() else { panic!() };
//! assert_eq!(response.negotiated().names().collect::<Vec<_>>(), ["x-xor"]);
//!
//! client.send_text("hello").unwrap();
//! let wire = client.poll_transmit().unwrap();
//! assert_eq!(wire[0], 0x80 | 0x20 | 0x1, "FIN, RSV2, text");
//! server.receive(&wire);
//! assert_eq!(server.poll_event(), Ok(Some(Event::Text("hello".into()))));
//! ```

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::sync::Arc;
use bytes::{Bytes, BytesMut};
use core::fmt;

use crate::frame::OpCode;
use crate::{MessageKind, ProtocolError, Role};

/// RSV1, as a bit of [`Extension::rsv_bits`] (the first header byte's 0x40).
pub const RSV1: u8 = 0b100;
/// RSV2, as a bit of [`Extension::rsv_bits`] (the first header byte's 0x20).
pub const RSV2: u8 = 0b010;
/// RSV3, as a bit of [`Extension::rsv_bits`] (the first header byte's 0x10).
pub const RSV3: u8 = 0b001;

/// One extension's codec on one connection: it transforms whole data
/// messages and owns the reserved bits it declares. Made by
/// [`NegotiateExtension::accept`] (server) or
/// [`NegotiateExtension::check`] (client); the module documentation has a
/// whole example.
///
/// ```
/// # use bytes::{Bytes, BytesMut};
/// # use ws_proto::{Extension, MessageKind, ProtocolError};
/// /// Marks messages with RSV3 and sends them unchanged.
/// #[derive(Debug, Clone)]
/// struct Mark;
/// impl Extension for Mark {
///     fn name(&self) -> &str { "x-mark" }
///     fn rsv_bits(&self) -> u8 { ws_proto::RSV3 }
///     fn encode(&mut self, _: MessageKind, payload: Bytes) -> (Bytes, u8) { (payload, ws_proto::RSV3) }
///     fn decode(&mut self, _: u8, input: &[u8], _: bool, _: usize, out: &mut BytesMut) -> Result<(), ProtocolError> {
///         out.extend_from_slice(input);
///         Ok(())
///     }
///     fn clone_box(&self) -> Box<dyn Extension> { Box::new(self.clone()) }
/// }
/// assert_eq!(Mark.encode(MessageKind::Text, "hi".into()).1, ws_proto::RSV3);
/// ```
pub trait Extension: fmt::Debug + Send {
    /// The extension token, as in `Sec-WebSocket-Extensions`.
    fn name(&self) -> &str;

    /// The reserved bits this extension owns, as [`RSV1`] | [`RSV2`] |
    /// [`RSV3`] (0 for none: it then never sees a message).
    fn rsv_bits(&self) -> u8;

    /// Called once, before any message, with the role of the connection
    /// that takes the extension (some codecs differ by direction).
    fn set_role(&mut self, role: Role) {
        let _ = role;
    }

    /// Transforms an outgoing message: the new payload and the reserved
    /// bits to set on its first frame (those outside
    /// [`rsv_bits`](Self::rsv_bits) are ignored). Return the payload and 0
    /// to send it untransformed.
    fn encode(&mut self, kind: MessageKind, payload: Bytes) -> (Bytes, u8);

    /// Transforms a piece of an incoming message whose first frame carried
    /// `rsv` (one of this extension's bits at least), appending to `out`.
    /// A message comes in one piece (`last` set) unless the connection
    /// delivers fragments; a codec that needs the whole message collects
    /// the pieces until `last`. The message's output must stay within `max`
    /// bytes: check before allocating and fail with
    /// [`ProtocolError::MessageTooLarge`] (the connection checks again after
    /// each call). Other failures: [`ProtocolError::ExtensionFailed`].
    fn decode(
        &mut self,
        rsv: u8,
        input: &[u8],
        last: bool,
        max: usize,
        out: &mut BytesMut,
    ) -> Result<(), ProtocolError>;

    /// When the encoding of a message depends on nothing but the message
    /// and this key (no state carried from one message to the next),
    /// [`PreparedMessage`](crate::PreparedMessage)s share one encoding
    /// between the connections whose extensions give equal keys. `None`
    /// (the default): every connection encodes for itself.
    fn shared_encoding_key(&self) -> Option<u64> {
        None
    }

    /// A copy for another connection, as negotiated (fresh state):
    /// [`Extensions`] are cloned before a connection takes them.
    fn clone_box(&self) -> Box<dyn Extension>;
}

/// The handshake half of an extension: what a client offers, what a server
/// accepts, how a client checks the server's answer. Each acceptance yields
/// the connection's [`Extension`]. Register it with
/// [`Config::extension`](crate::Config::extension) on both sides; the
/// module documentation has a whole example.
///
/// Parameters come parsed: `name` or `name=value` (quotes removed), in order.
///
/// ```
/// # use ws_proto::{Extension, NegotiateExtension};
/// #[derive(Debug)]
/// struct Never;
/// impl NegotiateExtension for Never {
///     fn name(&self) -> &str { "x-never" }
///     fn offer(&self) -> String { "x-never".into() }
///     fn accept(&self, _: &[(String, Option<String>)]) -> Option<(String, Box<dyn Extension>)> { None }
///     fn check(&self, _: &[(String, Option<String>)]) -> Result<Box<dyn Extension>, String> {
///         Err("x-never is never accepted".into())
///     }
/// }
/// assert_eq!(Never.offer(), "x-never");
/// ```
pub trait NegotiateExtension: fmt::Debug + Send + Sync {
    /// The extension token.
    fn name(&self) -> &str;

    /// Client: the whole offer element, name and parameters
    /// (`x-xor; key=7`).
    fn offer(&self) -> String;

    /// Server: given one offer element's parameters, the answer element
    /// (name and parameters) and the codec, or `None` to decline this
    /// offer (the next offer of the same name is tried).
    fn accept(&self, params: &[(String, Option<String>)]) -> Option<(String, Box<dyn Extension>)>;

    /// Client: checks the parameters of the server's answer against what
    /// was offered; the codec, or why the answer is unacceptable (the
    /// handshake then fails with
    /// [`ResponseError::InvalidExtension`](crate::handshake::ResponseError::InvalidExtension)).
    fn check(&self, params: &[(String, Option<String>)]) -> Result<Box<dyn Extension>, String>;
}

/// Whether a frame may carry `rsv` given the bits the negotiated extensions
/// own (`owned`): only the first frame of a data message may carry any, and
/// only owned ones (RFC 6455 section 5.2). The one rule, for frames read
/// and frames sent.
///
/// ```
/// use ws_proto::{rsv_allowed, RSV1, RSV2};
/// assert!(rsv_allowed(RSV1, RSV1, true, true));
/// assert!(!rsv_allowed(RSV1, RSV2, true, true)); // not owned
/// assert!(!rsv_allowed(RSV1, RSV1, true, false)); // a continuation
/// assert!(!rsv_allowed(RSV1, RSV1, false, true)); // a control frame
/// assert!(rsv_allowed(0, 0, false, false));
/// ```
#[inline]
pub fn rsv_allowed(owned: u8, rsv: u8, is_data: bool, starts_message: bool) -> bool {
    let allowed = if is_data && starts_message { owned } else { 0 };
    rsv & !allowed == 0
}

/// [`rsv_allowed`] for a frame's opcode, with "starts a message" meaning
/// "not a continuation".
#[inline]
pub(crate) fn rsv_allowed_for(owned: u8, rsv: u8, opcode: OpCode, starts_message: bool) -> bool {
    rsv_allowed(
        owned,
        rsv,
        matches!(opcode, OpCode::Text | OpCode::Binary | OpCode::Continuation),
        starts_message && opcode != OpCode::Continuation,
    )
}

/// One agreed extension: the server's answer element and the codec.
#[derive(Debug)]
struct Agreed {
    answer: String,
    codec: Box<dyn Extension>,
}

/// What the opening handshake agreed on beyond RFC 6455 itself, in the
/// order of the server's answer; pass it to
/// [`Connection::with_extensions`](crate::Connection::with_extensions).
///
/// ```
/// use ws_proto::Extensions;
/// assert!(Extensions::none().is_empty());
/// ```
#[derive(Debug, Default)]
pub struct Extensions {
    agreed: Vec<Agreed>,
}

impl Clone for Extensions {
    fn clone(&self) -> Self {
        Self {
            agreed: self
                .agreed
                .iter()
                .map(|a| Agreed {
                    answer: a.answer.clone(),
                    codec: a.codec.clone_box(),
                })
                .collect(),
        }
    }
}

/// Equal when the answers are (codecs are made from them).
impl PartialEq for Extensions {
    fn eq(&self, other: &Self) -> bool {
        self.agreed.len() == other.agreed.len()
            && self
                .agreed
                .iter()
                .zip(&other.agreed)
                .all(|(a, b)| a.answer == b.answer)
    }
}

impl Eq for Extensions {}

impl Extensions {
    /// No extensions.
    ///
    /// ```
    /// let none = ws_proto::Extensions::none();
    /// # let _ = none;
    /// ```
    pub fn none() -> Self {
        Self::default()
    }

    /// Only permessage-deflate, with these parameters.
    ///
    /// ```
    /// use ws_proto::{DeflateConfig, Extensions};
    /// let agreed = DeflateConfig::default().negotiate(["permessage-deflate"].into_iter());
    /// assert!(!Extensions::deflate(agreed).is_empty());
    /// ```
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn deflate(params: Option<crate::DeflateParams>) -> Self {
        let mut out = Self::none();
        if let Some(params) = params {
            let answer = params.response();
            let _ = out.push(
                answer,
                Box::new(crate::deflate::PerMessageDeflate::new(params)),
            );
        }
        out
    }

    /// Adds an agreed extension after the others: `answer` is the server's
    /// answer element for it. Fails (and adds nothing) when one of its
    /// reserved bits is already owned by an extension in the set.
    ///
    /// ```
    /// # use bytes::{Bytes, BytesMut};
    /// # use ws_proto::{Extension, Extensions, MessageKind, ProtocolError};
    /// # #[derive(Debug, Clone)]
    /// # struct Mark;
    /// # impl Extension for Mark {
    /// #     fn name(&self) -> &str { "x-mark" }
    /// #     fn rsv_bits(&self) -> u8 { ws_proto::RSV3 }
    /// #     fn encode(&mut self, _: MessageKind, p: Bytes) -> (Bytes, u8) { (p, ws_proto::RSV3) }
    /// #     fn decode(&mut self, _: u8, i: &[u8], _: bool, _: usize, o: &mut BytesMut) -> Result<(), ProtocolError> { o.extend_from_slice(i); Ok(()) }
    /// #     fn clone_box(&self) -> Box<dyn Extension> { Box::new(self.clone()) }
    /// # }
    /// let mut set = Extensions::none();
    /// set.push("x-mark".into(), Box::new(Mark)).unwrap();
    /// assert!(set.push("x-mark".into(), Box::new(Mark)).is_err(), "RSV3 is taken");
    /// assert_eq!(set.rsv_bits(), ws_proto::RSV3);
    /// ```
    pub fn push(&mut self, answer: String, codec: Box<dyn Extension>) -> Result<(), String> {
        let taken = self.rsv_bits() & codec.rsv_bits();
        if taken != 0 {
            return Err(format!(
                "{} claims reserved bits {taken:#05b} already owned by another extension",
                codec.name()
            ));
        }
        self.agreed.push(Agreed { answer, codec });
        Ok(())
    }

    /// Whether nothing was negotiated.
    ///
    /// ```
    /// assert!(ws_proto::Extensions::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.agreed.is_empty()
    }

    /// The names of the agreed extensions, in order.
    ///
    /// ```
    /// use ws_proto::{DeflateConfig, Extensions};
    /// let agreed = DeflateConfig::default().negotiate(["permessage-deflate"].into_iter());
    /// assert_eq!(Extensions::deflate(agreed).names().collect::<Vec<_>>(), ["permessage-deflate"]);
    /// ```
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.agreed.iter().map(|a| a.codec.name())
    }

    /// Whether the extension called `name` was agreed on.
    ///
    /// ```
    /// assert!(!ws_proto::Extensions::none().contains("permessage-deflate"));
    /// ```
    pub fn contains(&self, name: &str) -> bool {
        self.names().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// The reserved bits the agreed extensions own together.
    ///
    /// ```
    /// assert_eq!(ws_proto::Extensions::none().rsv_bits(), 0);
    /// ```
    pub fn rsv_bits(&self) -> u8 {
        self.agreed
            .iter()
            .fold(0, |bits, a| bits | a.codec.rsv_bits())
    }

    /// The `Sec-WebSocket-Extensions` value a server answers with, if any.
    ///
    /// ```
    /// use ws_proto::{DeflateConfig, Extensions};
    /// let agreed = DeflateConfig::default().negotiate(["permessage-deflate"].into_iter());
    /// assert_eq!(Extensions::deflate(agreed).response_header().as_deref(), Some("permessage-deflate"));
    /// ```
    pub fn response_header(&self) -> Option<String> {
        if self.agreed.is_empty() {
            return None;
        }
        let answers: Vec<&str> = self.agreed.iter().map(|a| a.answer.as_str()).collect();
        Some(answers.join(", "))
    }

    /// The codecs, for the connection.
    pub(crate) fn into_codecs(self) -> Vec<Box<dyn Extension>> {
        self.agreed.into_iter().map(|a| a.codec).collect()
    }
}

/// The extension halves a handshake negotiates with, compared by their
/// names and offers (the trait objects themselves cannot be).
#[derive(Clone, Default)]
pub(crate) struct Negotiators(pub(crate) Vec<Arc<dyn NegotiateExtension>>);

impl fmt::Debug for Negotiators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|n| n.offer()))
            .finish()
    }
}

impl PartialEq for Negotiators {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|(a, b)| a.name() == b.name() && a.offer() == b.offer())
    }
}

impl Eq for Negotiators {}

/// Server side: for each extension this end supports, in order, the first
/// offer element of its name it accepts and whose bits are free.
pub(crate) fn accept_offers<'a>(
    supported: &[Arc<dyn NegotiateExtension>],
    header_values: impl Iterator<Item = &'a str>,
) -> Extensions {
    let offers: Vec<(&str, Vec<Param>)> = header_values
        .flat_map(split_outside_quotes)
        .filter_map(|element| parse_element(element).ok())
        .collect();
    let mut out = Extensions::none();
    for ext in supported {
        let accepted = offers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(ext.name()))
            .filter_map(|(_, params)| ext.accept(params))
            .find(|(_, codec)| codec.rsv_bits() & out.rsv_bits() == 0);
        if let Some((answer, codec)) = accepted {
            // The bits were checked free just above.
            let _ = out.push(answer, codec);
        }
    }
    out
}

/// Client side: checks every element of the server's answer with the
/// extension offered under its name. `Err` says why the answer is refused.
pub(crate) fn check_answer<'a>(
    offered: &[Arc<dyn NegotiateExtension>],
    header_values: impl Iterator<Item = &'a str>,
) -> Result<Extensions, AnswerError> {
    let mut out = Extensions::none();
    for element in header_values.flat_map(split_outside_quotes) {
        let (name, params) = parse_element(element).map_err(AnswerError::Invalid)?;
        let Some(ext) = offered.iter().find(|e| e.name().eq_ignore_ascii_case(name)) else {
            return Err(AnswerError::NotImplemented(name.to_string()));
        };
        if out.contains(name) {
            return Err(AnswerError::Invalid(format!(
                "{name} appears twice in the response"
            )));
        }
        let codec = ext.check(&params).map_err(AnswerError::Invalid)?;
        out.push(element.to_string(), codec)
            .map_err(AnswerError::Invalid)?;
    }
    Ok(out)
}

/// Why a client refuses the server's extension answer.
#[derive(Debug)]
pub(crate) enum AnswerError {
    /// An extension this end has no implementation of.
    NotImplemented(String),
    /// An answer its extension rejects, or a malformed one.
    Invalid(String),
}

/// One extension parameter: a name and an optional value.
pub(crate) type Param = (String, Option<String>);

/// Splits a header value at commas that are not inside a quoted string.
pub(crate) fn split_outside_quotes(value: &str) -> impl Iterator<Item = &str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts.into_iter().map(str::trim).filter(|p| !p.is_empty())
}

/// Parses `name; param; param=value; param="value"` into the name and the parameters.
pub(crate) fn parse_element(element: &str) -> Result<(&str, Vec<Param>), String> {
    let mut parts = element.split(';').map(str::trim);
    let name = parts.next().unwrap_or("");
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(format!("malformed extension name {name:?}"));
    }
    let mut params = Vec::new();
    for part in parts {
        let (key, value) = match part.split_once('=') {
            Some((k, v)) => {
                let v = v.trim();
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v);
                (k.trim(), Some(v.to_string()))
            }
            None => (part, None),
        };
        if key.is_empty() || !key.bytes().all(is_token_byte) {
            return Err(format!("malformed extension parameter {part:?}"));
        }
        params.push((key.to_string(), value));
    }
    Ok((name, params))
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The codecs one connection runs, in the answer's order, with what the
/// connection needs around them. Boxed in the connection: most have none.
#[derive(Debug)]
pub(crate) struct Codecs {
    pub(crate) list: Vec<Box<dyn Extension>>,
    /// Validates decoded text handed out piece by piece.
    pub(crate) utf8: crate::Utf8Validator,
}

impl Codecs {
    /// Encodes an outgoing message through every codec in order; the
    /// reserved bits to set on its first frame.
    pub(crate) fn encode(&mut self, kind: MessageKind, mut payload: Bytes) -> (Bytes, u8) {
        let mut rsv = 0;
        for codec in &mut self.list {
            let (out, bits) = codec.encode(kind, payload);
            payload = out;
            rsv |= bits & codec.rsv_bits();
        }
        (payload, rsv)
    }

    /// Decodes a piece of an incoming message marked `rsv`, through the
    /// codecs owning one of its bits, in reverse order; text is validated
    /// after decoding.
    pub(crate) fn decode(
        &mut self,
        kind: MessageKind,
        rsv: u8,
        input: Bytes,
        is_first: bool,
        is_last: bool,
        max: usize,
    ) -> Result<Bytes, ProtocolError> {
        let mut data = input;
        for codec in self.list.iter_mut().rev() {
            if codec.rsv_bits() & rsv == 0 {
                continue;
            }
            let mut out = BytesMut::new();
            codec.decode(rsv, &data, is_last, max, &mut out)?;
            if out.len() > max {
                return Err(ProtocolError::MessageTooLarge {
                    len: out.len() as u64,
                    max,
                });
            }
            data = out.freeze();
        }
        if kind == MessageKind::Text {
            if is_first {
                self.utf8.reset();
            }
            self.utf8
                .feed(&data)
                .map_err(|_| ProtocolError::InvalidUtf8)?;
            if is_last {
                self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
            }
        }
        Ok(data)
    }

    /// The key prepared messages share encodings under, when every codec
    /// gives one: (name, key) per codec.
    #[cfg(feature = "std")]
    pub(crate) fn shared_key(&self) -> Option<Vec<(String, u64)>> {
        self.list
            .iter()
            .map(|c| Some((c.name().to_string(), c.shared_encoding_key()?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone)]
    struct Rev(u8);
    impl Extension for Rev {
        fn name(&self) -> &str {
            "x-reverse"
        }
        fn rsv_bits(&self) -> u8 {
            self.0
        }
        fn encode(&mut self, _: MessageKind, payload: Bytes) -> (Bytes, u8) {
            let mut v = payload.to_vec();
            v.reverse();
            (v.into(), self.0)
        }
        fn decode(
            &mut self,
            _: u8,
            input: &[u8],
            _: bool,
            _: usize,
            out: &mut BytesMut,
        ) -> Result<(), ProtocolError> {
            out.extend(input.iter().rev());
            Ok(())
        }
        fn clone_box(&self) -> Box<dyn Extension> {
            Box::new(self.clone())
        }
    }

    #[derive(Debug)]
    struct RevOffer;
    impl NegotiateExtension for RevOffer {
        fn name(&self) -> &str {
            "x-reverse"
        }
        fn offer(&self) -> String {
            "x-reverse".into()
        }
        fn accept(&self, params: &[Param]) -> Option<(String, Box<dyn Extension>)> {
            params
                .is_empty()
                .then(|| ("x-reverse".to_string(), Box::new(Rev(RSV2)) as _))
        }
        fn check(&self, params: &[Param]) -> Result<Box<dyn Extension>, String> {
            self.accept(params)
                .map(|(_, c)| c)
                .ok_or_else(|| "x-reverse takes no parameters".into())
        }
    }

    #[test]
    fn the_rsv_rule_table() {
        use OpCode::*;
        // (owned, rsv, opcode, starts_message, allowed)
        let table = [
            (0, 0, Text, true, true),
            (0, RSV1, Text, true, false),
            (RSV1, RSV1, Text, true, true),
            (RSV1, RSV1, Binary, true, true),
            (RSV1, RSV1, Continuation, false, false),
            (RSV1, RSV2, Text, true, false),
            (RSV1 | RSV2, RSV1 | RSV2, Binary, true, true),
            (RSV1 | RSV2 | RSV3, RSV3, Ping, true, false),
            (RSV1, RSV1, Close, true, false),
            (RSV1, 0, Continuation, false, true),
        ];
        for (owned, rsv, opcode, starts, want) in table {
            assert_eq!(
                rsv_allowed_for(owned, rsv, opcode, starts),
                want,
                "{owned:#b} {rsv:#b} {opcode:?}"
            );
        }
    }

    #[test]
    fn server_accepts_in_its_order_and_skips_taken_bits() {
        let supported: Vec<Arc<dyn NegotiateExtension>> = vec![Arc::new(RevOffer)];
        let agreed = accept_offers(&supported, ["x-reverse; bad, x-reverse, foo"].into_iter());
        assert_eq!(agreed.response_header().as_deref(), Some("x-reverse"));
        assert!(accept_offers(&supported, ["foo"].into_iter()).is_empty());
        // A second extension claiming RSV2 is skipped.
        let twice: Vec<Arc<dyn NegotiateExtension>> = vec![Arc::new(RevOffer), Arc::new(RevOffer)];
        assert_eq!(
            accept_offers(&twice, ["x-reverse"].into_iter())
                .names()
                .count(),
            1
        );
    }

    #[test]
    fn client_refuses_unimplemented_twice_and_invalid_answers() {
        let offered: Vec<Arc<dyn NegotiateExtension>> = vec![Arc::new(RevOffer)];
        assert!(check_answer(&offered, ["x-reverse"].into_iter()).is_ok());
        assert!(check_answer(&offered, [].into_iter()).unwrap().is_empty());
        assert!(matches!(
            check_answer(&offered, ["permessage-deflate"].into_iter()),
            Err(AnswerError::NotImplemented(n)) if n == "permessage-deflate"
        ));
        assert!(matches!(
            check_answer(&offered, ["x-reverse, x-reverse"].into_iter()),
            Err(AnswerError::Invalid(_))
        ));
        assert!(matches!(
            check_answer(&offered, ["x-reverse; a=1"].into_iter()),
            Err(AnswerError::Invalid(_))
        ));
    }

    #[test]
    fn codecs_chain_and_skip_unmarked_messages() {
        let mut codecs = Codecs {
            list: vec![Box::new(Rev(RSV2)), Box::new(Rev(RSV3))],
            utf8: crate::Utf8Validator::new(),
        };
        let (wire, rsv) = codecs.encode(MessageKind::Binary, Bytes::from_static(b"abc"));
        assert_eq!(
            (&wire[..], rsv),
            (&b"abc"[..], RSV2 | RSV3),
            "reversed twice"
        );
        let back = codecs
            .decode(
                MessageKind::Text,
                RSV3,
                Bytes::from_static(b"cba"),
                true,
                true,
                10,
            )
            .unwrap();
        assert_eq!(&back[..], b"abc", "only the RSV3 codec ran");
        assert_eq!(
            codecs.decode(
                MessageKind::Text,
                RSV2,
                Bytes::from_static(b"\xff"),
                true,
                true,
                10
            ),
            Err(ProtocolError::InvalidUtf8)
        );
        assert!(matches!(
            codecs.decode(
                MessageKind::Binary,
                RSV2,
                Bytes::from(vec![0; 11]),
                true,
                true,
                10
            ),
            Err(ProtocolError::MessageTooLarge { .. })
        ));
    }
}
