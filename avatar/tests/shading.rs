//! What the renderer gets of a decoded face: normals pointing out of the
//! skin, the eyes turning with the gaze, the overlays left out.

use glam::Vec3;
use parallax_avatar::shading::FaceShading;
use parallax_avatar::FaceModel;

#[test]
fn normals_point_outward_and_the_iris_follows_the_gaze() {
    let model = FaceModel::ict_facekit();
    let mut shading = FaceShading::new(&model);
    let mut out = Vec::new();
    shading.shade(&model.neutral, None, &mut out);
    assert_eq!(out.len(), model.neutral.len());
    // The tip of the nose (the face's most forward vertex) faces forward.
    let face = model.part("face").unwrap();
    let tip = (face.vertices.start as usize..face.vertices.end as usize)
        .max_by(|&a, &b| model.neutral[a].z.total_cmp(&model.neutral[b].z))
        .unwrap();
    assert!(
        Vec3::from_array(out[tip].normal).z > 0.8,
        "{:?}",
        out[tip].normal
    );
    // The iris: the left eyeball's darkest vertices, straight ahead at rest.
    let eye = model.part("eyeball_left").unwrap();
    let range = eye.vertices.start as usize..eye.vertices.end as usize;
    let iris: Vec<usize> = range.clone().filter(|&v| out[v].color[0] < 100).collect();
    assert!(iris.len() > 10 && iris.len() < range.len() / 2);
    let centre = |o: &[parallax_avatar::shading::ShadedVertex]| {
        iris.iter()
            .map(|&v| Vec3::from_array(o[v].position))
            .sum::<Vec3>()
            / iris.len() as f32
    };
    let ahead = centre(&out);
    // Looking to the model's +X (the participant's left) by 0.4 rad.
    let look = Vec3::new(0.4f32.sin(), 0.0, 0.4f32.cos());
    shading.shade(&model.neutral, Some([look, look]), &mut out);
    let turned = centre(&out);
    assert!(turned.x > ahead.x + 0.003, "{ahead} -> {turned}");
    assert!((turned.y - ahead.y).abs() < 1e-3);
    // Only the eyeballs moved.
    assert_eq!(out[tip].position, model.neutral[tip].to_array());
    // The semi-transparent overlays are not drawn.
    let occlusion = model.part("eye_occlusion_left").unwrap();
    assert!(shading.lods[0]
        .iter()
        .flatten()
        .all(|&i| !occlusion.vertices.contains(&i)));
    assert_eq!(shading.lods.len(), 1 + model.lods.len());
    assert!(
        shading.lods[2].len() < shading.lods[1].len()
            && shading.lods[1].len() < shading.lods[0].len()
    );
}
