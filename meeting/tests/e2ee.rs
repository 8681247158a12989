//! The end-to-end encryption state machine, with an in-process stand-in for
//! the server: it delivers every control message to each participant in
//! the one order the real server does (joins, leaves and encryption
//! messages of a room are broadcast under one lock), and may hold any
//! participant's queue back to try other timings.

use parallax_meeting::e2ee::{E2ee, E2eeError, Outgoing, OVERHEAD};
use parallax_meeting::protocol::{AVATAR, VOICE};
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, VecDeque};

#[derive(Clone, Debug)]
enum Msg {
    Joined(u32),
    Left(u32),
    Mls { from: u32, data: Vec<u8> },
}

#[derive(Default)]
struct Room {
    members: BTreeMap<u32, E2ee>,
    queues: BTreeMap<u32, VecDeque<Msg>>,
    next_id: u32,
}

impl Room {
    fn route(&mut self, from: u32, out: Vec<Outgoing>) {
        for o in out {
            for (&id, q) in self.queues.iter_mut() {
                if id != from && (o.to.is_empty() || o.to.contains(&id)) {
                    q.push_back(Msg::Mls {
                        from,
                        data: o.data.clone(),
                    });
                }
            }
        }
    }

    fn join(&mut self) -> u32 {
        self.next_id += 1;
        let id = self.next_id;
        let present: Vec<u32> = self.members.keys().copied().collect();
        for q in self.queues.values_mut() {
            q.push_back(Msg::Joined(id));
        }
        self.queues.insert(id, VecDeque::new());
        let (e, out) = E2ee::new(id, &present).expect("a new participant");
        self.members.insert(id, e);
        self.route(id, out);
        id
    }

    /// Removes `id` from the room; returns its state (it holds the keys it
    /// had).
    fn leave(&mut self, id: u32) -> E2ee {
        self.queues.remove(&id);
        for q in self.queues.values_mut() {
            q.push_back(Msg::Left(id));
        }
        self.members.remove(&id).expect("a member")
    }

    /// Delivers one message to `id`; false if none waits.
    fn deliver_one(&mut self, id: u32) -> bool {
        let Some(m) = self.queues.get_mut(&id).and_then(|q| q.pop_front()) else {
            return false;
        };
        let e = self.members.get_mut(&id).expect("a member");
        let out = match m {
            Msg::Joined(p) => e.on_joined(p),
            Msg::Left(p) => e.on_left(p),
            Msg::Mls { from, data } => e.on_mls(from, &data),
        }
        .unwrap_or_else(|err| panic!("participant {id}: {err}"));
        self.route(id, out);
        true
    }

    /// Delivers everything, in participant order.
    fn settle(&mut self) {
        loop {
            let ids: Vec<u32> = self.queues.keys().copied().collect();
            if !ids
                .into_iter()
                .fold(false, |any, id| self.deliver_one(id) | any)
            {
                return;
            }
        }
    }

    fn get(&mut self, id: u32) -> &mut E2ee {
        self.members.get_mut(&id).expect("a member")
    }

    /// Everyone in the room shares one epoch, knows exactly the room as
    /// the group, and opens everyone else's media.
    fn assert_converged(&mut self) {
        let ids: Vec<u32> = self.members.keys().copied().collect();
        let epoch = self.get(ids[0]).epoch();
        let print = self.get(ids[0]).fingerprint();
        assert!(epoch.is_some(), "participant {} is not in a group", ids[0]);
        for &id in &ids {
            let e = self.get(id);
            assert_eq!(e.epoch(), epoch, "participant {id}'s epoch");
            assert_eq!(e.members(), ids, "participant {id}'s group");
            assert_eq!(e.fingerprint(), print, "participant {id}'s fingerprint");
        }
        for &from in &ids {
            let payload = format!("avatar of {from}").into_bytes();
            let sealed = self.get(from).seal(AVATAR, &payload).unwrap();
            for &to in &ids {
                if to != from {
                    assert_eq!(self.get(to).open(AVATAR, from, &sealed).unwrap(), payload);
                }
            }
        }
    }
}

#[test]
fn every_join_and_every_leave_changes_the_keys() {
    let mut room = Room::default();
    let a = room.join();
    assert_eq!(
        room.get(a).epoch(),
        Some(0),
        "the first participant founds the group"
    );
    let b = room.join();
    assert_eq!(room.get(b).epoch(), None, "b waits to be added");
    assert!(matches!(
        room.get(b).seal(AVATAR, b"x"),
        Err(E2eeError::NotSecured)
    ));
    room.settle();
    assert_eq!(room.get(a).epoch(), Some(1));
    let c = room.join();
    room.settle();
    assert_eq!(room.get(c).epoch(), Some(2));
    room.assert_converged();

    // A packet of epoch 2, then c leaves: epoch 3 without c.
    let before = room.get(a).seal(AVATAR, b"epoch 2").unwrap();
    let mut gone = room.leave(c);
    room.settle();
    assert_eq!(room.get(a).epoch(), Some(3));
    assert_eq!(room.get(b).members(), vec![a, b]);
    room.assert_converged();
    let after = room.get(a).seal(AVATAR, b"epoch 3").unwrap();
    assert_eq!(gone.open(AVATAR, a, &before).unwrap(), b"epoch 2");
    assert_eq!(
        gone.open(AVATAR, a, &after),
        Err(E2eeError::UnknownEpoch(3)),
        "a leaver cannot read what follows"
    );

    // d joins: epoch 4, and d cannot read epoch 3.
    let d = room.join();
    room.settle();
    assert_eq!(room.get(d).epoch(), Some(4));
    room.assert_converged();
    assert_eq!(
        room.get(d).open(AVATAR, a, &after),
        Err(E2eeError::UnknownEpoch(3)),
        "a joiner cannot read what came before"
    );
    // Packets sealed just before a key change still open after it.
    assert_eq!(room.get(b).open(AVATAR, a, &after).unwrap(), b"epoch 3");
}

#[test]
fn replayed_altered_truncated_and_misattributed_packets_are_dropped_and_counted() {
    let mut room = Room::default();
    let a = room.join();
    let b = room.join();
    let c = room.join();
    room.settle();
    let p = room.get(a).seal(VOICE, b"hello").unwrap();
    assert_eq!(p.len(), 5 + OVERHEAD);
    assert_eq!(room.get(b).open(VOICE, a, &p).unwrap(), b"hello");
    assert_eq!(room.get(b).open(VOICE, a, &p), Err(E2eeError::Replayed(0)));
    let mut altered = p.clone();
    altered[OVERHEAD - 2] ^= 1;
    assert_eq!(room.get(c).open(VOICE, a, &altered), Err(E2eeError::Forged));
    // The same packet relabelled as another kind does not open either.
    assert_eq!(room.get(c).open(AVATAR, a, &p), Err(E2eeError::Forged));
    assert!(matches!(
        room.get(c).open(VOICE, b, &p),
        Err(E2eeError::WrongSender { .. })
    ));
    assert_eq!(
        room.get(c).open(VOICE, a, &p[..10]),
        Err(E2eeError::Truncated(10))
    );
    // After all that, the real packet still opens once for c.
    assert_eq!(room.get(c).open(VOICE, a, &p).unwrap(), b"hello");
    // Out of order within the window is fine; each counter once.
    let q: Vec<Vec<u8>> = (0..5)
        .map(|k| room.get(a).seal(VOICE, &[k]).unwrap())
        .collect();
    for k in [3usize, 0, 4, 1, 2] {
        assert_eq!(room.get(b).open(VOICE, a, &q[k]).unwrap(), vec![k as u8]);
    }
    let sb = room.get(b).stats();
    assert_eq!((sb.opened, sb.replayed), (6, 1));
    let sc = room.get(c).stats();
    assert_eq!(
        (sc.opened, sc.forged, sc.wrong_sender, sc.truncated),
        (1, 2, 1, 1)
    );
}

#[test]
fn chat_is_signed_by_its_sender_and_closed_to_leavers() {
    let mut room = Room::default();
    let a = room.join();
    let b = room.join();
    let c = room.join();
    room.settle();
    let m = room.get(a).seal_chat(b"the plan is on the wall").unwrap();
    assert_eq!(
        room.get(b).open_chat(a, &m).unwrap(),
        b"the plan is on the wall"
    );
    // Relayed as someone else's, it is refused.
    assert!(room.get(c).open_chat(b, &m).is_err());
    let mut gone = room.leave(c);
    room.settle();
    let m = room.get(a).seal_chat(b"after c left").unwrap();
    assert_eq!(room.get(b).open_chat(a, &m).unwrap(), b"after c left");
    assert!(gone.open_chat(a, &m).is_err(), "a leaver reads no chat");
}

#[test]
fn bad_encryption_messages_are_refused_and_change_nothing() {
    let mut room = Room::default();
    let a = room.join();
    let b = room.join();
    room.settle();
    let epoch = room.get(a).epoch();
    for bad in [
        &b""[..],
        &[9u8, 1, 2][..],
        &[1u8, 0, 1][..],
        &[2u8, 0][..],
        &[1u8, 0, 0, 0, 0][..],
    ] {
        assert!(room.get(a).on_mls(b, bad).is_err(), "{bad:?}");
    }
    // A key package that claims to be another participant's.
    let mut other = Room::default();
    other.join();
    other.next_id = 41;
    other.join(); // id 42, publishes its key package
    let Some(Msg::Mls { data, .. }) = other.queues.get_mut(&1).unwrap().pop_back() else {
        panic!("a key package");
    };
    let err = room.get(a).on_mls(b, &data).unwrap_err();
    assert!(err.to_string().contains("someone else"), "{err}");
    assert_eq!(room.get(a).epoch(), epoch);
    assert_eq!(room.get(a).stats().mls_errors, 6);
    room.assert_converged();
}

#[test]
fn the_group_outlives_its_founder_and_its_committers() {
    let mut room = Room::default();
    let a = room.join();
    let b = room.join();
    let c = room.join();
    // a leaves before anyone was added: b, the longest present, founds a
    // new group and adds c.
    room.leave(a);
    room.settle();
    room.assert_converged();
    assert_eq!(room.get(b).members(), vec![b, c]);
    // b (the committer) leaves at the moment d asks in: c adds d.
    let d = room.join();
    room.leave(b);
    room.settle();
    room.assert_converged();
    assert_eq!(room.get(c).members(), vec![c, d]);
}

#[test]
fn any_timing_of_joins_and_leaves_converges() {
    for seed in 0..12u64 {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut room = Room::default();
        room.join();
        for _ in 0..40 {
            match rng.random_range(0..10) {
                0..=2 if room.members.len() < 8 => {
                    room.join();
                }
                3 if room.members.len() > 1 => {
                    let ids: Vec<u32> = room.members.keys().copied().collect();
                    let id = ids[rng.random_range(0..ids.len())];
                    room.leave(id);
                }
                _ => {
                    // Deliver a few messages to one participant: queues
                    // drain at different speeds.
                    let ids: Vec<u32> = room.queues.keys().copied().collect();
                    let id = ids[rng.random_range(0..ids.len())];
                    for _ in 0..rng.random_range(1..4) {
                        room.deliver_one(id);
                    }
                }
            }
        }
        room.settle();
        room.assert_converged();
    }
}
