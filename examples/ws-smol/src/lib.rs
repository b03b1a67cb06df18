//! A WebSocket adapter for smol (work in progress).
