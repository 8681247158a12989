//! The converted models, run by candle, give the TFLite runtime's outputs
//! (`ai-edge-litert`, recorded by `tools/reference.py` on three fixed
//! images: noise, gradients, a hand-like silhouette) within a stated
//! tolerance. Needs `scripts/fetch-hand-models.sh` to have run; the test
//! script runs it first.

use candle_core::{Device, Tensor};
use parallax_hand_tracking::{models_dir, Graph, MODELS};

/// Largest absolute difference allowed, relative to the output's range
/// (max |reference|, at least 1): FP32 in a different summation order
/// (measured: at most 6e-6).
const TOLERANCE: f32 = 5e-5;

#[test]
fn every_model_matches_the_tflite_runtime() {
    let dir = models_dir();
    let device = Device::Cpu;
    for name in MODELS {
        let reference = dir.join(format!("{name}.reference.safetensors"));
        assert!(
            reference.exists(),
            "{} missing: run ./scripts/fetch-hand-models.sh",
            reference.display()
        );
        let r = candle_core::safetensors::load(&reference, &device).unwrap();
        let graph = Graph::load(&dir, name, &device).unwrap();
        let inputs = &r["input"];
        let n = inputs.dim(0).unwrap();
        for i in 0..n {
            let x = inputs.get(i).unwrap().unsqueeze(0).unwrap();
            let outs = graph.run(&x).unwrap();
            for (k, out) in outs.iter().enumerate() {
                let want: Tensor = r[&format!("output{k}")].get(i).unwrap();
                let got = out.squeeze(0).unwrap();
                assert_eq!(got.dims(), want.dims(), "{name} output {k}");
                let got = got.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                let want = want.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                let range = want.iter().fold(1f32, |m, v| m.max(v.abs()));
                let worst = got
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                println!("{name} input {i} output {k}: max |diff| {worst:.2e} (range {range:.1})");
                assert!(
                    worst <= TOLERANCE * range,
                    "{name} input {i} output {k}: max |diff| {worst} > {} ",
                    TOLERANCE * range
                );
            }
        }
    }
}

#[test]
fn a_wrong_input_shape_is_an_error_not_a_panic() {
    let dir = models_dir();
    if !dir.join("hand_landmark_lite.json").exists() {
        panic!(
            "{} missing: run ./scripts/fetch-hand-models.sh",
            dir.display()
        );
    }
    let g = Graph::load(&dir, "hand_landmark_lite", &Device::Cpu).unwrap();
    let x = Tensor::zeros((1, 100, 100, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
    let err = g.run(&x).unwrap_err().to_string();
    assert!(err.contains("224"), "{err}");
    assert!(Graph::load(&dir, "no_such_model", &Device::Cpu).is_err());
}

#[test]
fn a_blank_image_has_no_hands_and_odd_sizes_work() {
    use parallax_hand_tracking::{landmark::Image, HandLandmarker, Variant};
    let dir = models_dir();
    let mut h = HandLandmarker::load(&dir, Variant::Lite, &Device::Cpu)
        .expect("run ./scripts/fetch-hand-models.sh");
    for (w, hgt) in [(640, 480), (333, 517), (1, 1)] {
        let rgb = vec![0.5f32; w * hgt * 3];
        let img = Image::rgb(w, hgt, &rgb).unwrap();
        let hands = h.process(&img).unwrap();
        assert!(
            hands.is_empty(),
            "{w}x{hgt}: {} hands in a grey image",
            hands.len()
        );
    }
}
