//! Broadcast groups: one message to many connections, framed once and
//! written with one write per connection per round.
//!
//! A [`Group`] holds the sending side of its members (any number of
//! [`WebSocketStream`]s or [`WriteHalf`]s; a connection may be in several
//! groups). [`Group::publish`] only records the [`PreparedMessage`]: the
//! group's flush, a task spawned on the first publish, runs once the
//! publishing tasks have yielded and, for each member in turn, hands every
//! message published since the last flush to the member's core (which
//! queues the shared frame: no copy from 512 bytes on, no re-encoding, one
//! compression per distinct permessage-deflate setting for members without
//! context takeover) and writes them in one vectored write. So N members
//! each publishing one message cost N writes in all, not N², and each
//! member's state is locked once per round, not once per message. No task
//! and no allocation are made per delivery.
//!
//! Messages reach the members in the order they were published. A
//! member's own sends (`send` on its stream) are not ordered against
//! messages published but not yet flushed; call [`Group::flush`] first
//! where that matters. A member receives the messages published after it
//! joined.
//!
//! # Slow members
//!
//! A member that does not read would make the server hold every message
//! for it. Each member's queue is bounded by the group's [`QueueLimit`]
//! (default 1 MiB); past it the core's policy applies: [`WhenFull::Drop`]
//! skips the message for that member and counts it, [`WhenFull::Close`]
//! closes the member with the code you choose (1008 or 1013). The counts
//! are in [`Group::counts`] and [`Membership::counts`].
//!
//! # Shutdown
//!
//! [`Group::shutdown`] sends every member 1001 "going away" and waits, up
//! to a timeout, for the close handshakes (each member's own reader runs
//! it, as for any close). Members that never answer are left to their
//! close timeout.
//!
//! # Example
//!
//! ```
//! use ws_tokio::broadcast::Group;
//! use ws_tokio::{Config, Message, PreparedMessage, Role, WebSocketStream};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let group = Group::new();
//! let mut clients = Vec::new();
//! let mut memberships = Vec::new();
//! for _ in 0..3 {
//!     let (server_end, client_end) = tokio::io::duplex(4096);
//!     let server = WebSocketStream::from_raw(server_end, Role::Server, Config::default());
//!     memberships.push((group.join(&server), server));
//!     clients.push(WebSocketStream::from_raw(client_end, Role::Client, Config::default()));
//! }
//! group.publish(&PreparedMessage::text("to everyone"));
//! group.flush(); // or let the flush task run at the next yield
//! assert_eq!(group.counts().queued, 3);
//! for client in &mut clients {
//!     assert_eq!(client.recv().await.unwrap().unwrap(), Message::text("to everyone"));
//! }
//! # }
//! ```

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use ws_proto::{DeliveryCounts, PreparedMessage, QueueLimit, SendOptions};

use crate::driver::Shared;
use crate::{Message, Transport, WebSocketStream, WriteHalf};

#[cfg(doc)]
use ws_proto::WhenFull;

/// Identifies a member of a [`Group`] (for [`Group::publish_except`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use ws_tokio::{broadcast::Group, Config, Role, WebSocketStream};
/// let group = Group::new();
/// let (a, _b) = tokio::io::duplex(64);
/// let ws = WebSocketStream::from_raw(a, Role::Server, Config::default());
/// let membership = group.join(&ws);
/// let id: ws_tokio::broadcast::MemberId = membership.id();
/// # let _ = id;
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemberId {
    slot: u32,
    /// The join's sequence number: members that joined after a message was
    /// published have a higher one, and do not receive it.
    generation: u64,
}

/// A set of connections that receive the same messages. Cheap to clone
/// (a reference count); every clone is the same group.
///
/// ```
/// use ws_tokio::broadcast::Group;
/// use ws_tokio::ws_proto::{CloseCode, QueueLimit, WhenFull};
/// let room: Group<tokio::net::TcpStream> =
///     Group::with_limit(QueueLimit::new(256 * 1024, WhenFull::Close(CloseCode::TRY_AGAIN_LATER)));
/// assert!(room.is_empty());
/// ```
pub struct Group<S> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for Group<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<S> {
    members: Mutex<Members<S>>,
    /// Held through a flush, so flushes (the task's, and one made at once
    /// by a publish) deliver batches in the order they were published.
    flushing: Mutex<FlushScratch<S>>,
    limit: QueueLimit,
    /// Wakes the flush task, which holds only this and a weak reference.
    wake_flush: Arc<Notify>,
    /// Wakes a shutdown waiting for members to leave.
    left: Notify,
}

struct Members<S> {
    slots: Vec<Option<Slot<S>>>,
    free: Vec<u32>,
    next_generation: u64,
    len: usize,
    /// Messages published since the last flush, oldest first.
    pending: Vec<Pending>,
    /// Their payload bytes.
    pending_bytes: usize,
    counts: DeliveryCounts,
    flusher: Flusher,
    shutting_down: bool,
}

struct Slot<S> {
    /// Weak: a group does not keep a connection alive, and the stream's
    /// `into_inner` finds itself the only owner.
    shared: Weak<Shared<S>>,
    generation: u64,
    counts: DeliveryCounts,
}

/// A published message waiting for the flush.
struct Pending {
    message: PreparedMessage,
    except: Option<MemberId>,
    /// Members that joined at or after this generation do not receive it.
    joined_before: u64,
}

impl Pending {
    fn is_for(&self, member: MemberId) -> bool {
        member.generation < self.joined_before && self.except != Some(member)
    }
}

/// Published messages are flushed at once, rather than by the flush task,
/// past this many (a task publishing in a loop without yielding).
const MAX_PENDING_MESSAGES: usize = 4096;

enum Flusher {
    NotStarted,
    /// The flush task; started again if its runtime has gone.
    Task(tokio::task::JoinHandle<()>),
    /// Published from outside a tokio runtime: each publish flushes at once.
    Inline,
}

/// What one flush works through, kept between flushes so a flush
/// allocates nothing once the group has reached its size.
struct FlushScratch<S> {
    messages: Vec<Pending>,
    members: Vec<(MemberId, Option<Arc<Shared<S>>>)>,
    outcomes: Vec<(MemberId, DeliveryCounts, bool)>,
}

impl<S> Default for FlushScratch<S> {
    fn default() -> Self {
        Self {
            messages: Vec::new(),
            members: Vec::new(),
            outcomes: Vec::new(),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every change to the members is completed before the lock is let go.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What [`Group::shutdown`] found when it stopped waiting.
///
/// ```
/// let report = ws_tokio::broadcast::ShutdownReport::default();
/// assert_eq!(report.members, report.closed + report.still_open);
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Members at the start of the shutdown.
    pub members: usize,
    /// Members whose connection ended within the timeout (the close
    /// handshake finished, or the transport closed).
    pub closed: usize,
    /// Members still open at the timeout: they were sent 1001 and are left
    /// to their close timeout.
    pub still_open: usize,
}

impl<S> Default for Group<S> {
    fn default() -> Self {
        Self::with_limit(QueueLimit::default())
    }
}

impl<S> Group<S> {
    /// An empty group with the default [`QueueLimit`] (1 MiB per member,
    /// then drop).
    ///
    /// ```
    /// let group: ws_tokio::broadcast::Group<tokio::net::TcpStream> = ws_tokio::broadcast::Group::new();
    /// assert_eq!(group.len(), 0);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty group whose members' queues are bounded by `limit`.
    ///
    /// ```
    /// use ws_tokio::ws_proto::{QueueLimit, WhenFull};
    /// let group: ws_tokio::broadcast::Group<tokio::net::TcpStream> =
    ///     ws_tokio::broadcast::Group::with_limit(QueueLimit::new(64 * 1024, WhenFull::Drop));
    /// assert_eq!(group.limit().max_buffered(), 64 * 1024);
    /// ```
    pub fn with_limit(limit: QueueLimit) -> Self {
        Self {
            inner: Arc::new(Inner {
                members: Mutex::new(Members {
                    slots: Vec::new(),
                    free: Vec::new(),
                    next_generation: 0,
                    len: 0,
                    pending: Vec::new(),
                    pending_bytes: 0,
                    counts: DeliveryCounts::default(),
                    flusher: Flusher::NotStarted,
                    shutting_down: false,
                }),
                flushing: Mutex::new(FlushScratch::default()),
                limit,
                wake_flush: Arc::new(Notify::new()),
                left: Notify::new(),
            }),
        }
    }

    /// The per-member queue limit and its policy.
    ///
    /// ```
    /// let group: ws_tokio::broadcast::Group<tokio::net::TcpStream> = ws_tokio::broadcast::Group::new();
    /// assert_eq!(group.limit(), ws_tokio::ws_proto::QueueLimit::default());
    /// ```
    pub fn limit(&self) -> QueueLimit {
        self.inner.limit
    }

    /// How many members the group has.
    ///
    /// ```
    /// let group: ws_tokio::broadcast::Group<tokio::net::TcpStream> = ws_tokio::broadcast::Group::new();
    /// assert_eq!(group.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        lock(&self.inner.members).len
    }

    /// Whether the group has no members.
    ///
    /// ```
    /// let group: ws_tokio::broadcast::Group<tokio::net::TcpStream> = ws_tokio::broadcast::Group::new();
    /// assert!(group.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The group's delivery totals since it was made: messages queued,
    /// dropped for a full queue, members closed for a full queue, and
    /// deliveries that found a member no longer open. A flush adds its
    /// counts once it has written to every member, so a member can read a
    /// message before it is counted; [`flush`](Self::flush) first to count
    /// everything published so far.
    ///
    /// ```
    /// let group: ws_tokio::broadcast::Group<tokio::net::TcpStream> = ws_tokio::broadcast::Group::new();
    /// assert_eq!(group.counts().dropped, 0);
    /// ```
    pub fn counts(&self) -> DeliveryCounts {
        lock(&self.inner.members).counts
    }

    /// Adds a connection; it receives every message published from now on,
    /// until the returned [`Membership`] is dropped or the connection ends.
    /// Keep reading the connection (its own task's `recv` loop): the reader
    /// answers pings and runs the close handshake. During a
    /// [`shutdown`](Self::shutdown), a joining connection is sent 1001 at once.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use ws_tokio::{broadcast::Group, Config, Role, WebSocketStream};
    /// let group = Group::new();
    /// let (a, _b) = tokio::io::duplex(64);
    /// let ws = WebSocketStream::from_raw(a, Role::Server, Config::default());
    /// let membership = group.join(&ws);
    /// assert_eq!(group.len(), 1);
    /// drop(membership);
    /// assert_eq!(group.len(), 0);
    /// # }
    /// ```
    pub fn join(&self, stream: &WebSocketStream<S>) -> Membership<S> {
        self.join_shared(stream.shared())
    }

    /// [`join`](Self::join) for the sending half of a split stream.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use ws_tokio::{broadcast::Group, Config, Role, WebSocketStream};
    /// let group = Group::new();
    /// let (a, _b) = tokio::io::duplex(64);
    /// let (_reader, writer) = WebSocketStream::from_raw(a, Role::Server, Config::default()).split();
    /// let _membership = group.join_writer(&writer);
    /// assert_eq!(group.len(), 1);
    /// # }
    /// ```
    pub fn join_writer(&self, writer: &WriteHalf<S>) -> Membership<S> {
        self.join_shared(writer.shared())
    }

    fn join_shared(&self, shared: &Arc<Shared<S>>) -> Membership<S> {
        let mut members = lock(&self.inner.members);
        if members.shutting_down {
            shared.go_away();
        }
        let generation = members.next_generation;
        members.next_generation = generation + 1;
        let entry = Slot {
            shared: Arc::downgrade(shared),
            generation,
            counts: DeliveryCounts::default(),
        };
        let slot = match members.free.pop() {
            Some(slot) => {
                members.slots[slot as usize] = Some(entry);
                slot
            }
            None => {
                members.slots.push(Some(entry));
                // More than u32::MAX members cannot be connected at once.
                (members.slots.len() - 1) as u32
            }
        };
        members.len += 1;
        Membership {
            group: self.clone(),
            id: MemberId { slot, generation },
        }
    }

    /// Removes a member, if it is still there.
    fn leave(&self, id: MemberId) -> Option<DeliveryCounts> {
        let slot = lock(&self.inner.members).take(id)?;
        self.inner.left.notify_waiters();
        Some(slot.counts)
    }

    /// This member's delivery counts, while it is in the group.
    fn member_counts(&self, id: MemberId) -> Option<DeliveryCounts> {
        let members = lock(&self.inner.members);
        members.get(id).map(|slot| slot.counts)
    }
}

impl<S> Members<S> {
    fn get(&self, id: MemberId) -> Option<&Slot<S>> {
        self.slots
            .get(id.slot as usize)?
            .as_ref()
            .filter(|slot| slot.generation == id.generation)
    }

    fn get_mut(&mut self, id: MemberId) -> Option<&mut Slot<S>> {
        self.slots
            .get_mut(id.slot as usize)?
            .as_mut()
            .filter(|slot| slot.generation == id.generation)
    }

    fn take(&mut self, id: MemberId) -> Option<Slot<S>> {
        self.get(id)?;
        let slot = self.slots[id.slot as usize].take()?;
        self.free.push(id.slot);
        self.len -= 1;
        Some(slot)
    }
}

impl<S: Transport + Send + 'static> Group<S> {
    /// Sends `message` to every member (as of now), at the group's next
    /// flush. The outcomes (queued, dropped for a full queue, closed for a
    /// full queue, member already gone) are added to [`counts`](Self::counts)
    /// and each member's [`Membership::counts`] by the flush; members found
    /// closed then leave the group.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use ws_tokio::{broadcast::Group, PreparedMessage};
    /// let group: Group<tokio::net::TcpStream> = Group::new();
    /// group.publish(&PreparedMessage::binary(vec![1, 2, 3]));
    /// group.flush();
    /// assert_eq!(group.counts().queued, 0); // no members yet
    /// # }
    /// ```
    pub fn publish(&self, message: &PreparedMessage) {
        self.publish_inner(message, None);
    }

    /// [`publish`](Self::publish) for a plain text or binary [`Message`],
    /// prepared here. Any other message (a ping, a close, a fragment) is
    /// given back: those belong to one connection.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use ws_tokio::{broadcast::Group, Message};
    /// let group: Group<tokio::net::TcpStream> = Group::new();
    /// assert!(group.publish_message(Message::text("hello, room")).is_ok());
    /// assert!(group.publish_message(Message::Ping(Default::default())).is_err());
    /// # }
    /// ```
    pub fn publish_message(&self, message: Message) -> Result<(), Message> {
        let prepared = PreparedMessage::new(message, SendOptions::default())?;
        self.publish_inner(&prepared, None);
        Ok(())
    }

    /// Sends `message` to every member but `sender`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use ws_tokio::{broadcast::Group, Config, PreparedMessage, Role, WebSocketStream};
    /// let group = Group::new();
    /// let (a, _b) = tokio::io::duplex(64);
    /// let ws = WebSocketStream::from_raw(a, Role::Server, Config::default());
    /// let me = group.join(&ws);
    /// group.publish_except(&PreparedMessage::text("not to me"), me.id());
    /// group.flush();
    /// assert_eq!(group.counts().queued, 0);
    /// # }
    /// ```
    pub fn publish_except(&self, message: &PreparedMessage, sender: MemberId) {
        self.publish_inner(message, Some(sender));
    }

    fn publish_inner(&self, message: &PreparedMessage, except: Option<MemberId>) {
        let mut members = lock(&self.inner.members);
        if members.len == 0 {
            return;
        }
        let joined_before = members.next_generation;
        members.pending.push(Pending {
            message: message.clone(),
            except,
            joined_before,
        });
        members.pending_bytes += message.len();
        let too_much = members.pending.len() >= MAX_PENDING_MESSAGES
            || members.pending_bytes > self.inner.limit.max_buffered();
        if too_much {
            drop(members);
            self.flush();
            return;
        }
        let running = match &members.flusher {
            Flusher::NotStarted => false,
            Flusher::Task(task) => !task.is_finished(),
            Flusher::Inline => true,
        };
        if !running {
            members.flusher = match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    let wake = Arc::clone(&self.inner.wake_flush);
                    let group = Arc::downgrade(&self.inner);
                    Flusher::Task(runtime.spawn(flush_task(group, wake)))
                }
                Err(_) => Flusher::Inline,
            };
        }
        if let Flusher::Inline = members.flusher {
            drop(members);
            self.flush();
        } else {
            self.inner.wake_flush.notify_one();
        }
    }

    /// Delivers and writes what was published since the last flush now,
    /// instead of when the flush task next runs (after waiting for a flush
    /// in progress, whose counts are then in [`counts`](Self::counts)).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group: ws_tokio::broadcast::Group<tokio::net::TcpStream> = ws_tokio::broadcast::Group::new();
    /// group.flush();
    /// # }
    /// ```
    pub fn flush(&self) {
        self.inner.flush();
    }

    /// Sends every member 1001 "going away" and waits, at most `timeout`,
    /// for their connections to end (each member's reader runs its close
    /// handshake). Members that join during the wait are sent 1001 too.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// let group: ws_tokio::broadcast::Group<tokio::net::TcpStream> = ws_tokio::broadcast::Group::new();
    /// let report = group.shutdown(Duration::from_secs(1)).await;
    /// assert_eq!(report.members, 0);
    /// # }
    /// ```
    pub async fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        let deadline = tokio::time::Instant::now() + timeout;
        let members: Vec<Weak<Shared<S>>> = {
            let mut members = lock(&self.inner.members);
            members.shutting_down = true;
            members
                .slots
                .iter()
                .flatten()
                .map(|slot| Weak::clone(&slot.shared))
                .collect()
        };
        // What was published before the shutdown goes first.
        self.flush();
        for member in members.iter().filter_map(Weak::upgrade) {
            member.go_away();
        }
        loop {
            let left = self.inner.left.notified();
            // A member whose stream was dropped has ended too.
            let ended = members
                .iter()
                .filter(|m| m.upgrade().is_none_or(|m| m.has_ended()))
                .count();
            if ended == members.len() || tokio::time::Instant::now() >= deadline {
                return ShutdownReport {
                    members: members.len(),
                    closed: ended,
                    still_open: members.len() - ended,
                };
            }
            // Woken when a member leaves; otherwise look again shortly
            // (a member's end is not announced to the group).
            let tick = (tokio::time::Instant::now() + Duration::from_millis(10)).min(deadline);
            tokio::select! {
                () = left => {}
                () = tokio::time::sleep_until(tick) => {}
            }
        }
    }
}

impl<S: Transport> Inner<S> {
    /// Hands every member the messages published since the last flush that
    /// are for it, and writes them: one lock of the member's state and one
    /// write per member. The group's lock is held only to take the messages
    /// and the member list, and to record the outcomes.
    fn flush(&self) {
        let mut scratch = lock(&self.flushing);
        let scratch = &mut *scratch;
        {
            let mut members = lock(&self.members);
            if members.pending.is_empty() {
                return;
            }
            std::mem::swap(&mut members.pending, &mut scratch.messages);
            members.pending_bytes = 0;
            let Members { slots, .. } = &*members;
            for (index, slot) in slots.iter().enumerate() {
                if let Some(slot) = slot {
                    let id = MemberId {
                        slot: index as u32,
                        generation: slot.generation,
                    };
                    // A member whose stream was dropped leaves below.
                    scratch.members.push((id, slot.shared.upgrade()));
                }
            }
        }
        for (id, shared) in scratch.members.drain(..) {
            let messages = scratch
                .messages
                .iter()
                .filter(|pending| pending.is_for(id))
                .map(|pending| &pending.message);
            let (counts, open) = match shared {
                Some(shared) => shared.deliver_and_write(messages, self.limit),
                None => (DeliveryCounts::default(), false),
            };
            scratch.outcomes.push((id, counts, open));
        }
        scratch.messages.clear();
        let mut members = lock(&self.members);
        let mut left = false;
        for (id, counts, open) in scratch.outcomes.drain(..) {
            members.counts.add(&counts);
            if let Some(slot) = members.get_mut(id) {
                slot.counts.add(&counts);
            }
            if !open {
                left |= members.take(id).is_some();
            }
        }
        drop(members);
        if left {
            self.left.notify_waiters();
        }
    }
}

impl<S> Drop for Inner<S> {
    fn drop(&mut self) {
        // The flush task finds the group gone and ends.
        self.wake_flush.notify_one();
    }
}

/// The group's flush: one task per group, woken by publishes.
async fn flush_task<S: Transport>(group: Weak<Inner<S>>, wake: Arc<Notify>) {
    loop {
        wake.notified().await;
        let Some(inner) = group.upgrade() else { return };
        inner.flush();
    }
}

/// A connection's place in a [`Group`]; it leaves the group when dropped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use ws_tokio::{broadcast::Group, Config, Role, WebSocketStream};
/// let group = Group::new();
/// let (a, _b) = tokio::io::duplex(64);
/// let ws = WebSocketStream::from_raw(a, Role::Server, Config::default());
/// let membership = group.join(&ws);
/// assert_eq!(membership.counts().unwrap().queued, 0);
/// membership.leave();
/// assert!(group.is_empty());
/// # }
/// ```
pub struct Membership<S> {
    group: Group<S>,
    id: MemberId,
}

impl<S> Membership<S> {
    /// This member's id, for [`Group::publish_except`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use ws_tokio::{broadcast::Group, Config, Role, WebSocketStream};
    /// # let group = Group::new();
    /// # let (a, _b) = tokio::io::duplex(64);
    /// # let ws = WebSocketStream::from_raw(a, Role::Server, Config::default());
    /// let membership = group.join(&ws);
    /// let _id = membership.id();
    /// # }
    /// ```
    pub fn id(&self) -> MemberId {
        self.id
    }

    /// The group this membership is in.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use ws_tokio::{broadcast::Group, Config, Role, WebSocketStream};
    /// # let group = Group::new();
    /// # let (a, _b) = tokio::io::duplex(64);
    /// # let ws = WebSocketStream::from_raw(a, Role::Server, Config::default());
    /// let membership = group.join(&ws);
    /// assert_eq!(membership.group().len(), 1);
    /// # }
    /// ```
    pub fn group(&self) -> &Group<S> {
        &self.group
    }

    /// This member's delivery counts (messages queued for it, dropped
    /// for its full queue, ...); `None` once it has left the group (the
    /// connection ended, or was closed for a full queue).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use ws_tokio::{broadcast::Group, Config, Role, WebSocketStream};
    /// # let group = Group::new();
    /// # let (a, _b) = tokio::io::duplex(64);
    /// # let ws = WebSocketStream::from_raw(a, Role::Server, Config::default());
    /// let membership = group.join(&ws);
    /// assert_eq!(membership.counts().map(|c| c.dropped), Some(0));
    /// # }
    /// ```
    pub fn counts(&self) -> Option<DeliveryCounts> {
        self.group.member_counts(self.id)
    }

    /// Leaves the group now, returning this member's final counts (`None`
    /// if it had already left).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use ws_tokio::{broadcast::Group, Config, Role, WebSocketStream};
    /// # let group = Group::new();
    /// # let (a, _b) = tokio::io::duplex(64);
    /// # let ws = WebSocketStream::from_raw(a, Role::Server, Config::default());
    /// let membership = group.join(&ws);
    /// assert!(membership.leave().is_some());
    /// # }
    /// ```
    pub fn leave(self) -> Option<DeliveryCounts> {
        // Dropping `self` afterwards finds the member gone and does nothing.
        self.group.leave(self.id)
    }
}

impl<S> Drop for Membership<S> {
    fn drop(&mut self) {
        self.group.leave(self.id);
    }
}

impl<S> std::fmt::Debug for Group<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let members = lock(&self.inner.members);
        f.debug_struct("Group")
            .field("members", &members.len)
            .field("limit", &self.inner.limit)
            .field("counts", &members.counts)
            .finish()
    }
}

impl<S> std::fmt::Debug for Membership<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership").field("id", &self.id).finish()
    }
}
