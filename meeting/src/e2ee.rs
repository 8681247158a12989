//! End-to-end encryption of a meeting: the room's participants share group
//! keys with MLS (RFC 9420, `openmls`), and every avatar or voice packet
//! and every chat message is sealed with them before it reaches the
//! server. The server relays the MLS messages and the sealed media in one
//! order to everyone but holds no key, so it reads none of it.
//!
//! This is the participant's state machine, without networking: feed it
//! the room's events ([`E2ee::on_joined`], [`E2ee::on_left`],
//! [`E2ee::on_mls`]) in the order the server delivered them, and send what
//! it returns ([`Outgoing`]). [`crate::SecureClient`] does that over the
//! connection.
//!
//! - **Who is in the group**: the first participant of an empty room makes
//!   the group. Everyone else publishes a key package when they join.
//!   The *committer*, the group member with the lowest participant id
//!   still in the room, adds everyone present whose key package it holds
//!   and removes everyone gone, in one commit, and welcomes the new ones.
//!   Every join and every leave therefore starts a new epoch with fresh
//!   keys: a leaver cannot read what follows, a joiner what came before.
//!   Because the server delivers all control messages in one order, every
//!   participant agrees on who the committer is, so commits never race.
//!   A waiting participant makes a new group only when nobody present is
//!   known to be in one and it is the longest present (then no group
//!   member is left to add it).
//! - **Media**: each epoch exports a 256-bit key (`export_secret`). A
//!   packet is `[epoch u32][sender leaf u32][counter u32]` (all
//!   little-endian; the 12 bytes are also the nonce), then the
//!   ChaCha20-Poly1305 ciphertext with its 16-byte tag; the kind and the
//!   header are authenticated. A sender's counter never repeats within an
//!   epoch, so nonces never repeat under a key. Receivers check that the
//!   leaf is the participant the server says sent it, and drop replays (a
//!   64-packet window per sender) and anything that fails to open; each
//!   is counted. Keys of the last [`KEPT_EPOCHS`] epochs are kept for
//!   packets in flight across a key change.
//! - **Chat**: MLS application messages (signed by the sender, with the
//!   group's forward secrecy).
//!
//! What the server still sees: who is in the room (it admits them), when
//! and how much each sends, and the MLS framing (group id, epoch, content
//! type). Media keys are the group's, not the sender's: a group member
//! could forge another member's media (as in SFrame with shared keys);
//! chat and commits are signed per member.

use openmls::prelude::tls_codec::Deserialize as _;
use openmls::prelude::*;
use openmls_basic_credential::SignatureKeyPair;
use openmls_rust_crypto::OpenMlsRustCrypto;
use std::collections::{BTreeSet, HashMap, VecDeque};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;

/// The MLS cipher suite (the one RFC 9420 makes mandatory).
pub const CIPHERSUITE: Ciphersuite = Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
/// Epochs whose media keys are kept after a key change.
pub const KEPT_EPOCHS: usize = 4;
/// Bytes a sealed packet adds to its payload (header and tag).
pub const OVERHEAD: usize = HEADER + 16;
const HEADER: usize = 12;
/// The exporter label of the media keys.
const MEDIA_LABEL: &str = "parallax-meeting media";
/// Past epochs in which MLS still opens chat messages.
const MAX_PAST_EPOCHS: usize = 8;

/// Why something could not be sealed, opened or processed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum E2eeError {
    #[error("not in the room's group yet (waiting to be added)")]
    NotSecured,
    #[error("a packet of {0} bytes is too short to be sealed media")]
    Truncated(usize),
    #[error("a packet of epoch {0}, whose key this participant does not hold")]
    UnknownEpoch(u32),
    #[error("leaf {leaf} is not participant {from}")]
    WrongSender { leaf: u32, from: u32 },
    #[error("a replayed or too old packet (counter {0})")]
    Replayed(u32),
    #[error("a packet that does not open (forged, altered or another key)")]
    Forged,
    #[error("the send counter of this epoch is exhausted (until the next key change)")]
    CounterExhausted,
    #[error("a malformed MLS message: {0}")]
    Malformed(String),
    #[error("MLS: {0}")]
    Mls(String),
}

/// What to send on the control stream: an MLS envelope for everyone else
/// in the room, or for the listed participants only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub to: Vec<u32>,
    pub data: Vec<u8>,
}

/// The counters of what was opened and dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct E2eeStats {
    pub sealed: u64,
    pub opened: u64,
    pub unknown_epoch: u64,
    pub wrong_sender: u64,
    pub replayed: u64,
    pub forged: u64,
    pub truncated: u64,
    /// MLS messages that failed to process (logged).
    pub mls_errors: u64,
    pub commits: u64,
}

// The envelope of what participants say to each other through the server:
// a tag byte, then the tag's fields.
const KEY_PACKAGE: u8 = 1;
const COMMIT: u8 = 2;
const WELCOME: u8 = 3;
const FOUNDED: u8 = 4;

/// Replay protection for one sender in one epoch: the highest counter
/// seen and a bitmap of the 64 below it.
#[derive(Clone, Copy, Debug, Default)]
struct Window {
    top: Option<u32>,
    seen: u64,
}

impl Window {
    fn fresh(&self, c: u32) -> bool {
        match self.top {
            None => true,
            Some(t) if c > t => true,
            Some(t) => {
                let back = t - c;
                back < 64 && self.seen & (1u64 << back) == 0
            }
        }
    }

    fn mark(&mut self, c: u32) {
        match self.top {
            None => {
                self.top = Some(c);
                self.seen = 1;
            }
            Some(t) if c > t => {
                let shift = c - t;
                self.seen = if shift >= 64 { 0 } else { self.seen << shift };
                self.seen |= 1;
                self.top = Some(c);
            }
            Some(t) => self.seen |= 1u64 << (t - c),
        }
    }
}

/// One epoch's media key, who sits at which leaf, and the replay windows.
struct EpochKey {
    epoch: u32,
    cipher: ChaCha20Poly1305,
    leaves: HashMap<u32, u32>,
    windows: HashMap<u32, Window>,
}

/// A participant's end-to-end encryption state.
pub struct E2ee {
    me: u32,
    provider: OpenMlsRustCrypto,
    signer: SignatureKeyPair,
    credential: CredentialWithKey,
    group: Option<MlsGroup>,
    /// The others in the room now.
    present: BTreeSet<u32>,
    /// Others known to be in the group (for the founding rule).
    known_members: BTreeSet<u32>,
    /// Key packages of present participants not yet added.
    key_packages: HashMap<u32, KeyPackage>,
    keys: VecDeque<EpochKey>,
    counter: u32,
    stats: E2eeStats,
}

impl std::fmt::Debug for E2ee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("E2ee")
            .field("me", &self.me)
            .field("epoch", &self.epoch())
            .finish_non_exhaustive()
    }
}

fn mls<E: std::fmt::Display>(e: E) -> E2eeError {
    E2eeError::Mls(e.to_string())
}

/// The participant id in a member's credential (its identity is the id in
/// decimal).
fn participant_of(c: &Credential) -> Option<u32> {
    let basic = BasicCredential::try_from(c.clone()).ok()?;
    std::str::from_utf8(basic.identity()).ok()?.parse().ok()
}

fn read_ids(data: &[u8]) -> Option<(Vec<u32>, &[u8])> {
    let n = u16::from_le_bytes(data.get(..2)?.try_into().ok()?) as usize;
    let ids = data.get(2..2 + 4 * n)?;
    let ids = ids
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Some((ids, &data[2 + 4 * n..]))
}

fn write_ids(out: &mut Vec<u8>, ids: &[u32]) {
    out.extend_from_slice(&(ids.len() as u16).to_le_bytes());
    for id in ids {
        out.extend_from_slice(&id.to_le_bytes());
    }
}

fn mls_in(data: &[u8]) -> Result<MlsMessageIn, E2eeError> {
    MlsMessageIn::tls_deserialize_exact(data).map_err(|e| E2eeError::Malformed(e.to_string()))
}

impl E2ee {
    /// The state of participant `me`, who found `present` in the room on
    /// joining; returns what to send first (the new group's founding, or
    /// this participant's key package).
    pub fn new(me: u32, present: &[u32]) -> Result<(E2ee, Vec<Outgoing>), E2eeError> {
        let provider = OpenMlsRustCrypto::default();
        let signer = SignatureKeyPair::new(CIPHERSUITE.signature_algorithm()).map_err(mls)?;
        signer.store(provider.storage()).map_err(mls)?;
        let credential = CredentialWithKey {
            credential: BasicCredential::new(me.to_string().into_bytes()).into(),
            signature_key: signer.public().into(),
        };
        let mut e = E2ee {
            me,
            provider,
            signer,
            credential,
            group: None,
            present: present.iter().copied().filter(|&p| p != me).collect(),
            known_members: BTreeSet::new(),
            key_packages: HashMap::new(),
            keys: VecDeque::new(),
            counter: 0,
            stats: E2eeStats::default(),
        };
        let mut out = Vec::new();
        if e.present.is_empty() {
            out.extend(e.found()?);
        } else {
            let bundle = KeyPackage::builder()
                .build(CIPHERSUITE, &e.provider, &e.signer, e.credential.clone())
                .map_err(mls)?;
            let msg = MlsMessageOut::from(bundle.key_package().clone());
            let mut data = vec![KEY_PACKAGE];
            data.extend(msg.to_bytes().map_err(mls)?);
            out.push(Outgoing { to: vec![], data });
        }
        Ok((e, out))
    }

    fn create_config() -> MlsGroupCreateConfig {
        MlsGroupCreateConfig::builder()
            .ciphersuite(CIPHERSUITE)
            .use_ratchet_tree_extension(true)
            .wire_format_policy(PURE_CIPHERTEXT_WIRE_FORMAT_POLICY)
            .max_past_epochs(MAX_PAST_EPOCHS)
            .build()
    }

    fn join_config() -> MlsGroupJoinConfig {
        MlsGroupJoinConfig::builder()
            .use_ratchet_tree_extension(true)
            .wire_format_policy(PURE_CIPHERTEXT_WIRE_FORMAT_POLICY)
            .max_past_epochs(MAX_PAST_EPOCHS)
            .build()
    }

    /// Makes a new group with this participant alone in it and adds
    /// whoever is waiting.
    fn found(&mut self) -> Result<Vec<Outgoing>, E2eeError> {
        let group = MlsGroup::new(
            &self.provider,
            &self.signer,
            &Self::create_config(),
            self.credential.clone(),
        )
        .map_err(mls)?;
        tracing::info!(me = self.me, "founded the room's group");
        self.group = Some(group);
        self.rekey()?;
        let mut out = vec![Outgoing {
            to: vec![],
            data: vec![FOUNDED],
        }];
        out.extend(self.reconcile()?);
        Ok(out)
    }

    /// This participant's id.
    pub fn me(&self) -> u32 {
        self.me
    }

    /// The group's epoch; `None` while waiting to be added.
    pub fn epoch(&self) -> Option<u64> {
        self.group.as_ref().map(|g| g.epoch().as_u64())
    }

    /// The participants in the group (this one included), by id.
    pub fn members(&self) -> Vec<u32> {
        let mut m: Vec<u32> = self
            .group
            .iter()
            .flat_map(|g| g.members())
            .filter_map(|m| participant_of(&m.credential))
            .collect();
        m.sort_unstable();
        m
    }

    /// A fingerprint of the current epoch that every member shares
    /// (RFC 9420's epoch authenticator): compared out of band, it shows
    /// that nobody else sits in the group.
    pub fn fingerprint(&self) -> Option<Vec<u8>> {
        self.group
            .as_ref()
            .map(|g| g.epoch_authenticator().as_slice().to_vec())
    }

    pub fn stats(&self) -> E2eeStats {
        self.stats
    }

    /// Derives the current epoch's media key.
    fn rekey(&mut self) -> Result<(), E2eeError> {
        let Some(g) = &self.group else {
            return Ok(());
        };
        if !g.is_active() {
            return Ok(());
        }
        let secret = g
            .export_secret(self.provider.crypto(), MEDIA_LABEL, b"", 32)
            .map_err(mls)?;
        let leaves = g
            .members()
            .filter_map(|m| Some((m.index.u32(), participant_of(&m.credential)?)))
            .collect();
        let epoch = g.epoch().as_u64() as u32;
        self.keys.retain(|k| k.epoch != epoch);
        self.keys.push_front(EpochKey {
            epoch,
            cipher: ChaCha20Poly1305::new_from_slice(&secret).map_err(mls)?,
            leaves,
            windows: HashMap::new(),
        });
        self.keys.truncate(KEPT_EPOCHS);
        self.counter = 0;
        Ok(())
    }

    /// The member that commits: the lowest participant id among the group
    /// members still present (this one counts as present).
    fn committer(&self) -> Option<u32> {
        self.members()
            .into_iter()
            .find(|&m| m == self.me || self.present.contains(&m))
    }

    /// If this participant is the committer: adds the present participants
    /// whose key packages it holds and removes the members gone, in one
    /// commit.
    fn reconcile(&mut self) -> Result<Vec<Outgoing>, E2eeError> {
        if self.committer() != Some(self.me) {
            return Ok(Vec::new());
        }
        let g = self.group.as_mut().expect("a committer has a group");
        if !g.is_active() {
            return Ok(Vec::new());
        }
        let mut removed = Vec::new();
        let mut removed_leaves = Vec::new();
        let mut in_group = BTreeSet::new();
        for m in g.members() {
            match participant_of(&m.credential) {
                Some(p) if p == self.me || self.present.contains(&p) => {
                    in_group.insert(p);
                }
                p => {
                    removed_leaves.push(m.index);
                    removed.extend(p);
                }
            }
        }
        let mut added: Vec<u32> = self
            .key_packages
            .keys()
            .copied()
            .filter(|p| self.present.contains(p) && !in_group.contains(p))
            .collect();
        added.sort_unstable();
        if added.is_empty() && removed_leaves.is_empty() {
            return Ok(Vec::new());
        }
        let kps: Vec<KeyPackage> = added
            .iter()
            .filter_map(|p| self.key_packages.remove(p))
            .collect();
        let bundle = g
            .commit_builder()
            .propose_adds(kps)
            .propose_removals(removed_leaves)
            .load_psks(self.provider.storage())
            .map_err(mls)?
            .build(
                self.provider.rand(),
                self.provider.crypto(),
                &self.signer,
                |_| true,
            )
            .map_err(mls)?
            .stage_commit(&self.provider)
            .map_err(mls)?;
        let (commit, welcome, _) = bundle.into_messages();
        g.merge_pending_commit(&self.provider).map_err(mls)?;
        self.stats.commits += 1;
        tracing::info!(
            me = self.me,
            epoch = g.epoch().as_u64(),
            ?added,
            ?removed,
            "committed a membership change"
        );
        let mut data = vec![COMMIT];
        write_ids(&mut data, &added);
        write_ids(&mut data, &removed);
        data.extend(commit.to_bytes().map_err(mls)?);
        let mut out = vec![Outgoing { to: vec![], data }];
        if let Some(w) = welcome {
            let mut data = vec![WELCOME];
            data.extend(w.to_bytes().map_err(mls)?);
            out.push(Outgoing {
                to: added.clone(),
                data,
            });
        }
        self.known_members.extend(added);
        for r in &removed {
            self.known_members.remove(r);
        }
        self.rekey()?;
        Ok(out)
    }

    /// Makes a group if nobody present is in one and this participant has
    /// been here longest (nobody is left who could add it).
    fn maybe_found(&mut self) -> Result<Vec<Outgoing>, E2eeError> {
        let longest = self.present.iter().all(|&p| p > self.me);
        let nobody_in_group = self.known_members.is_disjoint(&self.present);
        if self.group.is_none() && longest && nobody_in_group {
            self.found()
        } else {
            Ok(Vec::new())
        }
    }

    /// Someone joined the room.
    pub fn on_joined(&mut self, id: u32) -> Result<Vec<Outgoing>, E2eeError> {
        if id != self.me {
            self.present.insert(id);
        }
        Ok(Vec::new())
    }

    /// Someone left the room (or was removed): a new epoch without them.
    pub fn on_left(&mut self, id: u32) -> Result<Vec<Outgoing>, E2eeError> {
        self.present.remove(&id);
        self.key_packages.remove(&id);
        self.known_members.remove(&id);
        if self.group.is_some() {
            self.reconcile()
        } else {
            self.maybe_found()
        }
    }

    /// An MLS envelope from participant `from`. Errors are for the log:
    /// the state stays as it was.
    pub fn on_mls(&mut self, from: u32, data: &[u8]) -> Result<Vec<Outgoing>, E2eeError> {
        let r = self.on_mls_inner(from, data);
        if r.is_err() {
            self.stats.mls_errors += 1;
        }
        r
    }

    fn on_mls_inner(&mut self, from: u32, data: &[u8]) -> Result<Vec<Outgoing>, E2eeError> {
        let (&tag, body) = data
            .split_first()
            .ok_or_else(|| E2eeError::Malformed("empty".into()))?;
        match tag {
            KEY_PACKAGE => {
                let MlsMessageBodyIn::KeyPackage(kp) = mls_in(body)?.extract() else {
                    return Err(E2eeError::Malformed("not a key package".into()));
                };
                let kp = kp
                    .validate(self.provider.crypto(), ProtocolVersion::Mls10)
                    .map_err(|e| E2eeError::Malformed(e.to_string()))?;
                if participant_of(kp.leaf_node().credential()) != Some(from) {
                    return Err(E2eeError::Malformed(format!(
                        "participant {from} sent a key package for someone else"
                    )));
                }
                if kp.ciphersuite() != CIPHERSUITE {
                    return Err(E2eeError::Malformed(format!(
                        "a key package for {:?}",
                        kp.ciphersuite()
                    )));
                }
                if !self.present.contains(&from) {
                    return Ok(Vec::new());
                }
                self.key_packages.insert(from, kp);
                if self.group.is_some() {
                    self.reconcile()
                } else {
                    Ok(Vec::new())
                }
            }
            FOUNDED => {
                self.known_members.insert(from);
                Ok(Vec::new())
            }
            COMMIT => {
                let (added, rest) =
                    read_ids(body).ok_or_else(|| E2eeError::Malformed("commit".into()))?;
                let (removed, commit) =
                    read_ids(rest).ok_or_else(|| E2eeError::Malformed("commit".into()))?;
                self.known_members.insert(from);
                self.known_members.extend(added.iter().copied());
                for r in &removed {
                    self.known_members.remove(r);
                }
                for a in &added {
                    self.key_packages.remove(a);
                }
                let Some(g) = self.group.as_mut() else {
                    // Not in the group yet: the commit is not for us.
                    return Ok(Vec::new());
                };
                let msg = mls_in(commit)?
                    .try_into_protocol_message()
                    .map_err(|e| E2eeError::Malformed(e.to_string()))?;
                if msg.epoch() != g.epoch() {
                    // A commit of an epoch before this participant joined.
                    return Ok(Vec::new());
                }
                let processed = g.process_message(&self.provider, msg).map_err(mls)?;
                if participant_of(processed.credential()) != Some(from) {
                    return Err(E2eeError::Malformed(format!(
                        "a commit relayed as {from}'s is someone else's"
                    )));
                }
                let ProcessedMessageContent::StagedCommitMessage(staged) = processed.into_content()
                else {
                    return Err(E2eeError::Malformed("not a commit".into()));
                };
                g.merge_staged_commit(&self.provider, *staged)
                    .map_err(mls)?;
                if !g.is_active() {
                    tracing::info!(me = self.me, "removed from the group");
                    self.group = None;
                    self.keys.clear();
                    return Ok(Vec::new());
                }
                tracing::debug!(me = self.me, epoch = g.epoch().as_u64(), "new epoch");
                self.rekey()?;
                // The committer may have changed meanwhile.
                self.reconcile()
            }
            WELCOME => {
                if self.group.is_some() {
                    return Ok(Vec::new());
                }
                let MlsMessageBodyIn::Welcome(w) = mls_in(body)?.extract() else {
                    return Err(E2eeError::Malformed("not a welcome".into()));
                };
                let group =
                    StagedWelcome::new_from_welcome(&self.provider, &Self::join_config(), w, None)
                        .map_err(mls)?
                        .into_group(&self.provider)
                        .map_err(mls)?;
                tracing::info!(
                    me = self.me,
                    epoch = group.epoch().as_u64(),
                    "welcomed into the room's group"
                );
                self.group = Some(group);
                self.rekey()?;
                // Participants who left while this one waited.
                self.reconcile()
            }
            other => Err(E2eeError::Malformed(format!("envelope tag {other}"))),
        }
    }

    /// Seals a media payload of `kind` for the group.
    pub fn seal(&mut self, kind: u8, payload: &[u8]) -> Result<Vec<u8>, E2eeError> {
        let (Some(g), Some(key)) = (&self.group, self.keys.front()) else {
            return Err(E2eeError::NotSecured);
        };
        if self.counter == u32::MAX {
            return Err(E2eeError::CounterExhausted);
        }
        let mut out = Vec::with_capacity(OVERHEAD + payload.len());
        out.extend_from_slice(&key.epoch.to_le_bytes());
        out.extend_from_slice(&g.own_leaf_index().u32().to_le_bytes());
        out.extend_from_slice(&self.counter.to_le_bytes());
        let mut aad = [0u8; HEADER + 1];
        aad[0] = kind;
        aad[1..].copy_from_slice(&out);
        let nonce = chacha20poly1305::Nonce::from_slice(&out[..HEADER]).to_owned();
        let ct = key
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: payload,
                    aad: &aad,
                },
            )
            .map_err(|_| E2eeError::Forged)?;
        out.extend(ct);
        self.counter += 1;
        self.stats.sealed += 1;
        Ok(out)
    }

    /// Opens a media packet of `kind` that the server says `from` sent.
    pub fn open(&mut self, kind: u8, from: u32, packet: &[u8]) -> Result<Vec<u8>, E2eeError> {
        let r = self.open_inner(kind, from, packet);
        let s = &mut self.stats;
        match &r {
            Ok(_) => s.opened += 1,
            Err(E2eeError::Truncated(_)) => s.truncated += 1,
            Err(E2eeError::UnknownEpoch(_) | E2eeError::NotSecured) => s.unknown_epoch += 1,
            Err(E2eeError::WrongSender { .. }) => s.wrong_sender += 1,
            Err(E2eeError::Replayed(_)) => s.replayed += 1,
            Err(_) => s.forged += 1,
        }
        r
    }

    fn open_inner(&mut self, kind: u8, from: u32, packet: &[u8]) -> Result<Vec<u8>, E2eeError> {
        if packet.len() < OVERHEAD {
            return Err(E2eeError::Truncated(packet.len()));
        }
        let word = |i: usize| u32::from_le_bytes(packet[i..i + 4].try_into().expect("4 bytes"));
        let (epoch, leaf, counter) = (word(0), word(4), word(8));
        let key = self
            .keys
            .iter_mut()
            .find(|k| k.epoch == epoch)
            .ok_or(E2eeError::UnknownEpoch(epoch))?;
        if key.leaves.get(&leaf) != Some(&from) {
            return Err(E2eeError::WrongSender { leaf, from });
        }
        let window = key.windows.entry(leaf).or_default();
        if !window.fresh(counter) {
            return Err(E2eeError::Replayed(counter));
        }
        let mut aad = [0u8; HEADER + 1];
        aad[0] = kind;
        aad[1..].copy_from_slice(&packet[..HEADER]);
        let plain = key
            .cipher
            .decrypt(
                chacha20poly1305::Nonce::from_slice(&packet[..HEADER]),
                Payload {
                    msg: &packet[HEADER..],
                    aad: &aad,
                },
            )
            .map_err(|_| E2eeError::Forged)?;
        window.mark(counter);
        Ok(plain)
    }

    /// Seals a chat message (an MLS application message).
    pub fn seal_chat(&mut self, text: &[u8]) -> Result<Vec<u8>, E2eeError> {
        let g = self.group.as_mut().ok_or(E2eeError::NotSecured)?;
        let m = g
            .create_message(&self.provider, &self.signer, text)
            .map_err(mls)?;
        m.to_bytes().map_err(mls)
    }

    /// Opens a chat message that the server says `from` sent.
    pub fn open_chat(&mut self, from: u32, data: &[u8]) -> Result<Vec<u8>, E2eeError> {
        let g = self.group.as_mut().ok_or(E2eeError::NotSecured)?;
        let msg = mls_in(data)?
            .try_into_protocol_message()
            .map_err(|e| E2eeError::Malformed(e.to_string()))?;
        let processed = g.process_message(&self.provider, msg).map_err(mls)?;
        if participant_of(processed.credential()) != Some(from) {
            return Err(E2eeError::WrongSender { leaf: 0, from });
        }
        match processed.into_content() {
            ProcessedMessageContent::ApplicationMessage(a) => Ok(a.into_bytes()),
            _ => Err(E2eeError::Malformed("not a chat message".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replay_window_takes_each_counter_once() {
        let mut w = Window::default();
        for c in [5, 3, 7, 6, 100, 40, 37] {
            assert!(w.fresh(c), "{c}");
            w.mark(c);
            assert!(!w.fresh(c), "{c} again");
        }
        // 36 is 64 behind 100: too old.
        assert!(!w.fresh(36));
        assert!(w.fresh(38));
        assert!(!w.fresh(7));
    }
}
