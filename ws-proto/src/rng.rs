//! Randomness for masking keys and handshake nonces.
//!
//! By default bytes come from the operating system's secure generator
//! (`getrandom`), fetched 256 bytes at a time (64 masking keys) so that masking a frame does not
//! cost a system call. Tests can inject a seed for repeatable output.

#[allow(unused_imports)]
use crate::prelude::*;
/// Where random bytes come from. Cheap to clone; each clone continues
/// independently.
///
/// ```
/// use ws_proto::Randomness;
/// let mut a = Randomness::seeded(7);
/// let mut b = Randomness::seeded(7);
/// assert_eq!(a.mask_key(), b.mask_key());
/// # #[cfg(feature = "std")]
/// let _secure = Randomness::os();
/// ```
#[derive(Debug, Clone)]
pub struct Randomness {
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    /// The pool is allocated on first use: servers never mask, so they never need it.
    #[cfg(feature = "std")]
    Os {
        pool: Option<Box<[u8; 256]>>,
        used: u16,
    },
    Seeded(u64),
    Callback(fn(&mut [u8])),
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl Default for Randomness {
    fn default() -> Self {
        Self::os()
    }
}

impl Randomness {
    /// The operating system's cryptographically secure generator (the default;
    /// needs the `std` feature).
    ///
    /// ```
    /// let mut r = ws_proto::Randomness::os();
    /// let mut key = [0u8; 16];
    /// r.fill(&mut key);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn os() -> Self {
        Self {
            source: Source::Os {
                pool: None,
                used: 256,
            },
        }
    }

    /// A deterministic generator for tests and fuzzing. **Not secure**: masking
    /// keys become predictable, which RFC 6455 section 10.3 warns against.
    ///
    /// ```
    /// let mut r = ws_proto::Randomness::seeded(1);
    /// assert_ne!(r.mask_key(), r.mask_key());
    /// ```
    pub fn seeded(seed: u64) -> Self {
        Self {
            source: Source::Seeded(seed),
        }
    }

    /// Random bytes from a function: the way to bring a hardware generator
    /// or an RTOS's entropy source on `no_std` targets. It must be
    /// cryptographically secure for masking keys (RFC 6455 section 10.3).
    ///
    /// ```
    /// fn my_trng(out: &mut [u8]) { out.fill(4) /* a real generator here */ }
    /// let mut r = ws_proto::Randomness::from_fn(my_trng);
    /// assert_eq!(r.mask_key(), [4; 4]);
    /// ```
    pub fn from_fn(fill: fn(&mut [u8])) -> Self {
        Self {
            source: Source::Callback(fill),
        }
    }

    /// Fills `out` with random bytes.
    ///
    /// # Panics
    /// If the operating system cannot provide randomness at all; masking keys
    /// cannot be made safely without it.
    ///
    /// ```
    /// let mut r = ws_proto::Randomness::seeded(3);
    /// let mut out = [0u8; 5];
    /// r.fill(&mut out);
    /// ```
    pub fn fill(&mut self, out: &mut [u8]) {
        match &mut self.source {
            #[cfg(feature = "std")]
            Source::Os { pool, used } => {
                let pool = pool.get_or_insert_with(|| Box::new([0; 256]));
                for b in out {
                    if usize::from(*used) == pool.len() {
                        getrandom::fill(&mut pool[..]).expect("the OS random generator failed");
                        *used = 0;
                    }
                    *b = pool[usize::from(*used)];
                    *used += 1;
                }
            }
            Source::Callback(fill) => fill(out),
            Source::Seeded(state) => {
                for chunk in out.chunks_mut(8) {
                    // splitmix64
                    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                    let mut z = *state;
                    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                    z ^= z >> 31;
                    chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
                }
            }
        }
    }

    /// A fresh 4-byte masking key.
    ///
    /// ```
    /// let key: [u8; 4] = ws_proto::Randomness::os().mask_key();
    /// # let _ = key;
    /// ```
    pub fn mask_key(&mut self) -> [u8; 4] {
        let mut key = [0; 4];
        self.fill(&mut key);
        key
    }
}
