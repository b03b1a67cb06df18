//! Masking (RFC 6455 section 5.3): `payload[i] ^= key[(offset + i) % 4]`.
//!
//! The fast path XORs eight bytes at a time with the key, rotated to the
//! starting position, repeated into a `u64` (the compiler vectorises the loop
//! further); it is safe code, written over `chunks_exact_mut`, and tested
//! against the byte-by-byte [`apply_mask_scalar`] on every length and
//! alignment. On x86-64 with `std`, long payloads use the same loop compiled
//! for AVX2 when the CPU has it (detected at run time).

/// XORs `buf` with `key`, starting at key position `offset` (0..=3), and
/// returns the key position for the byte after `buf`, so a payload that arrives
/// in pieces can be unmasked piece by piece.
///
/// ```
/// use ws_proto::frame::apply_mask;
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut data = *b"Hello";
/// let next = apply_mask(&mut data[..2], key, 0);
/// apply_mask(&mut data[2..], key, next);
/// assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]); // RFC 6455 section 5.7
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) -> usize {
    if wide::worth_trying(buf.len()) {
        apply_mask_long(buf, key, offset)
    } else {
        apply_mask_words(buf, key, offset)
    }
}

/// [`apply_mask`] eight bytes at a time: the loop itself, inlined into each
/// caller below.
#[inline(always)]
fn apply_mask_words(buf: &mut [u8], key: [u8; 4], offset: usize) -> usize {
    let offset = offset & 3;
    let end = (offset + buf.len()) & 3;
    // The key rotated so that position 0 of `buf` uses key[offset], as a
    // word whose bytes in memory are the rotated key.
    let shift = 8 * offset as u32;
    let k4 = if cfg!(target_endian = "little") {
        u32::from_ne_bytes(key).rotate_right(shift)
    } else {
        u32::from_ne_bytes(key).rotate_left(shift)
    };
    // Both halves equal: the bytes in memory are the rotated key twice.
    let k8 = u64::from(k4) | (u64::from(k4) << 32);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(word) ^ k8).to_ne_bytes());
    }
    // 8 is a multiple of 4, so the tail starts again at the rotated key's
    // first byte.
    let k = k4.to_ne_bytes();
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= k[i & 3];
    }
    end
}

/// [`apply_mask`] for long payloads, out of line so that short ones stay
/// small where they are inlined.
#[inline(never)]
fn apply_mask_long(buf: &mut [u8], key: [u8; 4], offset: usize) -> usize {
    if wide::available() {
        // SAFETY: `available` checked that the CPU has the instructions
        // `apply_mask_wide` is compiled for.
        unsafe { wide::apply_mask_wide(buf, key, offset) }
    } else {
        apply_mask_words(buf, key, offset)
    }
}

/// [`apply_mask_words`] compiled for AVX2 (32-byte vectors instead of SSE2's
/// 16), used for long payloads when the CPU has it. The code is the same safe
/// loop; only the instructions the compiler may pick differ.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
mod wide {
    /// Below this, the check is not worth it.
    const MIN_LEN: usize = 256;

    /// Long enough to look for AVX2.
    #[inline(always)]
    pub(super) fn worth_trying(len: usize) -> bool {
        len >= MIN_LEN
    }

    #[inline]
    pub(super) fn available() -> bool {
        std::is_x86_feature_detected!("avx2")
    }

    /// # Safety
    /// The CPU must support AVX2 ([`available`]).
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn apply_mask_wide(buf: &mut [u8], key: [u8; 4], offset: usize) -> usize {
        super::apply_mask_words(buf, key, offset)
    }
}

/// Without run-time CPU detection: the portable loop only.
#[cfg(not(all(feature = "std", target_arch = "x86_64")))]
mod wide {
    /// Never: there is nothing to look for.
    #[inline(always)]
    pub(super) fn worth_trying(_len: usize) -> bool {
        false
    }

    #[inline]
    pub(super) fn available() -> bool {
        false
    }

    /// # Safety
    /// Always safe; `unsafe` only to match the detecting twin.
    pub(super) unsafe fn apply_mask_wide(buf: &mut [u8], key: [u8; 4], offset: usize) -> usize {
        super::apply_mask_words(buf, key, offset)
    }
}

/// The byte-at-a-time reference implementation of [`apply_mask`]; same contract.
///
/// ```
/// use ws_proto::frame::{apply_mask, apply_mask_scalar};
/// let mut a = [7u8; 37];
/// let mut b = a;
/// assert_eq!(apply_mask(&mut a, [1, 2, 3, 4], 3), apply_mask_scalar(&mut b, [1, 2, 3, 4], 3));
/// assert_eq!(a, b);
/// ```
pub fn apply_mask_scalar(buf: &mut [u8], key: [u8; 4], offset: usize) -> usize {
    let offset = offset & 3;
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[(offset + i) & 3];
    }
    (offset + buf.len()) & 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_matches_scalar_on_every_length_offset_and_alignment() {
        let key = [0xde, 0xad, 0xbe, 0xef];
        // Miri interprets every byte operation: a shorter sweep still covers
        // both paths (under and over 16 bytes) at every alignment and offset.
        let n = if cfg!(miri) { 48u32 } else { 300 };
        let source: Vec<u8> = (0..n).map(|i| (i * 7 + 3) as u8).collect();
        for align in 0..8 {
            for len in 0..(source.len() - align) {
                for offset in 0..4 {
                    let mut fast = source[align..align + len].to_vec();
                    let mut slow = fast.clone();
                    let a = apply_mask(&mut fast, key, offset);
                    let b = apply_mask_scalar(&mut slow, key, offset);
                    assert_eq!(fast, slow, "len {len} offset {offset} align {align}");
                    assert_eq!(a, b);
                }
            }
        }
    }

    #[test]
    fn long_payloads_match_scalar_on_both_paths() {
        // 256 bytes and more: the AVX2 loop where the CPU has it.
        let key = [0x01, 0x80, 0x7f, 0xfe];
        let lens: &[usize] = if cfg!(miri) {
            &[300]
        } else {
            &[255, 256, 257, 300, 1000, 4099]
        };
        let source: Vec<u8> = (0..4200u32).map(|i| (i * 31 + 7) as u8).collect();
        for &len in lens {
            for align in 0..4 {
                for offset in 0..4 {
                    let mut fast = source[align..align + len].to_vec();
                    let mut slow = fast.clone();
                    let a = apply_mask(&mut fast, key, offset);
                    let b = apply_mask_scalar(&mut slow, key, offset);
                    assert_eq!(
                        (fast, a),
                        (slow, b),
                        "len {len} offset {offset} align {align}"
                    );
                }
            }
        }
    }

    #[test]
    fn unmasking_in_pieces_equals_unmasking_at_once() {
        let key = [1, 2, 3, 4];
        let data: Vec<u8> = (0..100u8).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        for split in 0..data.len() {
            let mut pieces = data.clone();
            let (a, b) = pieces.split_at_mut(split);
            let next = apply_mask(a, key, 0);
            apply_mask(b, key, next);
            assert_eq!(pieces, whole, "split at {split}");
        }
    }

    #[test]
    fn masking_twice_is_identity() {
        let mut data = b"The quick brown fox jumps over the lazy dog".to_vec();
        apply_mask(&mut data, [9, 8, 7, 6], 1);
        apply_mask(&mut data, [9, 8, 7, 6], 1);
        assert_eq!(&data, b"The quick brown fox jumps over the lazy dog");
    }
}
