//! The assistant in a holographic meeting (`parallax assistant meet`): it
//! joins a room as a participant, end-to-end encrypted like everyone else,
//! and answers when it is addressed in the room's chat (`Nova, ...` or
//! `@Nova ...`): the answer, its citations and the creator's refusals go
//! back to the chat, and it is spoken with espeak-ng (Debian's `espeak-ng`)
//! into the room's voice, spatialised by every listener from where the
//! assistant stands. It has a body there too: a codec avatar at its seat,
//! its jaw following its speech, so a headset sees who is talking.
//!
//! The answers come from a thread of their own that owns the assistant
//! (generation takes seconds); the meeting loop goes on meanwhile.

use crate::assistant::citation_line;
use crate::Assistant;
use parallax_avatar::codec::Scratch;
use parallax_avatar::packet::{self, AvatarFrame, Gaze};
use parallax_avatar::Codec;
use parallax_meeting::invite::Invite;
use parallax_meeting::protocol::{Peer, AVATAR, VOICE};
use parallax_meeting::voice::{VoiceEncoder, FRAME, SAMPLE_RATE};
use parallax_meeting::{seats, Event, SecureClient};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Why the assistant could not take part.
#[derive(Debug, thiserror::Error)]
pub enum MeetError {
    #[error("{0}")]
    Invite(#[from] parallax_meeting::invite::InviteError),
    #[error("joining: {0}")]
    Join(String),
    #[error("{0}")]
    Runtime(String),
}

/// What it did, for the user and the tests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MeetReport {
    pub questions: usize,
    pub answered: usize,
    pub declined: usize,
    /// Chat messages not addressed to it.
    pub ignored: usize,
    /// Seconds of speech sent.
    pub spoken_secs: f64,
}

/// The question in `text` when it addresses `name` (`Name, ...`,
/// `Name: ...`, `hey Name ...` or `@Name` anywhere), else `None`.
pub fn addressed(text: &str, name: &str) -> Option<String> {
    let t = text.trim();
    // ASCII case folding keeps byte offsets the same in both strings.
    let lower = t.to_ascii_lowercase();
    let n = name.to_ascii_lowercase();
    let at = format!("@{n}");
    if let Some(i) = lower.find(&at) {
        let q = format!("{} {}", &t[..i], &t[i + at.len()..]);
        return Some(tidy(&q));
    }
    let rest = lower
        .strip_prefix("hey ")
        .or_else(|| lower.strip_prefix("hi "))
        .unwrap_or(&lower);
    let skipped = lower.len() - rest.len();
    if rest.starts_with(&n) {
        let after = &rest[n.len()..];
        if after.is_empty() || after.starts_with([',', ':', ' ', '!', '?']) {
            return Some(tidy(&t[skipped + n.len()..]));
        }
    }
    None
}

fn tidy(q: &str) -> String {
    q.trim_matches(|c: char| c.is_whitespace() || c == ',' || c == ':')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A spoken text as 48 kHz mono samples, by espeak-ng; `None` (logged
/// once by the caller) when it is not installed or fails.
pub fn speak(text: &str) -> Result<Vec<f32>, String> {
    let out = std::process::Command::new("espeak-ng")
        .args(["--stdout", "-v", "en", "-s", "165", "--", text])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("espeak-ng: {e} (install Debian's espeak-ng)"))?;
    if !out.status.success() {
        return Err(format!("espeak-ng failed: {}", out.status));
    }
    let reader = hound::WavReader::new(std::io::Cursor::new(out.stdout))
        .map_err(|e| format!("espeak-ng's WAV: {e}"))?;
    let spec = reader.spec();
    let channels = spec.channels.max(1) as usize;
    // espeak-ng cannot know the length when it writes to a pipe: its
    // header claims far more samples than follow, so reading stops at the
    // first error (the end of the data).
    let samples: Vec<f32> = reader
        .into_samples::<i16>()
        .map_while(Result::ok)
        .collect::<Vec<_>>()
        .chunks(channels)
        .map(|c| c.iter().map(|&s| s as f32 / 32768.0).sum::<f32>() / channels as f32)
        .collect();
    Ok(parallax_meeting::audio::resample_mono(
        &samples,
        spec.sample_rate,
    ))
}

/// A question for the answering thread.
struct Asked {
    user: String,
    question: String,
}

/// What the answering thread says back.
struct Said {
    chat: String,
    speech: String,
    declined: bool,
}

/// The answering thread: the assistant, one question at a time.
fn answerer(mut a: Assistant, rx: mpsc::Receiver<Asked>, tx: mpsc::Sender<Said>) {
    while let Ok(q) = rx.recv() {
        let said = match a.ask(&q.user, &q.question, &[], |_| true) {
            Ok(ans) => {
                let mut chat = ans.text.trim().to_string();
                for c in &ans.citations {
                    chat.push('\n');
                    chat.push_str(&citation_line(c));
                }
                for a in &ans.actions {
                    chat.push_str("\n-> ");
                    chat.push_str(&a.line());
                }
                Said {
                    speech: ans.text.trim().to_string(),
                    chat,
                    declined: ans.refused.is_some(),
                }
            }
            Err(e) => {
                tracing::warn!("the assistant could not answer: {e}");
                Said {
                    chat: format!("Sorry, I could not answer that: {e}"),
                    speech: "Sorry, I could not answer that.".into(),
                    declined: false,
                }
            }
        };
        if tx.send(said).is_err() {
            break;
        }
    }
}

/// Joins the room of `invite` as the assistant and takes part until `stop`
/// (or the connection ends); `voice`: speak the answers.
pub fn attend(
    assistant: Assistant,
    invite: &Invite,
    voice: bool,
    stop: &AtomicBool,
) -> Result<MeetReport, MeetError> {
    let (addr, cert) = invite.locate()?;
    let name = assistant.agent.name.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| MeetError::Runtime(e.to_string()))?;
    let (ask_tx, ask_rx) = mpsc::channel();
    let (said_tx, said_rx) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .name("parallax-assistant".into())
        .spawn(move || answerer(assistant, ask_rx, said_tx))
        .map_err(|e| MeetError::Runtime(e.to_string()))?;
    let report = rt.block_on(async {
        let mut c = SecureClient::join(addr, &cert, &invite.room, &invite.token)
            .await
            .map_err(|e| MeetError::Join(e.to_string()))?;
        tracing::info!(
            "{name} joined {} as participant {} at seat {}",
            invite.room,
            c.id(),
            c.seat()
        );
        let mut names: HashMap<u32, String> =
            c.peers().iter().map(|p: &Peer| (p.id, p.name.clone())).collect();
        let (p, q) = seats::room_from_stage(c.seat());
        let codec = Codec::shipped();
        let mut scratch = Scratch::default();
        let mut code = vec![0.0; codec.code_len()];
        let jaw = parallax_sdk_types::face_expression("jawOpen");
        let mut encoder =
            VoiceEncoder::new().map_err(|e| MeetError::Runtime(e.to_string()))?;
        let mut speech: VecDeque<f32> = VecDeque::new();
        let mut level = 0f32;
        let mut warned_voice = false;
        let mut report = MeetReport::default();
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / 30.0));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut voice_tick = tokio::time::interval(Duration::from_millis(20));
        voice_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let start = Instant::now();
        let mut sequence = 0u16;
        'meet: loop {
            tokio::select! {
                _ = tick.tick() => {
                    if stop.load(Ordering::Acquire) {
                        break 'meet;
                    }
                    // Its avatar: standing at its seat, facing the table,
                    // the jaw following the speech's level.
                    let mut weights = [0.0f32; parallax_sdk_types::FACE_EXPRESSION_COUNT];
                    if let Some(j) = jaw {
                        weights[j] = (level * 4.0).min(0.7);
                    }
                    codec.encode(&weights, &mut scratch, &mut code);
                    sequence = sequence.wrapping_add(1);
                    let eye = Gaze { direction: -glam::Vec3::Z, confidence: 1.0 };
                    let frame = AvatarFrame {
                        sequence,
                        timestamp: packet::timestamp(start.elapsed().as_micros() as u64),
                        code: code.clone(),
                        head: packet::Pose { position: p + q * glam::Vec3::new(0.0, 1.6, 0.0), orientation: q },
                        hands: [None, None],
                        gaze: Some([eye, eye]),
                    };
                    if let Ok(bytes) = frame.encode() {
                        let _ = c.send_media(AVATAR, &bytes);
                    }
                    // Answers that are ready.
                    while let Ok(said) = said_rx.try_recv() {
                        report.answered += usize::from(!said.declined);
                        report.declined += usize::from(said.declined);
                        if let Err(e) = c.chat(said.chat.as_bytes()).await {
                            tracing::warn!("{name}: the answer did not go out: {e}");
                        }
                        if voice {
                            match speak(&said.speech) {
                                Ok(pcm) => {
                                    report.spoken_secs += pcm.len() as f64 / SAMPLE_RATE as f64;
                                    speech.extend(pcm);
                                }
                                Err(e) if !warned_voice => {
                                    warned_voice = true;
                                    tracing::warn!("{name} answers in the chat only: {e}");
                                }
                                Err(_) => {}
                            }
                        }
                    }
                }
                _ = voice_tick.tick() => {
                    if !speech.is_empty() {
                        let mut pcm: Vec<f32> = speech.drain(..FRAME.min(speech.len())).collect();
                        pcm.resize(FRAME, 0.0);
                        level = (pcm.iter().map(|x| x * x).sum::<f32>() / FRAME as f32).sqrt();
                        if let Ok(Some(packet)) = encoder.encode(&pcm) {
                            let _ = c.send_media(VOICE, &packet);
                        }
                    } else {
                        level = 0.0;
                    }
                }
                m = c.recv_media() => {
                    if m.is_none() {
                        tracing::warn!("{name}: the connection ended");
                        break 'meet;
                    }
                }
            }
            while let Some(e) = c.try_event() {
                match e {
                    Event::Joined(peer) => {
                        names.insert(peer.id, peer.name);
                    }
                    Event::Left(id) => {
                        names.remove(&id);
                    }
                    Event::Chat { from, text } => {
                        let text = String::from_utf8_lossy(&text);
                        match addressed(&text, &name) {
                            Some(question) if !question.is_empty() => {
                                report.questions += 1;
                                let who = names.get(&from).cloned().unwrap_or_else(|| format!("participant {from}"));
                                tracing::info!("{name}: {who} asks {question:?}");
                                // Memories are per person in the room.
                                let user = format!("meeting:{}:{who}", invite.room);
                                if ask_tx.send(Asked { user, question }).is_err() {
                                    break 'meet;
                                }
                            }
                            _ => report.ignored += 1,
                        }
                    }
                    Event::Kicked(why) => {
                        tracing::warn!("{name} was removed: {why}");
                        break 'meet;
                    }
                    _ => {}
                }
            }
        }
        c.leave().await;
        Ok::<_, MeetError>(report)
    });
    drop(ask_tx);
    let _ = worker.join();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_when_it_is_addressed() {
        let q = |t: &str| addressed(t, "Nova");
        assert_eq!(
            q("Nova, when do you open?").as_deref(),
            Some("when do you open?")
        );
        assert_eq!(q("nova: kayaks?").as_deref(), Some("kayaks?"));
        assert_eq!(
            q("hey Nova what does a tent cost").as_deref(),
            Some("what does a tent cost")
        );
        assert_eq!(
            q("what do you think @nova?").as_deref(),
            Some("what do you think ?")
        );
        assert_eq!(q("Novak, are you there?"), None);
        assert_eq!(q("I bought it at Nova Outfitters"), None);
        assert_eq!(q("nice day"), None);
    }
}
