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
    /// Bytes from the thread's pool of OS randomness ([`os_pool`]): a
    /// connection holds none of its own, and clones never repeat bytes.
    #[cfg(feature = "std")]
    Os,
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
        Self { source: Source::Os }
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
            Source::Os => os_pool::fill(out),
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

/// The OS randomness a thread's connections draw from: one getrandom call
/// per 256 bytes (64 masking keys), and no buffer per connection (a
/// client connection kept a 256-byte one before, allocated at its
/// handshake; every relayed pair has a client connection).
#[cfg(feature = "std")]
mod os_pool {
    use core::cell::RefCell;

    const SIZE: usize = 256;

    struct Pool {
        bytes: [u8; SIZE],
        used: usize,
    }

    std::thread_local! {
        static POOL: RefCell<Pool> = const { RefCell::new(Pool { bytes: [0; SIZE], used: SIZE }) };
    }

    /// Fills `out` from the thread's pool (straight from the OS while the
    /// thread is being torn down).
    pub(super) fn fill(out: &mut [u8]) {
        let drawn = POOL.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            for b in out.iter_mut() {
                if pool.used == SIZE {
                    getrandom::fill(&mut pool.bytes).expect("the OS random generator failed");
                    pool.used = 0;
                }
                *b = pool.bytes[pool.used];
                pool.used += 1;
            }
        });
        if drawn.is_err() {
            getrandom::fill(out).expect("the OS random generator failed");
        }
    }

    #[cfg(test)]
    mod tests {
        use crate::Randomness;

        #[test]
        fn clones_never_repeat_each_others_bytes() {
            let mut a = Randomness::os();
            let mut b = a.clone();
            let (mut x, mut y) = ([0u8; 64], [0u8; 64]);
            a.fill(&mut x);
            b.fill(&mut y);
            assert_ne!(x, y);
        }

        #[test]
        fn more_than_a_pool_at_once() {
            let mut out = [0u8; 1000];
            Randomness::os().fill(&mut out);
            assert!(out.iter().any(|b| *b != 0));
        }
    }
}
