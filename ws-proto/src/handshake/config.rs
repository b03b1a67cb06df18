//! The opening handshake's settings, apart from the connection's.

#[allow(unused_imports)]
use crate::prelude::*;
use core::time::Duration;

use super::Limits;

/// What the opening handshake needs: how long it may take, how large a
/// request head may be, and the permessage-deflate preferences it
/// negotiates with. Once the connection is open none of it is kept.
///
/// [`Config`](crate::Config) carries one (set through its
/// [`handshake_timeout`](crate::Config::handshake_timeout),
/// [`handshake_limits`](crate::Config::handshake_limits) and `deflate`
/// setters); the handshake's own functions take either.
///
/// ```
/// use std::time::Duration;
/// use ws_proto::handshake::{HandshakeConfig, Limits};
/// let config = HandshakeConfig::default()
///     .timeout(Duration::from_secs(3))
///     .limits(Limits { max_header_bytes: 4096, max_headers: 32 });
/// assert_eq!(config.get_timeout(), Duration::from_secs(3));
/// assert_eq!(config.get_limits().max_headers, 32);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct HandshakeConfig {
    pub(crate) timeout: Duration,
    pub(crate) limits: Limits,
    #[cfg(feature = "deflate")]
    pub(crate) deflate: Option<crate::DeflateConfig>,
    /// Extensions besides permessage-deflate, in order of preference.
    pub(crate) extensions: crate::extensions::Negotiators,
}

impl Default for HandshakeConfig {
    /// A 10 s timeout, 16 KiB and 64 headers at most in a request, and
    /// permessage-deflate offered (client) and accepted (server) with its
    /// defaults.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            limits: Limits::default(),
            #[cfg(feature = "deflate")]
            deflate: Some(crate::DeflateConfig::default()),
            extensions: Default::default(),
        }
    }
}

impl HandshakeConfig {
    /// How long the whole opening handshake may take, counted from the
    /// first [`Connection::poll_timeout`](crate::Connection::poll_timeout):
    /// a peer that sends nothing, or its head a byte at a time, is given up
    /// on after this ([`HandshakeError::TimedOut`](super::HandshakeError::TimedOut)).
    ///
    /// ```
    /// # use ws_proto::handshake::HandshakeConfig;
    /// let c = HandshakeConfig::default().timeout(std::time::Duration::from_millis(500));
    /// # let _ = c;
    /// ```
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = limit;
        self
    }

    /// The size limits on a client's request head (server role).
    ///
    /// ```
    /// # use ws_proto::handshake::{HandshakeConfig, Limits};
    /// let c = HandshakeConfig::default().limits(Limits { max_header_bytes: 2048, max_headers: 16 });
    /// # let _ = c;
    /// ```
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// permessage-deflate preferences: what a client offers and what a
    /// server accepts; `None` turns compression off.
    ///
    /// ```
    /// # use ws_proto::handshake::HandshakeConfig;
    /// let c = HandshakeConfig::default().deflate(None);
    /// assert!(c.get_deflate().is_none());
    /// ```
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn deflate(mut self, deflate: Option<crate::DeflateConfig>) -> Self {
        self.deflate = deflate;
        self
    }

    /// Adds an extension this end offers (client) and accepts (server),
    /// after permessage-deflate and those added before it (a server
    /// prefers them in this order). See [`NegotiateExtension`](crate::NegotiateExtension).
    ///
    /// ```
    /// # use ws_proto::handshake::HandshakeConfig;
    /// let c = HandshakeConfig::default().deflate(None).extension(ws_proto::DeflateConfig::default());
    /// assert_eq!(c.extension_names().collect::<Vec<_>>(), ["permessage-deflate"]);
    /// ```
    pub fn extension(mut self, extension: impl crate::NegotiateExtension + 'static) -> Self {
        self.extensions.0.push(alloc::sync::Arc::new(extension));
        self
    }

    /// The names of the extensions negotiated with, in order of preference
    /// (permessage-deflate first when it is on).
    ///
    /// ```
    /// # use ws_proto::handshake::HandshakeConfig;
    /// assert_eq!(HandshakeConfig::default().extension_names().collect::<Vec<_>>(), ["permessage-deflate"]);
    /// ```
    pub fn extension_names(&self) -> impl Iterator<Item = String> + '_ {
        self.negotiators().into_iter().map(|n| n.name().to_string())
    }

    /// Every extension negotiated with, in order of preference:
    /// permessage-deflate (when on) is one of them like any other.
    pub(crate) fn negotiators(&self) -> Vec<alloc::sync::Arc<dyn crate::NegotiateExtension>> {
        let mut out: Vec<alloc::sync::Arc<dyn crate::NegotiateExtension>> = Vec::new();
        #[cfg(feature = "deflate")]
        if let Some(deflate) = &self.deflate {
            out.push(alloc::sync::Arc::new(deflate.clone()));
        }
        out.extend(self.extensions.0.iter().cloned());
        out
    }

    /// The handshake timeout.
    ///
    /// ```
    /// # use ws_proto::handshake::HandshakeConfig;
    /// assert_eq!(HandshakeConfig::default().get_timeout(), std::time::Duration::from_secs(10));
    /// ```
    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }

    /// The request head limits.
    ///
    /// ```
    /// # use ws_proto::handshake::HandshakeConfig;
    /// assert_eq!(HandshakeConfig::default().get_limits().max_header_bytes, 16 * 1024);
    /// ```
    pub fn get_limits(&self) -> super::Limits {
        self.limits
    }

    /// The permessage-deflate preferences.
    ///
    /// ```
    /// # use ws_proto::handshake::HandshakeConfig;
    /// assert!(HandshakeConfig::default().get_deflate().is_some());
    /// ```
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn get_deflate(&self) -> Option<&crate::DeflateConfig> {
        self.deflate.as_ref()
    }
}

impl AsRef<Self> for HandshakeConfig {
    fn as_ref(&self) -> &Self {
        self
    }
}
