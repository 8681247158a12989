//! The whole camera pipeline on a simulated sequence, as `parallax hands
//! eval` runs it: rendered images, the lite models, the tracker. A
//! regression guard with stated bounds (measured on the development machine:
//! detection 100 %, handedness 100 %, MPJPE 8.4 mm, PA-MPJPE 5.6 mm over 30
//! frames of `palm-wave`).

use parallax_hand_sim::eval::evaluate;
use parallax_hand_sim::sequences::SEQUENCES;
use parallax_hand_tracking::{models_dir, Variant};

#[test]
fn palm_wave_is_tracked_within_bounds() {
    let seq = SEQUENCES.iter().find(|s| s.name == "palm-wave").unwrap();
    let mut frames = 0;
    let report = evaluate(
        &models_dir(),
        Variant::Lite,
        std::slice::from_ref(seq),
        Some(15),
        |_, _| frames += 1,
    )
    .expect("rendering and the models (run scripts/fetch-hand-models.sh)");
    assert_eq!(frames, 15);
    eprintln!(
        "palm-wave, 15 frames: detection {:.0} %, handedness {:.0} %, MPJPE {:.1} mm, PA-MPJPE {:.1} mm, PCK@20mm {:.0} %",
        100.0 * report.detection_rate(),
        100.0 * report.handedness_accuracy(),
        1e3 * report.mpjpe(),
        1e3 * report.pa_mpjpe(),
        100.0 * report.pck(0.02)
    );
    assert!(report.detection_rate() >= 0.9);
    assert!(report.handedness_accuracy() >= 0.9);
    assert!(report.mpjpe() < 0.015, "MPJPE {}", report.mpjpe());
    assert!(report.pa_mpjpe() < 0.010, "PA-MPJPE {}", report.pa_mpjpe());
    assert!(report.pck(0.02) > 0.85);
    assert_eq!(report.snapshots.len(), 1);
}
