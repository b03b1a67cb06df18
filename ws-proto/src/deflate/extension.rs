//! permessage-deflate as an extension like any other: [`DeflateConfig`] is
//! its handshake half, [`PerMessageDeflate`] its codec (RSV1, RFC 7692
//! section 6).

#[allow(unused_imports)]
use crate::prelude::*;
use bytes::{Bytes, BytesMut};

use super::{Compressor, Decompressor, DeflateConfig, DeflateParams};
use crate::extensions::{Extension, NegotiateExtension, Param, RSV1};
use crate::{MessageKind, ProtocolError, Role};

const NAME: &str = "permessage-deflate";

/// The permessage-deflate codec of one connection, for the agreed
/// parameters. Its compressor and decompressor are made when the
/// connection's role is known and hold no zlib state until first used.
#[derive(Debug)]
pub(crate) struct PerMessageDeflate {
    params: DeflateParams,
    compressor: Compressor,
    decompressor: Decompressor,
}

impl PerMessageDeflate {
    pub(crate) fn new(params: DeflateParams) -> Self {
        // Until `set_role`: the client's view (replaced before any message).
        Self::for_role(params, Role::Client)
    }

    fn for_role(params: DeflateParams, role: Role) -> Self {
        Self {
            compressor: Compressor::new(
                params.level,
                params.window_bits_for(role),
                params.no_context_takeover_for(role),
            ),
            // Inflate with the largest window: it handles any smaller one.
            decompressor: Decompressor::new(15, params.no_context_takeover_for(role.peer())),
            params,
        }
    }
}

impl Extension for PerMessageDeflate {
    fn name(&self) -> &str {
        NAME
    }

    fn rsv_bits(&self) -> u8 {
        RSV1
    }

    fn set_role(&mut self, role: Role) {
        *self = Self::for_role(self.params.clone(), role);
    }

    #[inline]
    fn encode(&mut self, _kind: MessageKind, payload: Bytes) -> (Bytes, u8) {
        if payload.len() < self.params.threshold {
            return (payload, 0);
        }
        (self.compressor.compress(&payload), RSV1)
    }

    #[inline]
    fn decode(
        &mut self,
        _rsv: u8,
        input: &[u8],
        last: bool,
        max: usize,
        out: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        self.decompressor.inflate(input, last, max, out)
    }

    fn shared_encoding_key(&self) -> Option<u64> {
        self.compressor
            .shared_output_key()
            .map(|(bits, level)| u64::from(bits) << 32 | u64::from(level))
    }

    fn clone_box(&self) -> Box<dyn Extension> {
        Box::new(Self::new(self.params.clone()))
    }
}

impl NegotiateExtension for DeflateConfig {
    fn name(&self) -> &str {
        NAME
    }

    fn offer(&self) -> String {
        Self::offer(self)
    }

    fn accept(&self, params: &[Param]) -> Option<(String, Box<dyn Extension>)> {
        let agreed = self.accept_offer(params)?;
        Some((agreed.response(), Box::new(PerMessageDeflate::new(agreed))))
    }

    fn check(&self, params: &[Param]) -> Result<Box<dyn Extension>, String> {
        let agreed = self.check_answer(params)?;
        Ok(Box::new(PerMessageDeflate::new(agreed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiated_through_the_trait_it_round_trips() {
        let config = DeflateConfig::default().threshold(4);
        let (answer, mut server) = NegotiateExtension::accept(&config, &[]).unwrap();
        assert_eq!(answer, "permessage-deflate");
        let mut client = config.check(&[]).unwrap();
        server.set_role(Role::Server);
        client.set_role(Role::Client);
        let text = Bytes::from_static(b"hello hello hello hello");
        let (wire, rsv) = client.encode(MessageKind::Text, text.clone());
        assert_eq!(rsv, RSV1);
        assert!(wire.len() < text.len());
        let mut out = BytesMut::new();
        server.decode(RSV1, &wire, true, 100, &mut out).unwrap();
        assert_eq!(out, text);
        // Under the threshold: sent as it is.
        assert_eq!(client.encode(MessageKind::Text, "abc".into()).1, 0);
        // Without context takeover the encoding can be shared.
        let (_, shared) =
            NegotiateExtension::accept(&config, &[("server_no_context_takeover".into(), None)])
                .unwrap();
        let mut shared = shared.clone_box();
        shared.set_role(Role::Server);
        assert!(shared.shared_encoding_key().is_some());
        assert!(server.shared_encoding_key().is_none());
    }
}
