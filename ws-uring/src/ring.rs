//! The io_uring side: opening the ring (and saying in words why the kernel
//! refused), the ring of provided receive buffers, and the tokens that name
//! each operation in `user_data`.

use std::alloc::{self, Layout};
use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;
use io_uring::IoUring;

use crate::error::{Error, Unavailable};

/// The buffer group id of the receive buffers (one group per ring).
pub(crate) const BUFFER_GROUP: u16 = 0;

/// The oldest kernel this driver runs on: multishot receive (6.0) with a
/// provided buffer ring (5.19), multishot accept (5.19), waits with a
/// timeout in one `io_uring_enter` (5.11).
const MIN_KERNEL: (u32, u32) = (6, 0);

/// Opens a ring of `entries` submission entries, or says why not.
pub(crate) fn open(entries: u32) -> Result<IoUring, Error> {
    check_kernel_version()?;
    // Cooperative task running spares an interrupt per completion; a kernel
    // that does not know it (before 5.19) cannot get this far anyway, but a
    // refusal of the flag alone is not a reason to fail.
    let ring = match IoUring::builder().setup_coop_taskrun().build(entries) {
        Ok(ring) => ring,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            IoUring::new(entries).map_err(refused)?
        }
        Err(e) => return Err(refused(e)),
    };
    if !ring.params().is_feature_ext_arg() {
        return Err(Error::Unavailable(Unavailable::new(
            "the kernel's io_uring cannot wait with a timeout (IORING_FEAT_EXT_ARG, Linux 5.11)",
            None,
        )));
    }
    Ok(ring)
}

/// `io_uring_setup`'s error, explained.
fn refused(err: io::Error) -> Error {
    let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(0);
    let what = match err.raw_os_error() {
        Some(libc::ENOSYS) => {
            "the kernel has no io_uring (built without CONFIG_IO_URING, or a seccomp filter answers ENOSYS, as Docker's default profile does)".to_string()
        }
        Some(libc::EPERM) if disabled == 2 => {
            "io_uring is disabled on this machine (sysctl kernel.io_uring_disabled = 2)".to_string()
        }
        Some(libc::EPERM) if disabled == 1 => "io_uring is limited to the group in kernel.io_uring_group (sysctl kernel.io_uring_disabled = 1), and this process is not in it".to_string(),
        Some(libc::EPERM) => {
            "the kernel refused io_uring to this process (a seccomp filter or a security module)".to_string()
        }
        Some(libc::ENOMEM) => "the kernel could not allocate the ring (locked-memory limit, ulimit -l, too low?)".to_string(),
        _ => "io_uring_setup failed".to_string(),
    };
    Error::Unavailable(Unavailable::new(what, Some(err)))
}

/// Refuses kernels older than [`MIN_KERNEL`] with their version in words
/// (they would fail later, on the first multishot receive, with `EINVAL`).
fn check_kernel_version() -> Result<(), Error> {
    let Some(release) = kernel_release() else {
        return Ok(()); // unknown: let the ring calls decide
    };
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if version < MIN_KERNEL {
        return Err(Error::Unavailable(Unavailable::new(
            format!(
                "Linux {release} is too old: ws-uring needs {}.{} or later (multishot receive with a provided buffer ring)",
                MIN_KERNEL.0, MIN_KERNEL.1
            ),
            None,
        )));
    }
    Ok(())
}

/// `uname -r`.
fn kernel_release() -> Option<String> {
    // SAFETY: `utsname` is plain old data; an all-zero value is valid.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is a valid, writable `utsname`.
    if unsafe { libc::uname(&mut name) } != 0 {
        return None;
    }
    let bytes: Vec<u8> = name
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8(bytes).ok()
}

/// A ring of provided receive buffers (`IORING_REGISTER_PBUF_RING`): the
/// kernel picks a free buffer for each multishot receive completion, and
/// the buffer comes back here once its bytes are copied into the core.
/// All connections of a runtime share it, so an idle connection holds no
/// receive buffer at all.
pub(crate) struct BufRing {
    /// The ring of entries the kernel reads: `entries` of 16 bytes,
    /// page-aligned, shared with the kernel.
    ring: NonNull<BufRingEntry>,
    ring_layout: Layout,
    /// The buffers themselves, `entries * size` bytes.
    data: Box<[u8]>,
    entries: u16,
    size: usize,
    /// Our copy of the ring's tail (the kernel only reads it).
    tail: u16,
}

// SAFETY: the ring memory and the buffers are owned by this value alone
// (the kernel uses them on behalf of the ring, which moves with it); no
// thread-local state is involved (the ring is not set up single-issuer), so
// the runtime may move to another thread between turns.
unsafe impl Send for BufRing {}

impl BufRing {
    /// Allocates `entries` (a power of two, at most 32768) buffers of
    /// `size` bytes and registers them with `ring`.
    pub(crate) fn new(ring: &IoUring, entries: u16, size: usize) -> Result<Self, Error> {
        if !entries.is_power_of_two() || entries > 32768 || size == 0 || size > u32::MAX as usize {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                "receive buffers: the count must be a power of two up to 32768, the size 1 byte to 4 GiB",
            )));
        }
        let ring_layout = Layout::from_size_align(
            usize::from(entries) * std::mem::size_of::<BufRingEntry>(),
            4096,
        )
        .map_err(|e| Error::Io(io::Error::other(e)))?;
        // SAFETY: the layout has a non-zero size (entries >= 1).
        let raw = unsafe { alloc::alloc_zeroed(ring_layout) }.cast::<BufRingEntry>();
        let Some(ring_ptr) = NonNull::new(raw) else {
            alloc::handle_alloc_error(ring_layout);
        };
        let data = vec![0u8; usize::from(entries) * size].into_boxed_slice();
        let mut bufs = Self {
            ring: ring_ptr,
            ring_layout,
            data,
            entries,
            size,
            tail: 0,
        };
        // SAFETY: the ring memory lives as long as `bufs`, which the
        // runtime drops after the ring (see `Runtime`'s field order), and
        // its size matches `entries`.
        let registered = unsafe {
            ring.submitter().register_buf_ring_with_flags(
                ring_ptr.as_ptr() as u64,
                entries,
                BUFFER_GROUP,
                0,
            )
        };
        if let Err(err) = registered {
            return Err(match err.raw_os_error() {
                Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => {
                    Error::Unavailable(Unavailable::new(
                        "the kernel has no provided buffer rings (IORING_REGISTER_PBUF_RING, Linux 5.19)",
                        Some(err),
                    ))
                }
                _ => Error::Io(err),
            });
        }
        for bid in 0..entries {
            bufs.provide(bid);
        }
        Ok(bufs)
    }

    /// Hands buffer `bid` (back) to the kernel.
    pub(crate) fn provide(&mut self, bid: u16) {
        if bid >= self.entries {
            return; // not ours: the kernel only hands out what we gave it
        }
        let slot = usize::from(self.tail & (self.entries - 1));
        let addr = self.data[usize::from(bid) * self.size..].as_mut_ptr() as u64;
        // SAFETY: `slot < entries`, inside the ring allocation; the kernel
        // does not read entries past the published tail, so writing this
        // one before publishing it races with nothing.
        unsafe {
            let entry = &mut *self.ring.as_ptr().add(slot);
            entry.set_addr(addr);
            entry.set_len(self.size as u32);
            entry.set_bid(bid);
        }
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail field overlays the first entry's reserved field
        // (the kernel's layout); it is 2-byte aligned in a live allocation.
        // The release store publishes the entry written above.
        unsafe {
            let tail = BufRingEntry::tail(self.ring.as_ptr()).cast::<AtomicU16>();
            (*tail).store(self.tail, Ordering::Release);
        }
    }

    /// The first `len` bytes of buffer `bid`, as the kernel filled them.
    pub(crate) fn get(&self, bid: u16, len: usize) -> &[u8] {
        let start = usize::from(bid.min(self.entries - 1)) * self.size;
        &self.data[start..start + len.min(self.size)]
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout. The ring that
        // used it is dropped first (closing it unregisters the group).
        unsafe { alloc::dealloc(self.ring.as_ptr().cast(), self.ring_layout) };
    }
}

/// What an operation was, in the top bits of its `user_data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// A connection's multishot receive.
    Recv,
    /// A connection's send.
    Send,
    /// A listener's multishot accept.
    Accept,
    /// A cancellation: its own completion means nothing.
    Cancel,
    /// A client connection's TCP connect.
    Connect,
}

/// An operation's `user_data`: its kind, and the slot (index and
/// generation) it belongs to, so a completion for a slot reused since is
/// recognised as stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) op: Op,
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

/// Three bits for the operation, 29 for the generation, 32 for the index.
const GEN_BITS: u32 = 29;
const GEN_MASK: u32 = (1 << GEN_BITS) - 1;

impl Token {
    pub(crate) fn new(op: Op, index: u32, generation: u32) -> Self {
        Self {
            op,
            index,
            generation: generation & GEN_MASK,
        }
    }

    pub(crate) fn encode(self) -> u64 {
        let op = match self.op {
            Op::Recv => 0u64,
            Op::Send => 1,
            Op::Accept => 2,
            Op::Cancel => 3,
            Op::Connect => 4,
        };
        (op << 61) | (u64::from(self.generation & GEN_MASK) << 32) | u64::from(self.index)
    }

    pub(crate) fn decode(data: u64) -> Self {
        let op = match data >> 61 {
            0 => Op::Recv,
            1 => Op::Send,
            2 => Op::Accept,
            4 => Op::Connect,
            _ => Op::Cancel,
        };
        Self {
            op,
            index: data as u32,
            generation: ((data >> 32) as u32) & GEN_MASK,
        }
    }
}

/// Generations wrap within the bits a token has for them.
pub(crate) fn next_generation(generation: u32) -> u32 {
    generation.wrapping_add(1) & GEN_MASK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for op in [Op::Recv, Op::Send, Op::Accept, Op::Cancel, Op::Connect] {
            for (index, generation) in [(0, 0), (1, 2), (u32::MAX, GEN_MASK), (7, GEN_MASK - 1)] {
                let token = Token::new(op, index, generation);
                assert_eq!(Token::decode(token.encode()), token);
            }
        }
    }

    #[test]
    fn generations_wrap_inside_the_token() {
        assert_eq!(next_generation(GEN_MASK), 0);
        assert_eq!(next_generation(3), 4);
    }

    #[test]
    fn the_kernel_version_is_read() {
        let release = kernel_release().expect("uname works on Linux");
        assert!(
            release.chars().next().is_some_and(|c| c.is_ascii_digit()),
            "{release}"
        );
    }
}
