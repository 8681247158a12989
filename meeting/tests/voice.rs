//! Voice without the network: Opus round trips of a scripted talker, the
//! jitter buffer under loss, reordering, duplicates and garbage, and the
//! spatial mix.

use glam::{Quat, Vec3};
use parallax_meeting::voice::{
    correlation, Head, Mixer, Talker, VoiceEncoder, VoiceError, VoicePacket, VoiceReceiver, FRAME,
    HEADER, SAMPLE_RATE,
};
use rand::{Rng, SeedableRng};

fn talk(pitch: f32, frames: usize) -> (Vec<f32>, Vec<Vec<u8>>) {
    let mut talker = Talker::new(pitch);
    // A packet per frame, pauses included: these tests follow every one.
    let mut encoder = VoiceEncoder::continuous().unwrap();
    let mut pcm = Vec::new();
    let mut packets = Vec::new();
    for _ in 0..frames {
        let f = talker.frame();
        packets.push(encoder.encode(&f).unwrap().expect("a packet per frame"));
        pcm.extend_from_slice(&f);
    }
    (pcm, packets)
}

/// One packet arrives, then one frame plays, every 20 ms; then the
/// buffer plays out.
fn realtime(rx: &mut VoiceReceiver, packets: &[Vec<u8>]) -> Vec<f32> {
    let mut out = Vec::new();
    let mut f = vec![0.0; FRAME];
    for (i, p) in packets.iter().enumerate() {
        rx.push(p, i as f64 * 0.02).unwrap();
        rx.pull(&mut f);
        out.extend_from_slice(&f);
    }
    let rest = rx.depth();
    out.extend(play(rx, rest));
    out
}

/// Plays everything a receiver holds (or will conceal) for `frames` ticks.
fn play(rx: &mut VoiceReceiver, frames: usize) -> Vec<f32> {
    let mut out = Vec::new();
    let mut f = vec![0.0; FRAME];
    for _ in 0..frames {
        rx.pull(&mut f);
        out.extend_from_slice(&f);
    }
    out
}

#[test]
fn a_talker_survives_the_codec_at_28_kbits() {
    let (pcm, packets) = talk(140.0, 100);
    let peak = pcm.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    assert!((0.1..0.9).contains(&peak), "talker peak {peak}");
    let bits: usize = packets.iter().map(|p| (p.len() - HEADER) * 8).sum();
    let kbits = bits as f64 / 2.0 / 1000.0;
    assert!((18.0..=34.0).contains(&kbits), "{kbits} kbit/s of Opus");

    let mut rx = VoiceReceiver::new(1).unwrap();
    let out = realtime(&mut rx, &packets);
    let lookahead = VoiceEncoder::new().unwrap().lookahead().unwrap();
    let (c, lag) = correlation(&pcm, &out, 2000);
    eprintln!("correlation {c:.3} at lag {lag} (look-ahead {lookahead}), {kbits:.1} kbit/s");
    assert!(c > 0.9, "correlation {c}");
    assert!(
        lag.abs_diff(lookahead) <= 8,
        "lag {lag}, look-ahead {lookahead}"
    );
    let s = rx.stats();
    assert_eq!((s.received, s.decoded, s.concealed), (100, 100, 0), "{s:?}");
}

#[test]
fn loss_is_recovered_or_concealed_and_counted() {
    let (pcm, packets) = talk(180.0, 150);
    let mut rng = rand_pcg(7);
    let mut rx = VoiceReceiver::new(3).unwrap();
    let mut lost = 0;
    let mut f = vec![0.0; FRAME];
    let mut out = Vec::new();
    // Real time: one packet arrives and one frame plays every 20 ms.
    for (i, p) in packets.iter().enumerate() {
        if rng.random::<f32>() < 0.1 {
            lost += 1;
        } else {
            rx.push(p, i as f64 * 0.02).unwrap();
        }
        rx.pull(&mut f);
        out.extend_from_slice(&f);
    }
    out.extend(play(&mut rx, 5));
    let s = rx.stats();
    eprintln!("{lost} lost: {s:?}");
    assert!(lost > 5);
    assert_eq!(s.received as usize, packets.len() - lost);
    // Every lost frame was rebuilt from FEC or concealed, none skipped.
    assert!(s.recovered + s.concealed >= lost as u64, "{s:?}");
    assert!(s.recovered > 0, "in-band FEC never used: {s:?}");
    let (c, _) = correlation(&pcm, &out, 4000);
    assert!(c > 0.6, "correlation under 10 % loss {c}");
}

fn rand_pcg(seed: u64) -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(seed)
}

#[test]
fn reordered_duplicated_and_late_packets() {
    let (pcm, packets) = talk(120.0, 60);
    let mut rx = VoiceReceiver::new(3).unwrap();
    // Pairs swapped, every fifth sent twice.
    let mut order: Vec<usize> = (0..60).collect();
    for pair in order.chunks_mut(2) {
        pair.swap(0, 1);
    }
    let mut out = Vec::new();
    let mut f = vec![0.0; FRAME];
    for (k, &i) in order.iter().enumerate() {
        rx.push(&packets[i], k as f64 * 0.02).unwrap();
        if i % 5 == 0 {
            rx.push(&packets[i], k as f64 * 0.02).unwrap();
        }
        rx.pull(&mut f);
        out.extend_from_slice(&f);
    }
    let rest = rx.depth();
    out.extend(play(&mut rx, rest));
    // A packet after its playout time is late, not played.
    rx.push(&packets[3], 2.0).unwrap();
    let s = rx.stats();
    assert_eq!((s.received, s.duplicate, s.late), (60, 12, 1), "{s:?}");
    assert_eq!((s.decoded, s.concealed, s.recovered), (60, 0, 0), "{s:?}");
    let (c, _) = correlation(&pcm, &out, 4000);
    assert!(c > 0.9, "{c}");
}

#[test]
fn garbage_never_plays_or_panics() {
    let mut rx = VoiceReceiver::new(1).unwrap();
    assert_eq!(rx.push(&[], 0.0), Err(VoiceError::Truncated(0)));
    assert_eq!(rx.push(&[9; 40], 0.0), Err(VoiceError::Version(9)));
    assert_eq!(
        rx.push(&[1; HEADER], 0.0),
        Err(VoiceError::Truncated(HEADER))
    );
    // A 40 ms Opus frame (TOC code 3 of two 20 ms CELT frames) is refused:
    // the stream is 20 ms frames.
    let (_, packets) = talk(150.0, 1);
    let good = VoicePacket::parse(&packets[0]).unwrap();
    let mut two = vec![good.opus[0] | 0b01, 0];
    two.extend_from_slice(&good.opus[1..]);
    let long = VoicePacket { opus: &two, ..good };
    assert!(matches!(
        rx.push(&long.to_bytes(), 0.0),
        Err(VoiceError::Malformed(_))
    ));
    let mut rng = rand_pcg(3);
    let mut refused = 0;
    for _ in 0..2000 {
        let n = rng.random_range(0..200);
        let mut b: Vec<u8> = (0..n).map(|_| rng.random()).collect();
        if n > 0 && rng.random::<bool>() {
            b[0] = 1;
        }
        refused += usize::from(rx.push(&b, 0.0).is_err());
        let mut f = vec![0.0; FRAME];
        rx.pull(&mut f);
        assert!(f.iter().all(|x| x.is_finite() && x.abs() <= 4.0));
    }
    // Refused on arrival, or (when the bytes happen to look like a 20 ms
    // Opus frame) refused by the decoder: counted either way. Garbage
    // never arrives from the network: it would fail to open (e2ee).
    assert!(rx.stats().malformed as usize >= refused + 4);
}

#[test]
fn voices_come_from_where_the_speakers_stand() {
    let (_, packets) = talk(150.0, 30);
    let mut mixer = Mixer::default();
    let listener = Head::default();
    // Speaker 1 a metre to the right; speaker 2 (silent) nowhere yet.
    for (i, p) in packets.iter().enumerate() {
        mixer.push(1, p, i as f64 * 0.02).unwrap();
    }
    mixer.set_head(
        1,
        Head {
            position: listener.position + Vec3::X,
            orientation: Quat::IDENTITY,
        },
    );
    let mut left = Vec::new();
    let mut right = Vec::new();
    for _ in 0..30 {
        for lr in mixer.mix(&listener).chunks_exact(2) {
            left.push(lr[0]);
            right.push(lr[1]);
        }
    }
    let energy = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>();
    let ild = 10.0 * (energy(&right) / energy(&left)).log10();
    // The left ear hears the right ear's signal ~31 samples later.
    let (c, itd) = correlation(&right, &left, 64);
    eprintln!("ILD {ild:.1} dB, ITD {itd} samples ({c:.2})");
    assert!((4.0..12.0).contains(&ild), "ILD {ild} dB");
    // Woodworth gives 31.5 samples; the far ear's low-pass (the head
    // shadow) adds a few samples of group delay.
    assert!((30..=38).contains(&itd), "ITD {itd} samples");
    // Twice as far, straight ahead: both ears equal, half the level.
    let mut near = Mixer::default();
    let mut far = Mixer::default();
    for (i, p) in packets.iter().enumerate() {
        near.push(1, p, i as f64 * 0.02).unwrap();
        far.push(1, p, i as f64 * 0.02).unwrap();
    }
    let ahead = |d: f32| Head {
        position: listener.position - d * Vec3::Z,
        orientation: Quat::IDENTITY,
    };
    near.set_head(1, ahead(1.0));
    far.set_head(1, ahead(2.0));
    let (mut en, mut ef) = (0.0, 0.0);
    for _ in 0..30 {
        let a = near.mix(&listener);
        let b = far.mix(&listener);
        assert!(a.chunks_exact(2).all(|lr| (lr[0] - lr[1]).abs() < 1e-6));
        en += energy(&a);
        ef += energy(&b);
    }
    let ratio = (ef / en).sqrt();
    assert!((ratio - 0.5).abs() < 0.02, "amplitude at 2 m / 1 m {ratio}");
    assert_eq!(SAMPLE_RATE, 48_000);
}

/// Packet `i` arrives `delay(i)` ms after it was sent (every 20 ms); the
/// receiver plays at 5 ms past every 20 ms. Returns, per tick, how many
/// frames behind the sender playout is (None while not playing).
fn schedule(
    rx: &mut VoiceReceiver,
    packets: &[Vec<u8>],
    delay: impl Fn(usize) -> u64,
) -> Vec<Option<i64>> {
    let mut events: Vec<(u64, Option<usize>)> = (0..packets.len())
        .map(|i| (i as u64 * 20 + delay(i), Some(i)))
        .chain((0..packets.len()).map(|k| (k as u64 * 20 + 5, None)))
        .collect();
    events.sort();
    let mut f = vec![0.0; FRAME];
    let mut behind = Vec::new();
    for (t, e) in events {
        match e {
            Some(i) => rx.push(&packets[i], t as f64 / 1000.0).unwrap(),
            None => {
                let tick = (t / 20) as i64;
                behind.push(rx.next_sequence().map(|s| tick - s as i64));
                rx.pull(&mut f);
            }
        }
    }
    behind
}

#[test]
fn the_buffer_deepens_on_an_underrun_and_sheds_the_frames_when_calm() {
    let (_, packets) = talk(130.0, 700);
    // The path gets 25 ms slower at frame 50 and fast again at 100.
    let mut rx = VoiceReceiver::new(1).unwrap();
    let behind = schedule(&mut rx, &packets, |i| {
        if (50..100).contains(&i) {
            26
        } else {
            1
        }
    });
    let s = rx.stats();
    let at = |k: usize| behind[k].unwrap();
    // Before: the frame sent 1 ms before a tick plays at that tick.
    assert_eq!(at(40), 0);
    // 26 ms late, a frame can only play two ticks after it was sent: the
    // buffer ran dry (one underrun, two concealed frames) and plays two
    // frames behind from then on.
    assert_eq!(s.underruns, 1, "{s:?}");
    assert_eq!(s.concealed, 2, "{s:?}");
    assert_eq!(at(80), 2);
    // Fast again, the two frames are not needed: one is shed after 5 s
    // of calm, the other 5 s later.
    assert_eq!(at(120), 2);
    assert_eq!(at(360), 1);
    assert_eq!(at(650), 0);
    assert_eq!((s.dropped, s.late), (2, 0), "{s:?}");
    assert_eq!(s.decoded, 698, "{s:?}");
}

#[test]
fn a_late_spike_is_rebuilt_from_fec() {
    let (_, packets) = talk(130.0, 120);
    let mut rx = VoiceReceiver::new(1).unwrap();
    // Frame 50 alone is 30 ms late: it misses its tick, frame 51's FEC
    // stands in, and it is counted late when it comes.
    schedule(&mut rx, &packets, |i| if i == 50 { 30 } else { 1 });
    let s = rx.stats();
    assert_eq!((s.underruns, s.recovered, s.late), (1, 1, 1), "{s:?}");
}

#[test]
fn pauses_are_not_sent_and_play_as_silence() {
    let mut talker = Talker::new(150.0);
    let (mut dtx, mut all) = (
        VoiceEncoder::new().unwrap(),
        VoiceEncoder::continuous().unwrap(),
    );
    let mut pcm = Vec::new();
    let mut sent = Vec::new();
    let (mut bytes_dtx, mut bytes_all) = (0, 0);
    for _ in 0..200 {
        let f = talker.frame();
        bytes_all += all.encode(&f).unwrap().unwrap().len();
        if let Some(p) = dtx.encode(&f).unwrap() {
            bytes_dtx += p.len();
            sent.push(p);
        }
        pcm.extend_from_slice(&f);
    }
    // A quarter of the talker's syllables are pauses: after their first
    // frames (the voice's tail, the hangover) they are not sent.
    eprintln!(
        "{} of 200 frames sent; {bytes_dtx} bytes against {bytes_all}",
        sent.len()
    );
    assert!(
        (120..=175).contains(&sent.len()),
        "{} of 200 frames sent",
        sent.len()
    );
    // Quiet frames are small anyway; what goes is their datagrams.
    assert!(bytes_dtx < bytes_all);
    // The receiver plays in real time, one frame per 20 ms, each packet
    // arriving at its own time: gaps are concealed, then silent.
    let mut rx = VoiceReceiver::new(1).unwrap();
    let mut out = Vec::new();
    let mut f = vec![0.0; FRAME];
    let mut next = 0;
    for tick in 0..200u32 {
        while next < sent.len() && VoicePacket::parse(&sent[next]).unwrap().sequence <= tick {
            rx.push(&sent[next], f64::from(tick) * 0.02).unwrap();
            next += 1;
        }
        rx.pull(&mut f);
        out.extend_from_slice(&f);
    }
    let (c, _) = correlation(&pcm, &out, 2000);
    let s = rx.stats();
    eprintln!("correlation {c:.3}, {s:?}");
    assert!(c > 0.85, "correlation {c}");
    assert_eq!(s.received as usize, sent.len());
}
