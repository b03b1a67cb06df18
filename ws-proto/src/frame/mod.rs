//! Frame-level building blocks (RFC 6455 section 5): opcodes, the frame
//! header codec, masking and close payloads.
//!
//! Most users never touch these directly: a [`Connection`](crate::Connection)
//! drives them. They are public for proxies, tests and fuzzers.

mod close;
mod close_kind;
mod header;
mod mask;
mod opcode;
mod piece;

pub use close::{CloseCode, CloseFrame};
pub use close_kind::CloseKind;
pub use header::{FrameHeader, MAX_HEADER_LEN};
pub use mask::{apply_mask, apply_mask_scalar};
pub use opcode::OpCode;
pub use piece::{Frame, FrameRef};
