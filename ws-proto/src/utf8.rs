//! Incremental, fail-fast UTF-8 validation for text messages split across
//! frames and reads (RFC 6455 section 8.1).
//!
//! A piece is split in two: the end of it that may be the start of a code
//! point cut short (at most three bytes), and everything before, which must
//! be valid UTF-8 on its own. That head is checked in one pass by
//! [`validate`]: `core::str::from_utf8` for short inputs, `simdutf8` (SIMD,
//! with run-time CPU detection under the `std` feature) for longer ones. The
//! cut-short tail is checked as a prefix with `core::str::from_utf8`, which
//! distinguishes "invalid" from "valid but cut short"
//! ([`core::str::Utf8Error::error_len`]) and checks the second byte of a
//! sequence against its lead byte, so a prefix such as `ED A0` (a surrogate)
//! or `F4 90` (above U+10FFFF) is rejected as soon as it arrives. The
//! validator only carries the unfinished code point from one piece to the
//! next.

use core::str;

/// Inputs shorter than this go to `core::str::from_utf8`, longer ones to
/// `simdutf8` (which itself hands inputs shorter than its 64-byte block to a
/// scalar check). Measured with the `utf8_*` criterion benches
/// (`benches/benches/primitives.rs`), simdutf8 against std: about 3x as fast
/// on 125-byte multibyte text, 9-11x on 4-64 KiB multibyte, 2-5x on 4-64 KiB
/// ASCII. Its one loss is short ASCII with a partial last block (125 B:
/// about 14 ns against 9 ns), where that block takes the full check.
const SIMD_MIN_LEN: usize = 64;

/// Checks that `data` is valid UTF-8 as a whole (a complete text).
///
/// The one-pass check behind [`Utf8Validator::feed`], picked by length; for
/// whole payloads that arrive in one piece.
pub(crate) fn validate(data: &[u8]) -> Result<(), InvalidUtf8> {
    let valid = if data.len() < SIMD_MIN_LEN {
        str::from_utf8(data).is_ok()
    } else {
        simdutf8::basic::from_utf8(data).is_ok()
    };
    if valid {
        Ok(())
    } else {
        Err(InvalidUtf8)
    }
}

/// Validates UTF-8 fed in pieces.
///
/// ```
/// use ws_proto::Utf8Validator;
/// let mut v = Utf8Validator::new();
/// assert!(v.feed(&[0xce]).is_ok());          // first half of 'κ'
/// assert!(v.feed(&[0xba, b'a']).is_ok());    // second half, then 'a'
/// assert!(v.finish().is_ok());
/// assert!(v.feed(&[0xed, 0xa0]).is_err());   // a surrogate fails at once
/// ```
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    partial: [u8; 4],
    partial_len: u8,
}

/// The bytes fed to a [`Utf8Validator`] are not valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Validator {
    /// A validator at the start of a text.
    ///
    /// ```
    /// # use ws_proto::Utf8Validator;
    /// assert!(Utf8Validator::new().finish().is_ok());
    /// ```
    pub const fn new() -> Self {
        Self {
            partial: [0; 4],
            partial_len: 0,
        }
    }

    /// Validates the next piece; fails as soon as the bytes seen so far cannot
    /// be the start of valid UTF-8.
    ///
    /// ```
    /// # use ws_proto::Utf8Validator;
    /// let mut v = Utf8Validator::new();
    /// assert!(v.feed(b"plain ascii").is_ok());
    /// assert!(v.feed(&[0xff]).is_err());
    /// ```
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), InvalidUtf8> {
        if self.partial_len > 0 {
            let have = usize::from(self.partial_len);
            let need = sequence_len(self.partial[0]) - have;
            let take = need.min(data.len());
            self.partial[have..have + take].copy_from_slice(&data[..take]);
            let total = have + take;
            match str::from_utf8(&self.partial[..total]) {
                Ok(_) => {}
                Err(e) if e.error_len().is_some() => return Err(InvalidUtf8),
                Err(_) => {
                    // Still a valid but unfinished sequence; `data` is used up.
                    self.partial_len = total as u8;
                    return Ok(());
                }
            }
            self.partial_len = 0;
            data = &data[take..];
        }
        let (head, tail) = data.split_at(data.len() - unfinished_len(data));
        validate(head)?;
        if !tail.is_empty() {
            match str::from_utf8(tail) {
                // `unfinished_len` only cuts before a lead byte whose sequence
                // runs past the end, so the tail is never complete.
                Ok(_) => {}
                Err(e) if e.error_len().is_some() => return Err(InvalidUtf8),
                Err(_) => {}
            }
            self.partial[..tail.len()].copy_from_slice(tail);
            self.partial_len = tail.len() as u8;
        }
        Ok(())
    }

    /// Ends the text: fails if it stopped in the middle of a code point.
    /// The validator is reset for the next text either way.
    ///
    /// ```
    /// # use ws_proto::Utf8Validator;
    /// let mut v = Utf8Validator::new();
    /// v.feed(&[0xe2, 0x82]).unwrap();
    /// assert!(v.finish().is_err());
    /// ```
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.partial_len == 0;
        self.partial_len = 0;
        if complete {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }

    /// Forgets any unfinished code point.
    ///
    /// ```
    /// # use ws_proto::Utf8Validator;
    /// let mut v = Utf8Validator::new();
    /// v.feed(&[0xe2]).unwrap();
    /// v.reset();
    /// assert!(v.finish().is_ok());
    /// ```
    pub fn reset(&mut self) {
        self.partial_len = 0;
    }
}

/// The length of the sequence a lead byte (C2-F4) starts.
fn sequence_len(lead: u8) -> usize {
    match lead {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// How many bytes at the end of `data` start a sequence that runs past the
/// end (0 to 3): the last lead byte among the final three, if its sequence
/// is longer than what follows it. Bytes that can never lead a sequence
/// (C0, C1, F5-FF) are left in the head, where `validate` rejects them.
fn unfinished_len(data: &[u8]) -> usize {
    let last = data.len().saturating_sub(3);
    for (i, &byte) in data.iter().enumerate().skip(last).rev() {
        match byte {
            // A continuation byte: the lead may be further back.
            0x80..=0xbf => continue,
            0xc2..=0xf4 => {
                let left = data.len() - i;
                return if sequence_len(byte) > left { left } else { 0 };
            }
            // ASCII or a byte that never leads: nothing is cut short.
            _ => return 0,
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;

    /// Feeds `text` in the pieces `cuts` marks; the validator's verdict and
    /// the piece it failed on.
    fn feed_pieces(text: &[u8], cuts: &[usize]) -> Result<(), usize> {
        let mut v = Utf8Validator::new();
        let mut start = 0;
        for (i, &end) in cuts.iter().chain([&text.len()]).enumerate() {
            v.feed(&text[start..end]).map_err(|_| i)?;
            start = end;
        }
        v.finish().map_err(|_| cuts.len() + 1)
    }

    /// The piece a fail-fast validator must fail on: the first after which
    /// the bytes so far are no prefix of any valid UTF-8 (std reports an
    /// error with a length), else `finish` if the text is cut short.
    fn expected(text: &[u8], cuts: &[usize]) -> Result<(), usize> {
        for (i, &end) in cuts.iter().chain([&text.len()]).enumerate() {
            if str::from_utf8(&text[..end]).is_err_and(|e| e.error_len().is_some()) {
                return Err(i);
            }
        }
        str::from_utf8(text).map(drop).map_err(|_| cuts.len() + 1)
    }

    fn check_all_splits(text: &[u8]) {
        for a in 0..=text.len() {
            for b in a..=text.len() {
                let cuts = [a, b];
                assert_eq!(
                    feed_pieces(text, &cuts),
                    expected(text, &cuts),
                    "{text:x?} split at {a},{b}"
                );
            }
        }
    }

    #[test]
    fn every_split_agrees_with_std() {
        for text in [
            "κόσμε".as_bytes(),
            "\u{10FFFF}\u{FFFF}\u{80}\u{7f}".as_bytes(),
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            b"\xf4\x90\x80\x80",
            b"\xf0\x8f\xbf\xbf",
            b"\xc0\xaf",
            b"abc\xe2\x82",
            b"\xff",
            b"\xe0\x80",
            b"\xe2\x82\xac\x80",
        ] {
            check_all_splits(text);
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "tens of thousands of splits")]
    fn every_split_of_long_text_agrees_with_std() {
        // Long enough that pieces take the simdutf8 path, with errors near
        // the block edges simdutf8 works in.
        let mut text = "κόσμε 日本語 🎉 ascii ".repeat(6).into_bytes();
        check_all_splits(&text);
        for bad in [63, 64, 65, 127, 128] {
            let saved = text[bad];
            text[bad] = 0xff;
            check_all_splits(&text);
            text[bad] = saved;
        }
    }

    #[test]
    fn fails_fast_on_the_first_bad_byte() {
        // Autobahn 6.4.x: the invalid byte arrives, the rest has not.
        let mut v = Utf8Validator::new();
        v.feed("κόσμε".as_bytes()).unwrap();
        assert_eq!(v.feed(&[0xf4]), Ok(()));
        assert_eq!(v.feed(&[0x90]), Err(InvalidUtf8));
        // The same with the bad sequence at the end of a long piece.
        let mut long = "κόσμε".repeat(20).into_bytes();
        long.extend_from_slice(&[0xf4, 0x90]);
        assert_eq!(Utf8Validator::new().feed(&long), Err(InvalidUtf8));
        long.truncate(long.len() - 1);
        assert_eq!(Utf8Validator::new().feed(&long), Ok(()));
    }

    #[test]
    fn validate_agrees_with_std_on_every_length() {
        let text = "aé€🎉".repeat(40).into_bytes();
        for end in 0..=text.len() {
            let piece = &text[..end];
            assert_eq!(
                validate(piece).is_ok(),
                str::from_utf8(piece).is_ok(),
                "{end}"
            );
        }
    }

    /// Proptests: not under Miri (slow there, and proptest persists
    /// failures to files).
    #[cfg(not(miri))]
    mod proptests {
        use super::*;
        use proptest::prelude::*;

        /// Bytes that are mostly UTF-8 (so splits fall inside sequences) with
        /// some random bytes mixed in.
        fn text() -> impl Strategy<Value = Vec<u8>> {
            let piece = prop_oneof![
                4 => any::<char>().prop_map(|c| c.to_string().into_bytes()),
                4 => "[a-z ]{0,80}".prop_map(String::into_bytes),
                1 => any::<u8>().prop_map(|b| std::vec![b]),
            ];
            prop::collection::vec(piece, 0..120).prop_map(|pieces| pieces.concat())
        }

        fn text_and_cuts() -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
            text().prop_flat_map(|text| {
                let len = text.len();
                (Just(text), prop::collection::vec(0..=len, 0..8))
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

            #[test]
            fn any_split_agrees_with_std((text, mut cuts) in text_and_cuts()) {
                cuts.sort_unstable();
                prop_assert_eq!(feed_pieces(&text, &cuts), expected(&text, &cuts));
            }

            #[test]
            fn arbitrary_bytes_agree_with_std(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
                prop_assert_eq!(validate(&bytes).is_ok(), str::from_utf8(&bytes).is_ok());
                prop_assert_eq!(feed_pieces(&bytes, &[]).is_ok(), str::from_utf8(&bytes).is_ok());
            }
        }
    }
}
