//! Lens geometry shared by the distortion mesh and the visibility mask:
//! which directions of an eye's view reach the user through the lens.
//!
//! The panel spans the eye's tangent rectangle; the green channel is
//! normalised to reach the nearer horizontal edge (see
//! [`crate::vk::compositor::distortion_mesh`]); the lens's circular aperture
//! cuts what lies beyond its radius. All of it is radial, so the visible
//! region is star-shaped around the optical axis and its boundary in a
//! direction is the nearest of the three limits.

use glam::Vec2;
use parallax_sdk_types::{Fov, LensModel};

/// Radial distortion factor of one channel's coefficients at radius `r`.
pub fn factor(k: &[f32; 3], r: f32) -> f32 {
    let r2 = r * r;
    1.0 + k[0] * r2 + k[1] * r2 * r2 + k[2] * r2 * r2 * r2
}

/// The eye's tangent rectangle: left, right, up, down.
pub fn tans(f: &Fov) -> [f32; 4] {
    [f.left.tan(), f.right.tan(), f.up.tan(), f.down.tan()]
}

/// The green channel's normalisation: the factor at the nearer horizontal edge.
pub fn norm(fov: &Fov, lens: &LensModel) -> f32 {
    let t = tans(fov);
    factor(&lens.green, t[0].abs().min(t[1].abs()))
}

/// Distance from the axis to the rectangle's edge in direction `d` (unit).
fn rect_radius(t: &[f32; 4], d: Vec2) -> f32 {
    let rx = if d.x > 1e-9 {
        t[1] / d.x
    } else if d.x < -1e-9 {
        t[0] / d.x
    } else {
        f32::INFINITY
    };
    let ry = if d.y > 1e-9 {
        t[2] / d.y
    } else if d.y < -1e-9 {
        t[3] / d.y
    } else {
        f32::INFINITY
    };
    rx.min(ry)
}

/// Boundary of the visible region, counter-clockwise, in tangent
/// coordinates (view space at z = -1): `samples` even directions plus the
/// rectangle's corners, each paired with the rectangle point in the same
/// direction.
pub fn visible_boundary(fov: &Fov, lens: &LensModel, samples: u32) -> Vec<(Vec2, Vec2)> {
    let t = tans(fov);
    let n = norm(fov, lens);
    let mut angles: Vec<f32> = (0..samples)
        .map(|i| i as f32 / samples as f32 * std::f32::consts::TAU)
        .collect();
    for (x, y) in [(t[1], t[2]), (t[0], t[2]), (t[0], t[3]), (t[1], t[3])] {
        angles.push(y.atan2(x).rem_euclid(std::f32::consts::TAU));
    }
    angles.sort_by(|a, b| a.total_cmp(b));
    angles.dedup_by(|a, b| (*a - *b).abs() < 1e-6);
    angles
        .into_iter()
        .map(|a| {
            let d = Vec2::new(a.cos(), a.sin());
            let rp = rect_radius(&t, d);
            // The panel's rectangle edge in this direction shows the view at
            // rp * f(rp) / norm (radial), beyond which nothing is shown.
            let mut r = rp.min(rp * factor(&lens.green, rp) / n);
            if lens.aperture > 0.0 {
                r = r.min(lens.aperture);
            }
            (d * r, d * rp)
        })
        .collect()
}

/// What `xrGetVisibilityMaskKHR` asks for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MaskKind {
    Hidden,
    Visible,
    LineLoop,
}

/// Vertices (tangent coordinates) and indices of a visibility mask;
/// triangles are counter-clockwise seen from the eye.
pub fn visibility_mask(fov: &Fov, lens: &LensModel, kind: MaskKind) -> (Vec<Vec2>, Vec<u32>) {
    let b = visible_boundary(fov, lens, 64);
    let n = b.len() as u32;
    match kind {
        MaskKind::LineLoop => (b.iter().map(|p| p.0).collect(), (0..n).collect()),
        MaskKind::Visible => {
            let mut v = vec![Vec2::ZERO];
            v.extend(b.iter().map(|p| p.0));
            let idx = (0..n).flat_map(|i| [0, 1 + i, 1 + (i + 1) % n]).collect();
            (v, idx)
        }
        MaskKind::Hidden => {
            let mut v = Vec::new();
            let mut idx = Vec::new();
            for i in 0..n as usize {
                let j = (i + 1) % n as usize;
                let (bi, ri) = b[i];
                let (bj, rj) = b[j];
                if (ri - bi).length() < 1e-6 && (rj - bj).length() < 1e-6 {
                    continue;
                }
                let base = v.len() as u32;
                v.extend([bi, ri, rj, bj]);
                idx.extend([base, base + 1, base + 2, base, base + 2, base + 3]);
            }
            (v, idx)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(v: &[Vec2], idx: &[u32]) -> f32 {
        idx.chunks(3)
            .map(|t| {
                let (a, b, c) = (v[t[0] as usize], v[t[1] as usize], v[t[2] as usize]);
                0.5 * (b - a).perp_dot(c - a)
            })
            .sum()
    }

    #[test]
    fn hidden_and_visible_tile_the_view() {
        let fov = Fov::from_degrees(-54.0, 40.0, 44.0, -49.0);
        let lens = LensModel {
            red: [0.2, 0.2, 0.0],
            green: [0.22, 0.21, 0.0],
            blue: [0.23, 0.22, 0.0],
            aperture: 1.3,
        };
        let (vv, vi) = visibility_mask(&fov, &lens, MaskKind::Visible);
        let (hv, hi) = visibility_mask(&fov, &lens, MaskKind::Hidden);
        let t = tans(&fov);
        let rect = (t[1] - t[0]) * (t[2] - t[3]);
        let (av, ah) = (area(&vv, &vi), area(&hv, &hi));
        // Counter-clockwise triangles have positive area; together they
        // cover the rectangle (up to the polygonal approximation).
        assert!(av > 0.0 && ah > 0.0, "{av} {ah}");
        assert!(
            ((av + ah) - rect).abs() / rect < 0.01,
            "{av} + {ah} vs {rect}"
        );
        // The aperture hides the corners.
        assert!(ah / rect > 0.05);
        let (lv, li) = visibility_mask(&fov, &lens, MaskKind::LineLoop);
        assert_eq!(lv.len(), li.len());
        assert!(lv.iter().all(|p| p.length() <= 1.3 + 1e-4));
        // Without an aperture nothing is hidden with this normalisation.
        let open = LensModel {
            aperture: 0.0,
            ..lens
        };
        let (hv, hi) = visibility_mask(&fov, &open, MaskKind::Hidden);
        assert!(area(&hv, &hi) < 1e-4);
    }
}
