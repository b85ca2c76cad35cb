//! Properties of the mailbox: per-sender FIFO, no lost messages, refusals change nothing.

use lion_core::mailbox::{Mailbox, Offer, Phase};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Offer(u8),
    Take,
    Close,
    Drain,
    Finish,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(
        prop_oneof![
            4 => (0u8..3).prop_map(Op::Offer),
            3 => Just(Op::Take),
            1 => Just(Op::Close),
            1 => Just(Op::Drain),
            1 => Just(Op::Finish),
        ],
        0..60,
    )
}

proptest! {
    #[test]
    fn per_sender_fifo_and_counters(capacity in 1i128..5, ops in ops()) {
        let mut mb: Mailbox<u32> = Mailbox::new(capacity).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut sent: Vec<Vec<u32>> = vec![Vec::new(); 3];
        let mut received: Vec<Vec<u32>> = vec![Vec::new(); 3];
        for (n, op) in ops.into_iter().enumerate() {
            let before = (mb.size(), mb.accepted(), mb.taken(), mb.drained(), mb.phase());
            match op {
                Op::Offer(s) => match mb.offer(s.to_string(), n as u32) {
                    Offer::Accepted => sent[usize::from(s)].push(n as u32),
                    refused => {
                        prop_assert_eq!(refused == Offer::Closed, mb.closed());
                        prop_assert_eq!(before, (mb.size(), mb.accepted(), mb.taken(), mb.drained(), mb.phase()));
                    }
                },
                Op::Take => match mb.take() {
                    Ok((s, m)) => received[s.parse::<usize>().unwrap_or(0)].push(m),
                    Err(_) => prop_assert_eq!(before, (mb.size(), mb.accepted(), mb.taken(), mb.drained(), mb.phase())),
                },
                Op::Close => mb.close(),
                Op::Drain => {
                    for (s, m) in mb.drain() {
                        received[s.parse::<usize>().unwrap_or(0)].push(m);
                    }
                    prop_assert!(mb.empty());
                }
                Op::Finish => {
                    let ok = mb.finish().is_ok();
                    prop_assert_eq!(ok, before.0 == 0 && mb.closed());
                    if ok {
                        prop_assert_eq!(mb.phase(), Phase::Stopped);
                    }
                }
            }
            // INVARIANT: accepted == taken + drained + size, and never over capacity.
            prop_assert_eq!(mb.accepted(), mb.taken() + mb.drained() + mb.size() as u64);
            prop_assert!(mb.size() as i128 <= capacity);
        }
        for (s, got) in received.iter().enumerate() {
            prop_assert_eq!(&got[..], &sent[s][..got.len()]);
        }
    }
}
