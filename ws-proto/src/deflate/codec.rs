//! The per-message compressor and decompressor (RFC 7692 section 7.2).

use bytes::{Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::ProtocolError;

/// The empty stored block a sync flush ends with; stripped after compressing
/// and appended before inflating (section 7.2.1 and 7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Compresses outgoing messages; the zlib state is created on first use.
#[derive(Debug)]
pub(crate) struct Compressor {
    state: Option<Compress>,
    level: u32,
    window_bits: u8,
    no_context_takeover: bool,
}

impl Compressor {
    pub(crate) fn new(level: u32, window_bits: u8, no_context_takeover: bool) -> Self {
        Self {
            state: None,
            level,
            window_bits,
            no_context_takeover,
        }
    }

    /// For a compressor that starts every message afresh, what its output
    /// depends on besides the input (window bits and level): connections
    /// with the same key produce the same bytes. `None` with context takeover.
    pub(crate) fn shared_output_key(&self) -> Option<(u8, u32)> {
        self.no_context_takeover
            .then_some((self.window_bits, self.level))
    }

    /// Compresses one whole message.
    pub(crate) fn compress(&mut self, input: &[u8]) -> Bytes {
        if input.is_empty() {
            // An empty stored block (section 7.2.3.3); the context is unchanged.
            return Bytes::from_static(&[0x00]);
        }
        let (level, bits) = (self.level, self.window_bits);
        let state = self.state.get_or_insert_with(|| {
            Compress::new_with_window_bits(Compression::new(level), false, bits)
        });
        let mut out = BytesMut::with_capacity(input.len() / 2 + 64);
        let start_in = state.total_in();
        loop {
            let consumed = (state.total_in() - start_in) as usize;
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(1024));
            }
            let before_out = state.total_out();
            let filled = out.len();
            let room = out.capacity() - filled;
            out.resize(filled + room, 0);
            // A sync flush with room to write always succeeds; zlib reports
            // only programming errors here, which the loop cannot cause.
            let _ = state.compress(&input[consumed..], &mut out[filled..], FlushCompress::Sync);
            let written = (state.total_out() - before_out) as usize;
            out.truncate(filled + written);
            let all_in = (state.total_in() - start_in) as usize == input.len();
            // zlib stops short of filling the output only once the flush is done.
            if all_in && written < room {
                break;
            }
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if self.no_context_takeover {
            // Release the state; the next message starts afresh (and an idle
            // connection holds no compressor).
            self.state = None;
        }
        out.freeze()
    }
}

/// Inflates incoming messages under a size limit; created on first use.
#[derive(Debug)]
pub(crate) struct Decompressor {
    state: Option<Decompress>,
    window_bits: u8,
    no_context_takeover: bool,
    /// Bytes produced for the message in progress.
    produced: u64,
    /// The message in progress held a block with BFINAL set.
    stream_ended: bool,
}

impl Decompressor {
    pub(crate) fn new(window_bits: u8, no_context_takeover: bool) -> Self {
        Self {
            state: None,
            window_bits,
            no_context_takeover,
            produced: 0,
            stream_ended: false,
        }
    }

    /// Inflates a piece of a compressed message into `out`; `last` appends
    /// the sync-flush tail. Fails with 1009 as soon as the message would grow
    /// beyond `max`, before allocating more than `max` bytes for it.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        last: bool,
        max: usize,
        out: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        let bits = self.window_bits;
        let state = self
            .state
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, bits));
        for (piece, is_tail) in [
            (input, false),
            (if last { &TAIL[..] } else { &[][..] }, true),
        ] {
            if self.stream_ended {
                if !is_tail && !piece.is_empty() {
                    return Err(ProtocolError::InvalidCompressedData);
                }
                continue;
            }
            let mut at = 0;
            loop {
                let room = out.capacity() - out.len();
                let allowed = (max as u64).saturating_sub(self.produced);
                if room == 0 {
                    // Grow, but never past the limit plus one byte (to detect overflow).
                    let want = (out.len().max(4096) as u64).min(allowed + 1).max(1) as usize;
                    out.reserve(want);
                }
                let before_in = state.total_in();
                let before_out = state.total_out();
                let filled = out.len();
                let limit = (out.capacity() - filled)
                    .min(usize::try_from(allowed + 1).unwrap_or(usize::MAX));
                out.resize(filled + limit, 0);
                let status = state
                    .decompress(&piece[at..], &mut out[filled..], FlushDecompress::Sync)
                    .map_err(|_| ProtocolError::InvalidCompressedData);
                let read = (state.total_in() - before_in) as usize;
                let written = (state.total_out() - before_out) as usize;
                out.truncate(filled + written);
                let status = status?;
                at += read;
                self.produced += written as u64;
                if self.produced > max as u64 {
                    return Err(ProtocolError::MessageTooLarge {
                        len: self.produced,
                        max,
                    });
                }
                let output_full = written == limit && limit > 0;
                if status == Status::StreamEnd {
                    // A block with BFINAL set (section 7.2.3.4): the stream is
                    // over; only the appended tail may follow, and the next
                    // message starts a new stream.
                    self.stream_ended = true;
                    if is_tail {
                        break;
                    }
                    if at < piece.len() {
                        return Err(ProtocolError::InvalidCompressedData);
                    }
                    break;
                }
                if at == piece.len() && !output_full {
                    break;
                }
                if read == 0 && written == 0 && !output_full {
                    // No progress with input left: zlib wants more than this piece.
                    break;
                }
            }
        }
        if last {
            self.produced = 0;
            if self.no_context_takeover || self.stream_ended {
                self.state = None;
                self.stream_ended = false;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate_all(
        d: &mut Decompressor,
        data: &[u8],
        max: usize,
    ) -> Result<Vec<u8>, ProtocolError> {
        let mut out = BytesMut::new();
        d.inflate(data, true, max, &mut out)?;
        Ok(out.to_vec())
    }

    #[test]
    fn rfc_7692_section_7_2_3_samples() {
        // 7.2.3.1: "Hello" compressed.
        let mut d = Decompressor::new(15, false);
        assert_eq!(
            inflate_all(&mut d, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], 100).unwrap(),
            b"Hello"
        );
        // 7.2.3.2: sharing the LZ77 window: the second "Hello" refers back to the first.
        assert_eq!(
            inflate_all(&mut d, &[0xf2, 0x00, 0x11, 0x00, 0x00], 100).unwrap(),
            b"Hello"
        );
        // 7.2.3.3: an empty DEFLATE block followed by the message.
        let mut d = Decompressor::new(15, false);
        assert_eq!(inflate_all(&mut d, &[0x00], 100).unwrap(), b"");
        // 7.2.3.4: a DEFLATE block with BFINAL set.
        let mut d = Decompressor::new(15, false);
        assert_eq!(
            inflate_all(&mut d, &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], 100).unwrap(),
            b"Hello"
        );
        // 7.2.3.5: two DEFLATE blocks in one message.
        let mut d = Decompressor::new(15, false);
        let two = [
            0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
        ];
        assert_eq!(inflate_all(&mut d, &two, 100).unwrap(), b"Hello");
        // 7.2.3.6 uncompressed stored block "Hello".
        let mut d = Decompressor::new(15, false);
        let stored = [
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        assert_eq!(inflate_all(&mut d, &stored, 100).unwrap(), b"Hello");
    }

    #[test]
    fn compress_then_inflate_with_and_without_context() {
        for no_context in [false, true] {
            for bits in [9, 12, 15] {
                let mut c = Compressor::new(6, bits, no_context);
                let mut d = Decompressor::new(15, no_context);
                for round in 0..5 {
                    let msg = format!("{round} the same text again and again, the same text again")
                        .repeat(round * 50 + 1);
                    let packed = c.compress(msg.as_bytes());
                    assert!(round == 0 || packed.len() < msg.len());
                    assert_eq!(
                        inflate_all(&mut d, &packed, 1 << 20).unwrap(),
                        msg.as_bytes()
                    );
                }
                assert_eq!(
                    c.state.is_none(),
                    no_context,
                    "state released without context takeover"
                );
                let empty = c.compress(b"");
                assert_eq!(inflate_all(&mut d, &empty, 10).unwrap(), b"");
            }
        }
        // The sample: "Hello" compresses to the RFC's bytes.
        let mut c = Compressor::new(6, 15, false);
        assert_eq!(
            &c.compress(b"Hello")[..],
            &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        );
    }

    #[test]
    fn bombs_are_refused_without_allocating_the_output() {
        let zeros = vec![0u8; 8 << 20];
        let packed = Compressor::new(9, 15, false).compress(&zeros);
        assert!(packed.len() < 16 * 1024, "{}", packed.len());
        let mut d = Decompressor::new(15, false);
        let mut out = BytesMut::new();
        let err = d.inflate(&packed, true, 1 << 20, &mut out).unwrap_err();
        assert!(matches!(err, ProtocolError::MessageTooLarge { max, .. } if max == 1 << 20));
        assert!(
            out.capacity() <= (1 << 21) + 4096,
            "allocated {}",
            out.capacity()
        );
        // Exactly at the limit is fine.
        let mut d = Decompressor::new(15, false);
        assert_eq!(
            inflate_all(
                &mut d,
                &Compressor::new(6, 15, false).compress(&zeros[..1000]),
                1000
            )
            .unwrap()
            .len(),
            1000
        );
    }

    #[test]
    fn garbage_is_invalid_compressed_data() {
        let mut d = Decompressor::new(15, false);
        assert_eq!(
            inflate_all(&mut d, &[0xff, 0xff, 0xff, 0xff], 100),
            Err(ProtocolError::InvalidCompressedData)
        );
    }
}
