//! Calibrated cameras and triangulation: pixels to rays (undistorting the
//! Brown-Conrady lens model the SDK describes), points to pixels, and the
//! least-squares point closest to two or more rays.

use glam::{Vec2, Vec3};
use parallax_sdk_types::{CameraInfo, CameraIntrinsics, Pose};

/// A calibrated camera: intrinsics and where it sits on the headset. The
/// camera looks down its -Z axis with +Y up (as `CameraInfo` says); image y
/// grows downwards.
#[derive(Clone, Debug, PartialEq)]
pub struct Camera {
    pub intrinsics: CameraIntrinsics,
    pub head_from_camera: Pose,
    pub width: u32,
    pub height: u32,
}

impl From<&CameraInfo> for Camera {
    fn from(c: &CameraInfo) -> Self {
        Self {
            intrinsics: c.intrinsics,
            head_from_camera: c.head_from_camera,
            width: c.width,
            height: c.height,
        }
    }
}

impl Camera {
    /// Distorts normalised image coordinates (x right, y down, at z = 1).
    fn distort(&self, n: Vec2) -> Vec2 {
        let [k1, k2, p1, p2, k3] = self.intrinsics.distortion;
        let r2 = n.length_squared();
        let radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3));
        Vec2::new(
            n.x * radial + 2.0 * p1 * n.x * n.y + p2 * (r2 + 2.0 * n.x * n.x),
            n.y * radial + p1 * (r2 + 2.0 * n.y * n.y) + 2.0 * p2 * n.x * n.y,
        )
    }

    /// The pixel where a point given in the head's frame appears, or `None`
    /// behind the camera.
    pub fn project(&self, head_point: Vec3) -> Option<Vec2> {
        let c = self.head_from_camera.inverse().transform_point(head_point);
        if c.z >= -1e-4 {
            return None;
        }
        // Camera -Z forward, +Y up; image y down.
        let n = Vec2::new(c.x / -c.z, -c.y / -c.z);
        let d = self.distort(n);
        let k = &self.intrinsics;
        Some(Vec2::new(k.fx * d.x + k.cx, k.fy * d.y + k.cy))
    }

    /// The ray (origin, unit direction) in the head's frame through a pixel.
    /// The lens model is inverted by fixed-point iteration (converges for
    /// the mild distortion of tracking cameras).
    pub fn ray(&self, pixel: Vec2) -> (Vec3, Vec3) {
        let k = &self.intrinsics;
        let d = Vec2::new((pixel.x - k.cx) / k.fx, (pixel.y - k.cy) / k.fy);
        let mut n = d;
        for _ in 0..20 {
            let err = self.distort(n) - d;
            n -= err;
            if err.length_squared() < 1e-14 {
                break;
            }
        }
        let dir_cam = Vec3::new(n.x, -n.y, -1.0).normalize();
        (
            self.head_from_camera.position,
            self.head_from_camera.orientation * dir_cam,
        )
    }
}

/// The point nearest (least squares) to rays `(origin, unit direction)`,
/// or `None` when fewer than two rays or they are (nearly) parallel.
pub fn triangulate(rays: &[(Vec3, Vec3)]) -> Option<Vec3> {
    if rays.len() < 2 {
        return None;
    }
    // Sum over rays of (I - d dᵀ) p = (I - d dᵀ) o.
    let mut a = glam::Mat3::ZERO;
    let mut b = Vec3::ZERO;
    for (o, d) in rays {
        let m = glam::Mat3::IDENTITY - outer(*d, *d);
        a += m;
        b += m * *o;
    }
    if a.determinant().abs() < 1e-9 {
        return None;
    }
    Some(a.inverse() * b)
}

fn outer(a: Vec3, b: Vec3) -> glam::Mat3 {
    glam::Mat3::from_cols(a * b.x, a * b.y, a * b.z)
}

/// Triangulates one point seen at `pixels` by `cameras`; returns the point
/// and its largest reprojection error (pixels).
pub fn triangulate_pixels(cameras: &[&Camera], pixels: &[Vec2]) -> Option<(Vec3, f32)> {
    let rays: Vec<_> = cameras.iter().zip(pixels).map(|(c, p)| c.ray(*p)).collect();
    let p = triangulate(&rays)?;
    let mut worst = 0f32;
    for (c, px) in cameras.iter().zip(pixels) {
        worst = worst.max((c.project(p)? - *px).length());
    }
    Some((p, worst))
}

/// The rotation and translation that best map the first points of `pairs`
/// onto the second (Kabsch, least squares), or `None` when the first points
/// do not span a plane (too few, collinear, or all zero).
pub fn rigid_fit(pairs: &[(Vec3, Vec3)]) -> Option<(glam::Quat, Vec3)> {
    use nalgebra::{Matrix3, Vector3};
    if pairs.len() < 3 {
        return None;
    }
    let n = pairs.len() as f32;
    let ca = pairs.iter().map(|p| p.0).sum::<Vec3>() / n;
    let cb = pairs.iter().map(|p| p.1).sum::<Vec3>() / n;
    let v = |p: Vec3| Vector3::new(p.x, p.y, p.z);
    let mut cov = Matrix3::<f32>::zeros();
    for (a, b) in pairs {
        cov += v(*b - cb) * v(*a - ca).transpose();
    }
    let svd = cov.svd(true, true);
    // Rank below 2: no orientation to find.
    if svd.singular_values[1] < 1e-8 {
        return None;
    }
    let (u, vt) = (svd.u?, svd.v_t?);
    let mut d = Matrix3::<f32>::identity();
    if (u * vt).determinant() < 0.0 {
        d[(2, 2)] = -1.0;
    }
    let r = u * d * vt;
    let m = glam::Mat3::from_cols_array(&[
        r[(0, 0)],
        r[(1, 0)],
        r[(2, 0)],
        r[(0, 1)],
        r[(1, 1)],
        r[(2, 1)],
        r[(0, 2)],
        r[(1, 2)],
        r[(2, 2)],
    ]);
    let q = glam::Quat::from_mat3(&m).normalize();
    Some((q, cb - q * ca))
}

#[cfg(test)]
mod tests {
    use super::*;
    use parallax_driver_simulated::camera_infos;

    #[test]
    fn project_and_ray_are_inverse() {
        for info in camera_infos() {
            let cam = Camera::from(&info);
            for p in [
                Vec3::new(0.0, -0.1, -0.4),
                Vec3::new(0.15, 0.05, -0.3),
                Vec3::new(-0.2, -0.2, -0.5),
            ] {
                let px = cam.project(p).unwrap();
                let (o, d) = cam.ray(px);
                let closest = o + d * (p - o).dot(d);
                assert!((closest - p).length() < 1e-5, "{p} -> {px} -> {closest}");
            }
            assert!(cam.project(Vec3::new(0.0, 0.0, 0.5)).is_none());
        }
    }

    #[test]
    fn rigid_fit_finds_the_motion() {
        let q = glam::Quat::from_rotation_y(0.8) * glam::Quat::from_rotation_x(-0.4);
        let t = Vec3::new(0.1, -0.2, 0.3);
        let a: Vec<Vec3> = (0..7)
            .map(|i| Vec3::new((i as f32).sin(), (i as f32 * 0.7).cos(), i as f32 * 0.1) * 0.05)
            .collect();
        let pairs: Vec<(Vec3, Vec3)> = a.iter().map(|p| (*p, q * *p + t)).collect();
        let (r, s) = rigid_fit(&pairs).unwrap();
        assert!(r.angle_between(q) < 1e-3 && (s - t).length() < 1e-5);
        assert!(rigid_fit(&[(Vec3::ZERO, Vec3::X); 5]).is_none());
    }

    #[test]
    fn two_cameras_triangulate_to_sub_millimetre() {
        let cams: Vec<Camera> = camera_infos().iter().map(Camera::from).collect();
        let refs: Vec<&Camera> = cams.iter().collect();
        let p = Vec3::new(0.05, -0.12, -0.35);
        let px: Vec<Vec2> = cams.iter().map(|c| c.project(p).unwrap()).collect();
        let (q, err) = triangulate_pixels(&refs, &px).unwrap();
        assert!((q - p).length() < 1e-4 && err < 1e-2, "{q} {err}");
        // Half a pixel of disagreement moves it by about a millimetre at 35 cm.
        let noisy = [px[0] + Vec2::new(0.5, 0.0), px[1]];
        let (q, _) = triangulate_pixels(&refs, &noisy).unwrap();
        let e = (q - p).length();
        assert!(e > 1e-4 && e < 3e-3, "{e}");
        assert!(triangulate(&[(Vec3::ZERO, Vec3::Z)]).is_none());
        assert!(triangulate(&[(Vec3::ZERO, Vec3::Z), (Vec3::X, Vec3::Z)]).is_none());
    }
}
