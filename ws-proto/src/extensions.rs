//! The extensions agreed in the opening handshake, handed to the connection.

#[allow(unused_imports)]
use crate::prelude::*;
#[cfg(feature = "deflate")]
use crate::DeflateParams;

/// What the opening handshake agreed on beyond RFC 6455 itself; pass it to
/// [`Connection::with_extensions`](crate::Connection::with_extensions).
///
/// ```
/// use ws_proto::Extensions;
/// assert!(Extensions::none().is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Extensions {
    /// permessage-deflate parameters, if it was negotiated.
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub deflate: Option<DeflateParams>,
}

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
    pub fn deflate(params: Option<DeflateParams>) -> Self {
        Self { deflate: params }
    }

    /// Whether nothing was negotiated.
    ///
    /// ```
    /// assert!(ws_proto::Extensions::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        #[cfg(feature = "deflate")]
        if self.deflate.is_some() {
            return false;
        }
        true
    }

    /// The `Sec-WebSocket-Extensions` value a server answers with, if any.
    ///
    /// ```
    /// use ws_proto::{DeflateConfig, Extensions};
    /// let agreed = DeflateConfig::default().negotiate(["permessage-deflate"].into_iter());
    /// assert_eq!(Extensions::deflate(agreed).response_header().as_deref(), Some("permessage-deflate"));
    /// ```
    pub fn response_header(&self) -> Option<String> {
        #[cfg(feature = "deflate")]
        if let Some(d) = &self.deflate {
            return Some(d.response());
        }
        None
    }
}
