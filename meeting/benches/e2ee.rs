//! End-to-end encryption costs: sealing and opening an avatar packet
//! against the bare AEAD it is built on, and MLS key changes (a join and a
//! leave) in groups of growing size: the time each role spends and the
//! bytes the server relays.
//!
//! `cargo bench -p parallax-meeting --bench e2ee`

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use parallax_meeting::e2ee::{E2ee, Outgoing, OVERHEAD};
use parallax_meeting::protocol::AVATAR;
use std::collections::{BTreeMap, VecDeque};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// An avatar frame with both hands.
const PACKET: usize = 66;
/// Group sizes at which a join and a leave are measured.
const SIZES: [usize; 4] = [2, 10, 50, 100];

enum Msg {
    Joined(u32),
    Left(u32),
    Mls { from: u32, data: Vec<u8> },
}

/// What delivering one message cost and produced.
struct Step {
    tag: u8,
    to: u32,
    took: Duration,
    out_bytes: Vec<(u8, usize)>,
}

/// An in-process room delivering control messages in one order, like the
/// server (see `tests/e2ee.rs`).
#[derive(Default)]
struct Room {
    members: BTreeMap<u32, E2ee>,
    queues: BTreeMap<u32, VecDeque<Msg>>,
    next_id: u32,
}

impl Room {
    fn route(&mut self, from: u32, out: &[Outgoing]) {
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

    fn join(&mut self) -> (u32, usize) {
        self.next_id += 1;
        let id = self.next_id;
        let present: Vec<u32> = self.members.keys().copied().collect();
        for q in self.queues.values_mut() {
            q.push_back(Msg::Joined(id));
        }
        self.queues.insert(id, VecDeque::new());
        let (e, out) = E2ee::new(id, &present).expect("a new participant");
        let published = out.iter().map(|o| o.data.len()).sum();
        self.members.insert(id, e);
        self.route(id, &out);
        (id, published)
    }

    fn leave(&mut self, id: u32) {
        self.queues.remove(&id);
        for q in self.queues.values_mut() {
            q.push_back(Msg::Left(id));
        }
        self.members.remove(&id);
    }

    /// Delivers everything; returns what each encryption message cost.
    fn settle(&mut self) -> Vec<Step> {
        let mut steps = Vec::new();
        loop {
            let mut any = false;
            let ids: Vec<u32> = self.queues.keys().copied().collect();
            for id in ids {
                let Some(m) = self.queues.get_mut(&id).and_then(|q| q.pop_front()) else {
                    continue;
                };
                any = true;
                let e = self.members.get_mut(&id).expect("a member");
                let tag = match &m {
                    Msg::Mls { data, .. } => data.first().copied().unwrap_or(0),
                    _ => 0,
                };
                let start = Instant::now();
                let out = match m {
                    Msg::Joined(p) => e.on_joined(p),
                    Msg::Left(p) => e.on_left(p),
                    Msg::Mls { from, data } => e.on_mls(from, &data),
                }
                .expect("a valid message");
                let took = start.elapsed();
                steps.push(Step {
                    tag,
                    to: id,
                    took,
                    out_bytes: out.iter().map(|o| (o.data[0], o.data.len())).collect(),
                });
                self.route(id, &out);
            }
            if !any {
                return steps;
            }
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// What a key change cost: the committer's time and its commit and welcome
/// sizes, the median and slowest time of the others to apply it, and the
/// joiner's time to enter from the welcome.
struct Change {
    commit_ms: Duration,
    commit_bytes: usize,
    welcome_bytes: usize,
    apply_median: Duration,
    apply_max: Duration,
    welcome_ms: Duration,
}

fn change(steps: &[Step], joiner: Option<u32>) -> Change {
    const COMMIT: u8 = 2;
    const WELCOME: u8 = 3;
    let producer = steps
        .iter()
        .find(|s| s.out_bytes.iter().any(|&(t, _)| t == COMMIT))
        .expect("a commit");
    let size = |tag: u8| {
        producer
            .out_bytes
            .iter()
            .filter(|&&(t, _)| t == tag)
            .map(|&(_, n)| n)
            .sum()
    };
    let applies: Vec<Duration> = steps
        .iter()
        .filter(|s| s.tag == COMMIT)
        .map(|s| s.took)
        .collect();
    Change {
        commit_ms: producer.took,
        commit_bytes: size(COMMIT),
        welcome_bytes: size(WELCOME),
        apply_max: applies.iter().copied().max().unwrap_or_default(),
        apply_median: median(applies),
        welcome_ms: steps
            .iter()
            .filter(|s| s.tag == WELCOME && Some(s.to) == joiner)
            .map(|s| s.took)
            .sum(),
    }
}

fn media() {
    const N: u32 = 200_000;
    let mut room = Room::default();
    let (a, _) = room.join();
    let (b, _) = room.join();
    room.settle();
    let payload = [7u8; PACKET];

    let mut sealed = Vec::with_capacity(N as usize);
    let start = Instant::now();
    for _ in 0..N {
        sealed.push(
            room.members
                .get_mut(&a)
                .unwrap()
                .seal(AVATAR, &payload)
                .unwrap(),
        );
    }
    let seal = start.elapsed() / N;
    let start = Instant::now();
    for p in &sealed {
        black_box(
            room.members
                .get_mut(&b)
                .unwrap()
                .open(AVATAR, a, p)
                .unwrap(),
        );
    }
    let open = start.elapsed() / N;

    // The floor: the same AEAD with a fixed key, no header, no replay check.
    let cipher = ChaCha20Poly1305::new(&[3u8; 32].into());
    let mut bare = Vec::with_capacity(N as usize);
    let start = Instant::now();
    for i in 0..N {
        let mut nonce = [0u8; 12];
        nonce[8..].copy_from_slice(&i.to_le_bytes());
        bare.push(
            cipher
                .encrypt(
                    &nonce.into(),
                    Payload {
                        msg: &payload,
                        aad: &nonce,
                    },
                )
                .unwrap(),
        );
    }
    let bare_seal = start.elapsed() / N;
    let start = Instant::now();
    for (i, c) in bare.iter().enumerate() {
        let mut nonce = [0u8; 12];
        nonce[8..].copy_from_slice(&(i as u32).to_le_bytes());
        black_box(
            cipher
                .decrypt(
                    &nonce.into(),
                    Payload {
                        msg: c,
                        aad: &nonce,
                    },
                )
                .unwrap(),
        );
    }
    let bare_open = start.elapsed() / N;

    println!("Media, one {PACKET}-byte avatar packet ({N} packets; {OVERHEAD} bytes added):");
    println!("| | seal | open | seal + open | ratio |");
    println!("|---|---|---|---|---|");
    let ns = |d: Duration| d.as_nanos();
    println!(
        "| parallax e2ee | {} ns | {} ns | {} ns | {:.2} |",
        ns(seal),
        ns(open),
        ns(seal + open),
        (seal + open).as_secs_f64() / (bare_seal + bare_open).as_secs_f64()
    );
    println!(
        "| bare ChaCha20-Poly1305 | {} ns | {} ns | {} ns | 1.00 |",
        ns(bare_seal),
        ns(bare_open),
        ns(bare_seal + bare_open)
    );
    let per_core = 1e9 / (seal + open).as_nanos() as f64;
    println!(
        "A participant receiving 99 others at 30 Hz opens 2970 packets/s: {:.2} % of a core.\n",
        2970.0 / per_core * 100.0 * (open.as_secs_f64() / (seal + open).as_secs_f64())
    );
}

fn groups() {
    println!("MLS key changes (X25519, Ed25519, AES-128-GCM; one commit per change):");
    println!("| group | change | key package | commit | welcome | committer | others apply (median / max) | joiner |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut room = Room::default();
    room.join();
    room.settle();
    let mut present = 1;
    for &n in &SIZES {
        while present < n - 1 {
            room.join();
            room.settle();
            present += 1;
        }
        // The measured join makes the group n.
        let (joiner, kp) = room.join();
        let steps = room.settle();
        let c = change(&steps, Some(joiner));
        println!(
            "| {n} | join | {kp} B | {} B | {} B | {} ms | {} / {} ms | {} ms |",
            c.commit_bytes,
            c.welcome_bytes,
            ms(c.commit_ms),
            ms(c.apply_median),
            ms(c.apply_max),
            ms(c.welcome_ms)
        );
        // A leave (not the committer) makes it n - 1; a join refills it.
        let leaver = *room.members.keys().nth(1).unwrap();
        room.leave(leaver);
        let steps = room.settle();
        let c = change(&steps, None);
        println!(
            "| {n} | leave | | {} B | | {} ms | {} / {} ms | |",
            c.commit_bytes,
            ms(c.commit_ms),
            ms(c.apply_median),
            ms(c.apply_max)
        );
        room.join();
        room.settle();
        present = n;
    }
}

fn main() {
    media();
    groups();
}
