//! Which end of a connection this is: the bottom of the vocabulary, used by
//! every layer above it.

/// Which end of the connection this is. Clients mask what they send; servers
/// require masks and close the transport first (section 7.1.1).
///
/// ```
/// use ws_proto::Role;
/// assert_ne!(Role::Client, Role::Server);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The end that sent the opening handshake request.
    Client,
    /// The end that answered it.
    Server,
}

impl Role {
    /// The other end.
    ///
    /// ```
    /// use ws_proto::Role;
    /// assert_eq!(Role::Client.peer(), Role::Server);
    /// ```
    pub fn peer(self) -> Self {
        match self {
            Self::Client => Self::Server,
            Self::Server => Self::Client,
        }
    }
}
