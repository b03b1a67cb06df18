//! Long runs against a hostile network, on loopback.
//!
//! * [`proxy`]: a TCP proxy that, per connection and on a schedule or at
//!   random from a seed, adds latency and jitter per direction, caps
//!   bandwidth, stalls a direction (a blackhole: bytes stop flowing, TCP
//!   stays open), resets (RST), half-closes or cuts cleanly, and logs every
//!   fault it applies ([`log`]: JSON lines with the time and the
//!   connection). The `fault-proxy` binary runs it.
//! * [`fault`]: the faults, a connection's plan of them, their text form.
//! * [`check`]: what the soak client checks about its echoes; [`report`]:
//!   what it makes of the fault log (dead-link detection, what each fault
//!   looked like to the client).
//! * The `soak-server` binary (ws-tokio echo with keepalive) and the
//!   `soak-client` binary (ws-tokio reconnecting clients and ws-blocking
//!   clients on threads, sending numbered messages) that
//!   `tests/soak/run.sh` runs through the proxy.

pub mod check;
pub mod fault;
pub mod log;
pub mod proxy;
pub mod report;
