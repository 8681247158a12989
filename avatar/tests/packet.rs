//! The avatar packet: what survives quantisation, and what is refused.

use glam::{Quat, Vec3};
use parallax_avatar::packet::{is_newer, AvatarFrame, Gaze, PacketError, Pose};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 // [0, 1)
    }
    fn signed(&mut self) -> f32 {
        self.next() * 2.0 - 1.0
    }
    fn unit(&mut self) -> Vec3 {
        Vec3::new(self.signed(), self.signed(), self.signed()).normalize_or(Vec3::Z)
    }
    fn pose(&mut self) -> Pose {
        Pose {
            position: Vec3::new(self.signed(), self.signed(), self.signed()) * 5.0,
            orientation: Quat::from_axis_angle(self.unit(), self.signed() * 3.1),
        }
    }
}

fn frame(rng: &mut Rng, n: usize, hands: bool, gaze: bool) -> AvatarFrame {
    let head = rng.pose();
    let hand = |rng: &mut Rng| {
        let mut p = rng.pose();
        // Within reach: up to 2 m from the head on each axis.
        p.position = head.position + (p.position / 5.0) * 2.0;
        p
    };
    AvatarFrame {
        sequence: (rng.next() * 65535.0) as u16,
        timestamp: (rng.next() * 16_777_215.0) as u32,
        code: (0..n).map(|_| rng.signed()).collect(),
        head,
        hands: if hands {
            [Some(hand(rng)), Some(hand(rng))]
        } else {
            [None, None]
        },
        gaze: gaze.then(|| {
            [0, 1].map(|_| Gaze {
                direction: rng.unit(),
                confidence: rng.next(),
            })
        }),
    }
}

fn close_pose(a: &Pose, b: &Pose, degrees: f32) {
    assert!(
        (a.position - b.position).abs().max_element() <= 0.0005 + 2e-6,
        "{a:?} {b:?}"
    );
    // 2 asin |xyz| of the difference (acos of a dot product near 1 loses
    // the precision in f32).
    let d = a.orientation.inverse() * b.orientation;
    let angle = (2.0 * d.xyz().length().min(1.0).asin()).to_degrees();
    assert!(angle < degrees, "orientation off by {angle}°");
}

#[test]
fn frames_survive_the_wire_within_the_quantisation() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for k in 0..500 {
        let f = frame(&mut rng, 1 + k % 64, k % 2 == 0, k % 3 != 0);
        let bytes = f.encode().unwrap();
        assert_eq!(bytes.len(), f.encoded_len());
        let g = AvatarFrame::decode(&bytes).unwrap();
        assert_eq!((g.sequence, g.timestamp), (f.sequence, f.timestamp));
        assert_eq!(g.code.len(), f.code.len());
        for (a, b) in f.code.iter().zip(&g.code) {
            assert!((a - b).abs() <= 0.5 / 127.0 + 1e-6, "{a} -> {b}");
        }
        close_pose(&f.head, &g.head, 0.01);
        for (a, b) in f.hands.iter().zip(&g.hands) {
            assert_eq!(a.is_some(), b.is_some());
            if let (Some(a), Some(b)) = (a, b) {
                close_pose(a, b, 0.2);
            }
        }
        assert_eq!(f.gaze.is_some(), g.gaze.is_some());
        if let (Some(a), Some(b)) = (f.gaze, g.gaze) {
            for (a, b) in a.iter().zip(&b) {
                let (u, v) = (a.direction, b.direction);
                let angle = u.cross(v).length().atan2(u.dot(v)).to_degrees();
                assert!(angle < 0.3, "gaze off by {angle}°");
                assert!((a.confidence - b.confidence).abs() <= 0.5 / 15.0 + 1e-6);
            }
        }
    }
}

#[test]
fn bitrate_of_the_shipped_code() {
    let n = parallax_avatar::Codec::shipped().code_len();
    assert_eq!(n, 16);
    let mut rng = Rng(7);
    let face = frame(&mut rng, n, false, true);
    let body = frame(&mut rng, n, true, true);
    let kbits = |f: &AvatarFrame| f.encoded_len() as f64 * 8.0 * 30.0 / 1000.0;
    for f in [&face, &body] {
        assert_eq!(f.encode().unwrap().len(), f.encoded_len());
    }
    assert_eq!((face.encoded_len(), body.encoded_len()), (48, 66));
    println!(
        "at 30 Hz: head + gaze {:.1} kbit/s, with hands {:.1} kbit/s",
        kbits(&face),
        kbits(&body)
    );
}

#[test]
fn damaged_truncated_and_future_packets_are_refused() {
    let mut rng = Rng(42);
    let f = frame(&mut rng, 24, true, true);
    let bytes = f.encode().unwrap();
    assert_eq!(AvatarFrame::decode(b""), Err(PacketError::Magic));
    assert_eq!(AvatarFrame::decode(b"X\x02"), Err(PacketError::Magic));
    let mut future = bytes.clone();
    future[1] = 3;
    assert_eq!(AvatarFrame::decode(&future), Err(PacketError::Version(3)));
    future[1] = 1;
    assert_eq!(AvatarFrame::decode(&future), Err(PacketError::Version(1)));
    // Every truncation and every single flipped bit is caught.
    for cut in 0..bytes.len() {
        assert!(AvatarFrame::decode(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        AvatarFrame::decode(&longer),
        Err(PacketError::Length { .. })
    ));
    for bit in 0..bytes.len() * 8 {
        let mut bad = bytes.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert!(AvatarFrame::decode(&bad).is_err(), "bit {bit}");
    }
    // Contents no encoder makes, with a right checksum: refused by reason.
    let reseal = |mut b: Vec<u8>| {
        b.truncate(b.len() - 4);
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    };
    let mut flags = bytes.clone();
    flags[2] |= 0x80;
    assert!(matches!(
        AvatarFrame::decode(&reseal(flags)),
        Err(PacketError::Invalid(_))
    ));
    let mut quat = bytes.clone();
    let head = 9 + 24;
    quat[head + 6] = 4; // a fifth component
    assert!(matches!(
        AvatarFrame::decode(&reseal(quat)),
        Err(PacketError::Invalid(_))
    ));
    let mut quat = bytes.clone();
    for k in 0..3 {
        quat[head + 7 + 2 * k..head + 9 + 2 * k].copy_from_slice(&32767i16.to_le_bytes());
    }
    assert!(matches!(
        AvatarFrame::decode(&reseal(quat)),
        Err(PacketError::Invalid(_))
    ));
    // A hand's four padding bits (the top of its ninth byte) are zero.
    let mut pad = bytes.clone();
    pad[head + 13 + 8] |= 0x80;
    assert!(matches!(
        AvatarFrame::decode(&reseal(pad)),
        Err(PacketError::Invalid(_))
    ));
    // What cannot be encoded is refused before it reaches the wire.
    let mut big = f.clone();
    big.code = vec![0.0; 65];
    assert!(big.encode().is_err());
    big.code.clear();
    assert!(big.encode().is_err());
    let mut far = f.clone();
    far.head.position.x = 40.0;
    assert!(far.encode().is_err());
    far.head.position.x = f32::NAN;
    assert!(far.encode().is_err());
    let mut reach = f.clone();
    reach.hands[0].as_mut().unwrap().position = f.head.position + Vec3::new(0.0, 2.1, 0.0);
    assert!(reach.encode().is_err());
    let mut nan = f.clone();
    nan.code[0] = f32::NAN;
    assert_eq!(
        AvatarFrame::decode(&nan.encode().unwrap()).unwrap().code[0],
        0.0
    );
}

#[test]
fn sequence_numbers_wrap() {
    assert!(is_newer(1, 0));
    assert!(is_newer(0, 65535));
    assert!(is_newer(10, 65530));
    assert!(!is_newer(5, 5));
    assert!(!is_newer(65530, 10));
    assert!(!is_newer(0, 1));
}
