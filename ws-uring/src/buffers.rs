//! Read buffers between connections. The core sizes and recycles them
//! ([`Connection::prepare_receive_buffer`], [`Connection::release_receive_buffer`]
//! with a [`ReadBufferPool`] holding one spare); a completion loop decodes
//! many connections' bytes in one batch, and the payloads it hands out
//! point into those buffers until the application is done with them. So the
//! runtime keeps a short stack of pools (one spare each), and gives a
//! connection's buffer back only at the start of the next turn, once the
//! application has had the payloads: by then the buffer is usually free
//! again, and the next connection with bytes reuses it without allocating.

use ws_proto::{Connection, ReadBufferPool};

/// The most spare buffers kept (each about 4 KiB, up to the core's limit).
const MAX_SPARES: usize = 64;

#[derive(Debug, Default)]
pub(crate) struct ReadBuffers {
    /// Pools that each hold a spare buffer.
    spares: Vec<ReadBufferPool>,
}

impl ReadBuffers {
    /// Appends `data` to the connection's read buffer, which takes a spare
    /// when it has none.
    pub(crate) fn receive(&mut self, conn: &mut Connection, data: &[u8]) {
        let mut pool = self.spares.pop().unwrap_or_default();
        conn.prepare_receive_buffer(&mut pool)
            .extend_from_slice(data);
        // The connection had a buffer of its own: the spare stays.
        if pool.spare_capacity() > 0 {
            self.spares.push(pool);
        }
    }

    /// Takes back the connection's read buffer if it is empty (a partial
    /// frame keeps its buffer), so an idle connection holds none.
    pub(crate) fn release(&mut self, conn: &mut Connection) {
        let mut pool = ReadBufferPool::new();
        conn.release_receive_buffer(&mut pool);
        if pool.spare_capacity() > 0 && self.spares.len() < MAX_SPARES {
            self.spares.push(pool);
        }
    }

    /// Spare buffers held.
    #[cfg(test)]
    pub(crate) fn spares(&self) -> usize {
        self.spares.len()
    }
}

#[cfg(test)]
mod tests {
    use ws_proto::{Config, Event, Message, Role};

    use super::*;

    fn frame(text: &str) -> Vec<u8> {
        let mut client = Connection::new(Role::Client, Config::default());
        client.send(Message::text(text)).unwrap();
        client.transmit_slices().flatten().copied().collect()
    }

    #[test]
    fn buffers_go_round_between_connections() {
        let mut buffers = ReadBuffers::default();
        let mut conns: Vec<Connection> = (0..3)
            .map(|_| Connection::new(Role::Server, Config::default()))
            .collect();
        for round in 0..3 {
            // A batch: every connection receives and decodes, payloads out.
            let mut payloads = Vec::new();
            for conn in &mut conns {
                buffers.receive(conn, &frame("hello"));
                match conn.poll_event() {
                    Ok(Some(Event::Text(text))) => payloads.push(text),
                    other => panic!("{other:?}"),
                }
            }
            // The application is done with them; the next turn releases.
            drop(payloads);
            for conn in &mut conns {
                buffers.release(conn);
            }
            assert_eq!(buffers.spares(), 3, "round {round}");
        }
    }

    #[test]
    fn a_partial_frame_keeps_its_buffer() {
        let mut buffers = ReadBuffers::default();
        let mut conn = Connection::new(Role::Server, Config::default());
        let bytes = frame("hello");
        buffers.receive(&mut conn, &bytes[..3]);
        assert_eq!(conn.poll_event(), Ok(None));
        buffers.release(&mut conn);
        assert_eq!(buffers.spares(), 0);
        buffers.receive(&mut conn, &bytes[3..]);
        assert!(matches!(conn.poll_event(), Ok(Some(Event::Text(_)))));
    }
}
