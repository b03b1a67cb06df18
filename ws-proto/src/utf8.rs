//! Incremental, fail-fast UTF-8 validation for text messages split across
//! frames and reads (RFC 6455 section 8.1).
//!
//! `core::str::from_utf8` already distinguishes "invalid" from "valid but cut
//! short" ([`core::str::Utf8Error::error_len`]) and checks the second byte of
//! a sequence against its lead byte, so a prefix such as `ED A0` (a surrogate)
//! or `F4 90` (above U+10FFFF) is rejected as soon as it arrives. This type only
//! carries an unfinished code point (at most three bytes) from one piece to the
//! next.

use core::str;

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
        match str::from_utf8(data) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(InvalidUtf8),
            Err(e) => {
                let tail = &data[e.valid_up_to()..];
                // `error_len() == None` means the input ended inside a sequence,
                // which is at most three bytes long.
                self.partial[..tail.len()].copy_from_slice(tail);
                self.partial_len = tail.len() as u8;
                Ok(())
            }
        }
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

/// The length of the sequence a lead byte starts; only called on lead bytes
/// that `from_utf8` accepted as the start of an unfinished sequence (C2-F4).
fn sequence_len(lead: u8) -> usize {
    match lead {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_all_splits(text: &[u8]) {
        let valid = str::from_utf8(text).is_ok();
        for a in 0..=text.len() {
            for b in a..=text.len() {
                let mut v = Utf8Validator::new();
                let ok = v.feed(&text[..a]).is_ok()
                    && v.feed(&text[a..b]).is_ok()
                    && v.feed(&text[b..]).is_ok()
                    && v.finish().is_ok();
                assert_eq!(ok, valid, "{text:x?} split at {a},{b}");
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
        ] {
            check_all_splits(text);
        }
    }

    #[test]
    fn fails_fast_on_the_first_bad_byte() {
        // Autobahn 6.4.x: the invalid byte arrives, the rest has not.
        let mut v = Utf8Validator::new();
        v.feed("κόσμε".as_bytes()).unwrap();
        assert_eq!(v.feed(&[0xf4]), Ok(()));
        assert_eq!(v.feed(&[0x90]), Err(InvalidUtf8));
    }
}
