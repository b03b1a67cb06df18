//! The timer: sleeping until the core's deadline.

use std::future::Future;
use std::task::Context;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use super::State;

impl<S: AsyncRead + AsyncWrite + Unpin> State<S> {
    /// The core's timers (close, linger, keepalive pings, idle timeout):
    /// sleeps until their deadline; `true` once `handle_timeout` was called
    /// because it passed.
    pub(super) fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.conn.poll_timeout(Instant::now().into_std()) else {
            self.timer = None;
            return false;
        };
        let deadline = Instant::from_std(deadline);
        let sleep = match &mut self.timer {
            Some(sleep) => {
                if sleep.deadline() != deadline {
                    sleep.as_mut().reset(deadline);
                }
                sleep
            }
            slot @ None => slot.insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        if sleep.as_mut().poll(cx).is_pending() {
            return false;
        }
        self.timer = None;
        self.conn
            .handle_timeout(Instant::now().max(deadline).into_std());
        true
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;
    use ws_proto::{CloseCode, Config, Connection, Role};

    #[tokio::test]
    async fn the_close_timer_fires_while_the_peer_keeps_sending() {
        use std::time::Duration;
        use tokio::io::AsyncReadExt;
        let (ours, theirs) = tokio::io::duplex(1 << 16);
        let config = Config::default().close_timeout(Duration::from_millis(100));
        let mut ws = crate::WebSocketStream::from_raw(ours, Role::Server, config);
        // A peer that never answers the close frame and never stops sending.
        let flood = tokio::spawn(async move {
            let (mut from_us, mut to_us) = tokio::io::split(theirs);
            tokio::spawn(async move {
                let mut sink = [0; 4096];
                while from_us.read(&mut sink).await.is_ok_and(|n| n > 0) {}
            });
            let mut client = Connection::new(Role::Client, Config::default());
            loop {
                client.send_text("more").unwrap();
                while let Some(bytes) = client.poll_transmit() {
                    if to_us.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                tokio::task::yield_now().await;
            }
        });
        let closing = ws.close(CloseCode::NORMAL, "");
        let closed = tokio::time::timeout(Duration::from_secs(5), closing).await;
        flood.abort();
        assert!(closed.is_ok(), "the close timer did not end the close");
    }
}
