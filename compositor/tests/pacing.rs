//! The compositor never waits on an app: with no new frame it composes the
//! last one again at every refresh and counts the miss.

use glam::Vec3;
use parallax_compositor::vk::compositor::{TargetConfig, VkCompositor};
use parallax_compositor::vk::harness::Harness;
use parallax_compositor::{Compositor, Frame};
use parallax_sdk_types::{Duration, Fov, LensModel, Pose, Time};
use std::sync::Arc;

#[test]
fn late_app_frames_are_reused_and_counted() {
    let Some(h) = Harness::new().expect("Vulkan works") else {
        eprintln!("no Vulkan device: skipping");
        return;
    };
    let config = TargetConfig {
        eye_width: 64,
        eye_height: 64,
        fov: [Fov::from_degrees(-45.0, 45.0, 45.0, -45.0); 2],
        lens: LensModel::default(),
        eye_poses: Arc::new(|_| Some([Pose::from_position(Vec3::new(0.0, 1.6, 0.0)); 2])),
        capture: None,
        window: false,
        desktop: None,
        timing_log: None,
    };
    let period = Duration(11_111_111);
    let c = VkCompositor::new(h.app().clone(), period, config).unwrap();
    c.submit(Frame {
        display_time: Time::now() + period,
        layers: vec![],
        fence: None,
    })
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    let s = c.stats();
    // 700 ms at 90 Hz is 63 refreshes; a loaded 2-core machine may lose some.
    assert!(s.composed >= 30, "{s:?}");
    // Only the first refresh after the submission had a new frame.
    assert!(s.missed_frames + 1 >= s.composed - 1, "{s:?}");
    assert_eq!(s.frames_submitted, 1);
    // A new frame is taken at the next refresh.
    c.submit(Frame {
        display_time: Time::now() + period,
        layers: vec![],
        fence: None,
    })
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    let s2 = c.stats();
    assert!(s2.composed > s.composed);
    assert!(
        s2.missed_frames - s.missed_frames < s2.composed - s.composed,
        "the new frame was taken: {s2:?}"
    );
    drop(c);
}
