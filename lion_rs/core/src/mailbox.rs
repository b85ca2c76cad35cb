//! The bounded mailbox as a pure, synchronous state machine, and the ask
//! guard `would_deadlock`: a port of `lion/kernel/_mailbox.py` and
//! `lion.kernel._actor_pure.would_deadlock` with the same decisions and messages.
//!
//! INVARIANT: accepted == taken + drained + size.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;

use crate::error::{CoreError, Result};

/// The outcome of [`Mailbox::offer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    Accepted,
    Full,
    Closed,
}

impl Offer {
    /// The value of the Python `Offer` enum member.
    pub fn as_str(self) -> &'static str {
        match self {
            Offer::Accepted => "accepted",
            Offer::Full => "full",
            Offer::Closed => "closed",
        }
    }
}

/// Where a mailbox is in its life: accepting, closed but deliverable, or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Running,
    Stopping,
    Stopped,
}

impl Phase {
    /// The value of the Python `MailboxPhase` enum member.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Running => "running",
            Phase::Stopping => "stopping",
            Phase::Stopped => "stopped",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bounded FIFO of `(sender, message)` entries that can be closed.
///
/// One queue for all senders gives per-sender FIFO for free.
#[derive(Debug, Clone)]
pub struct Mailbox<M> {
    capacity: u128,
    closed: bool,
    stopped: bool,
    entries: VecDeque<(String, M)>,
    accepted: u64,
    taken: u64,
    drained: u64,
}

fn actor_error<T>(message: impl Into<String>) -> Result<T> {
    Err(CoreError::Actor(message.into()))
}

impl<M> Mailbox<M> {
    /// A running, empty mailbox holding at most `capacity` entries (at least 1).
    pub fn new(capacity: i128) -> Result<Self> {
        if capacity < 1 {
            return actor_error(format!(
                "mailbox capacity must be an integer of at least 1, got `{capacity}`"
            ));
        }
        Ok(Self {
            capacity: capacity.unsigned_abs(),
            closed: false,
            stopped: false,
            entries: VecDeque::new(),
            accepted: 0,
            taken: 0,
            drained: 0,
        })
    }

    /// Enqueue `message` from `sender` if open and not full; otherwise change nothing.
    pub fn offer(&mut self, sender: String, message: M) -> Offer {
        if self.closed {
            return Offer::Closed;
        }
        if self.full() {
            return Offer::Full;
        }
        self.entries.push_back((sender, message));
        self.accepted += 1;
        Offer::Accepted
    }

    /// Remove and return the oldest entry; an empty mailbox is an error and changes nothing.
    pub fn take(&mut self) -> Result<(String, M)> {
        match self.entries.pop_front() {
            Some(entry) => {
                self.taken += 1;
                Ok(entry)
            }
            None => actor_error("cannot take from an empty mailbox; expected at least one message"),
        }
    }

    /// Refuse every later offer (idempotent); pending entries stay.
    pub fn close(&mut self) {
        self.closed = true;
    }

    /// Remove and return every pending entry, oldest first; a closed mailbox is then stopped.
    pub fn drain(&mut self) -> Vec<(String, M)> {
        let entries: Vec<(String, M)> = self.entries.drain(..).collect();
        self.drained += entries.len() as u64;
        if self.closed {
            self.stopped = true;
        }
        entries
    }

    /// Mark a closed, empty mailbox stopped (idempotent).
    pub fn finish(&mut self) -> Result<()> {
        if !self.closed || !self.entries.is_empty() {
            let state = if self.closed { "not empty" } else { "open" };
            return actor_error(format!(
                "cannot finish a mailbox that is {state}; expected a closed, empty mailbox"
            ));
        }
        self.stopped = true;
        Ok(())
    }

    pub fn capacity(&self) -> u128 {
        self.capacity
    }

    pub fn closed(&self) -> bool {
        self.closed
    }

    pub fn phase(&self) -> Phase {
        if self.stopped {
            Phase::Stopped
        } else if self.closed {
            Phase::Stopping
        } else {
            Phase::Running
        }
    }

    /// How many entries are pending.
    pub fn size(&self) -> usize {
        self.entries.len()
    }

    pub fn empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn full(&self) -> bool {
        self.entries.len() as u128 >= self.capacity
    }

    /// How many offers were ever accepted.
    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    /// How many entries were ever taken.
    pub fn taken(&self) -> u64 {
        self.taken
    }

    /// How many entries were ever removed by [`Mailbox::drain`].
    pub fn drained(&self) -> u64 {
        self.drained
    }

    /// The pending entries, oldest first.
    pub fn pending(&self) -> impl Iterator<Item = &(String, M)> {
        self.entries.iter()
    }
}

/// Would adding the wait `waiter -> target` close a cycle in the wait-for graph?
///
/// `waiting_on` maps each actor to every actor its handler waits on (several
/// asks can be outstanding at once; repeats are allowed and change nothing
/// here). The new edge closes a cycle exactly when `target` already reaches
/// `waiter` over the existing edges, or is `waiter`; cycles not through
/// `waiter` do not count.
pub fn would_deadlock<S: AsRef<str>>(
    waiting_on: &HashMap<String, Vec<S>>,
    waiter: &str,
    target: &str,
) -> bool {
    let mut seen: HashSet<&str> = HashSet::from([target]);
    let mut stack = vec![target];
    while let Some(current) = stack.pop() {
        if current == waiter {
            return true;
        }
        for next in waiting_on.get(current).into_iter().flatten() {
            let next = next.as_ref();
            if seen.insert(next) {
                stack.push(next);
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_counters_and_phases() -> Result<()> {
        let mut mb = Mailbox::new(2)?;
        assert_eq!(mb.offer("a".into(), 1), Offer::Accepted);
        assert_eq!(mb.offer("b".into(), 2), Offer::Accepted);
        assert_eq!(mb.offer("a".into(), 3), Offer::Full);
        assert_eq!(mb.take()?, ("a".to_string(), 1));
        mb.close();
        assert_eq!(mb.offer("a".into(), 4), Offer::Closed);
        assert_eq!(mb.phase(), Phase::Stopping);
        assert_eq!(mb.drain(), vec![("b".to_string(), 2)]);
        assert_eq!(mb.phase(), Phase::Stopped);
        assert_eq!((mb.accepted(), mb.taken(), mb.drained()), (2, 1, 1));
        Ok(())
    }

    #[test]
    fn refusals_keep_state() -> Result<()> {
        let mut mb: Mailbox<u8> = Mailbox::new(1)?;
        assert!(matches!(mb.take(), Err(CoreError::Actor(_))));
        assert!(matches!(mb.finish(), Err(CoreError::Actor(m)) if m.contains("is open")));
        assert!(matches!(Mailbox::<u8>::new(0), Err(CoreError::Actor(_))));
        assert_eq!((mb.size(), mb.taken()), (0, 0));
        Ok(())
    }

    fn waits(edges: &[(&str, &[&str])]) -> HashMap<String, Vec<String>> {
        edges
            .iter()
            .map(|(k, vs)| (k.to_string(), vs.iter().map(|v| v.to_string()).collect()))
            .collect()
    }

    #[test]
    fn deadlock_only_when_the_wait_closes_a_cycle() {
        let w = waits(&[("b", &["c"]), ("c", &["a"]), ("x", &["y"]), ("y", &["x"])]);
        assert!(would_deadlock(&w, "a", "b"));
        assert!(would_deadlock(&w, "a", "a"));
        assert!(!would_deadlock(&w, "a", "d"));
        assert!(!would_deadlock(&w, "a", "x"));
    }

    #[test]
    fn every_outstanding_wait_is_an_edge() {
        // a asks b and c at once; c asking a closes a -> c -> a, whichever came first
        let w = waits(&[("a", &["b", "c"])]);
        assert!(would_deadlock(&w, "c", "a"));
        assert!(would_deadlock(&w, "b", "a"));
        assert!(!would_deadlock(&w, "d", "a"));
        // a branch that dead-ends does not hide one that comes back
        let w = waits(&[("b", &["d", "e", "e"]), ("e", &["a"])]);
        assert!(would_deadlock(&w, "a", "b"));
        assert!(!would_deadlock(&w, "a", "d"));
    }
}
