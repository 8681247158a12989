//! `XrSpace`: reference spaces (VIEW, LOCAL, STAGE, LOCAL_FLOOR) and action
//! spaces, located against each other at any time, and the per-eye views.

use crate::error::{Error, Result};
use crate::handles::{self, Kind, Raw};
use crate::paths::PathId;
use crate::session::Session;
use glam::Vec3;
use openxr_sys as xr;
use parallax_sdk::types::{Fov, Pose, Time, Velocity};
use std::sync::Arc;

/// What a space is attached to.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum SpaceKind {
    Reference(xr::ReferenceSpaceType),
    Action { action: Raw, subaction: PathId },
}

/// An `XrSpace`.
pub struct Space {
    pub session: Arc<Session>,
    pub kind: SpaceKind,
    /// `origin_from_space`: the pose offset given at creation.
    pub offset: Pose,
}

/// Where one space is relative to another.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct Location {
    pub pose: Pose,
    pub velocity: Velocity,
    pub flags: xr::SpaceLocationFlags,
    pub velocity_flags: xr::SpaceVelocityFlags,
}

/// A pose in the stage with what is known about it.
#[derive(Copy, Clone, Debug)]
pub(crate) struct StagePose {
    pub pose: Pose,
    pub velocity: Velocity,
    pub tracked: bool,
}

/// Checks that a pose is finite with a unit quaternion (`XR_ERROR_POSE_INVALID`).
pub fn check_pose(p: &Pose) -> Result<()> {
    if !p.is_finite() || (p.orientation.length_squared() - 1.0).abs() > 0.01 {
        return Err(Error::pose_invalid(format!(
            "pose {p:?} is not finite with a unit quaternion"
        )));
    }
    Ok(())
}

/// Reference spaces offered to this session's instance.
pub fn reference_space_types(session: &Session) -> Vec<xr::ReferenceSpaceType> {
    let mut v = vec![
        xr::ReferenceSpaceType::VIEW,
        xr::ReferenceSpaceType::LOCAL,
        xr::ReferenceSpaceType::STAGE,
    ];
    if session.instance.is_1_1() || session.instance.has_extension("XR_EXT_local_floor") {
        v.push(xr::ReferenceSpaceType::LOCAL_FLOOR);
    }
    v
}

/// `xrCreateReferenceSpace`.
pub fn create_reference(
    session: &Arc<Session>,
    ty: xr::ReferenceSpaceType,
    offset: Pose,
) -> Result<Raw> {
    if !reference_space_types(session).contains(&ty) {
        return Err(Error::reference_space_unsupported(format!(
            "{ty:?} is not offered"
        )));
    }
    check_pose(&offset)?;
    let space = Arc::new(Space {
        session: session.clone(),
        kind: SpaceKind::Reference(ty),
        offset: Pose::new(offset.orientation.normalize(), offset.position),
    });
    Ok(handles::insert(Kind::Space, session.handle(), space))
}

/// `xrCreateActionSpace` (the action is checked by the caller).
pub fn create_action_space(
    session: &Arc<Session>,
    action: Raw,
    subaction: PathId,
    offset: Pose,
) -> Result<Raw> {
    check_pose(&offset)?;
    let space = Arc::new(Space {
        session: session.clone(),
        kind: SpaceKind::Action { action, subaction },
        offset: Pose::new(offset.orientation.normalize(), offset.position),
    });
    Ok(handles::insert(Kind::Space, session.handle(), space))
}

/// `xrGetReferenceSpaceBoundsRect`: `Ok(None)` is `XR_SPACE_BOUNDS_UNAVAILABLE`.
pub fn bounds(session: &Session, ty: xr::ReferenceSpaceType) -> Result<Option<(f32, f32)>> {
    if !reference_space_types(session).contains(&ty) {
        return Err(Error::reference_space_unsupported(format!(
            "{ty:?} is not offered"
        )));
    }
    Ok(match ty {
        xr::ReferenceSpaceType::STAGE => session.hub.play_area().map(|a| (a.width, a.depth)),
        _ => None,
    })
}

impl Session {
    /// `stage_from_local_floor`: LOCAL's x/z and yaw, at the floor.
    pub fn stage_from_local_floor(&self) -> Pose {
        Pose::new(
            self.stage_from_local.orientation,
            Vec3::new(
                self.stage_from_local.position.x,
                0.0,
                self.stage_from_local.position.z,
            ),
        )
    }

    /// The head in the stage at `t`.
    pub(crate) fn head_in_stage(&self, t: Time) -> Option<StagePose> {
        self.hub.head(t).map(|p| StagePose {
            pose: p.pose,
            velocity: p.velocity,
            tracked: p.position_tracked && p.orientation_tracked,
        })
    }
}

impl Space {
    /// `stage_from_space` at `t` (identity when it cannot be located).
    pub fn stage_pose(&self, t: Time) -> Pose {
        self.in_stage(t).map(|p| p.pose).unwrap_or_default()
    }

    /// `stage_from_space` at `t`, or `None` when it cannot be located.
    pub(crate) fn in_stage(&self, t: Time) -> Option<StagePose> {
        let origin = match self.kind {
            SpaceKind::Reference(xr::ReferenceSpaceType::VIEW) => self.session.head_in_stage(t)?,
            SpaceKind::Reference(xr::ReferenceSpaceType::LOCAL) => {
                fixed(self.session.stage_from_local)
            }
            SpaceKind::Reference(xr::ReferenceSpaceType::LOCAL_FLOOR) => {
                fixed(self.session.stage_from_local_floor())
            }
            SpaceKind::Reference(_) => fixed(Pose::IDENTITY),
            SpaceKind::Action { action, subaction } => {
                self.session.action_pose_in_stage(action, subaction, t)?
            }
        };
        Some(compose(&origin, &self.offset))
    }
}

fn fixed(pose: Pose) -> StagePose {
    StagePose {
        pose,
        velocity: Velocity::default(),
        tracked: true,
    }
}

/// `stage_from_b` for `stage_from_a` moving and `a_from_b` rigidly attached.
fn compose(a: &StagePose, a_from_b: &Pose) -> StagePose {
    let pose = a.pose.mul(a_from_b);
    let lever = pose.position - a.pose.position;
    StagePose {
        pose,
        velocity: Velocity {
            linear: a.velocity.linear + a.velocity.angular.cross(lever),
            angular: a.velocity.angular,
        },
        tracked: a.tracked,
    }
}

/// Locates `b` in `a` (`a_from_b`) from both in the stage, velocities in `a`.
pub(crate) fn relate(a: &StagePose, b: &StagePose) -> Location {
    let a_inv = a.pose.inverse();
    let pose = a_inv.mul(&b.pose);
    let lever = b.pose.position - a.pose.position;
    let linear = a_inv.orientation
        * (b.velocity.linear - a.velocity.linear - a.velocity.angular.cross(lever));
    let angular = a_inv.orientation * (b.velocity.angular - a.velocity.angular);
    let mut flags =
        xr::SpaceLocationFlags::ORIENTATION_VALID | xr::SpaceLocationFlags::POSITION_VALID;
    if a.tracked && b.tracked {
        flags |=
            xr::SpaceLocationFlags::ORIENTATION_TRACKED | xr::SpaceLocationFlags::POSITION_TRACKED;
    }
    Location {
        pose,
        velocity: Velocity { linear, angular },
        flags,
        velocity_flags: xr::SpaceVelocityFlags::LINEAR_VALID
            | xr::SpaceVelocityFlags::ANGULAR_VALID,
    }
}

/// `xrLocateSpace`: `space` in `base` at `t`.
pub fn locate(space: &Space, base: &Space, t: Time) -> Result<Location> {
    if t.0 <= 0 {
        return Err(Error::time_invalid(format!(
            "time {} is not a valid XrTime",
            t.0
        )));
    }
    if !Arc::ptr_eq(&space.session, &base.session) {
        return Err(Error::validation(
            "space and baseSpace belong to different sessions",
        ));
    }
    match (base.in_stage(t), space.in_stage(t)) {
        (Some(a), Some(b)) => Ok(relate(&a, &b)),
        _ => Ok(Location::default()),
    }
}

/// One located eye.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct View {
    pub pose: Pose,
    pub fov: Fov,
}

/// `xrLocateViews`: both eyes in `base` at `t`, with the view state flags.
pub fn locate_views(
    session: &Session,
    view_configuration: xr::ViewConfigurationType,
    base: &Space,
    t: Time,
) -> Result<(xr::ViewStateFlags, [View; 2])> {
    session
        .instance
        .check_view_configuration(view_configuration)?;
    if t.0 <= 0 {
        return Err(Error::time_invalid(format!(
            "displayTime {} is not a valid XrTime",
            t.0
        )));
    }
    if !std::ptr::eq(&*base.session, session) {
        return Err(Error::validation("space belongs to another session"));
    }
    let eyes = &session.hub.display().eyes;
    let unknown = [
        View {
            pose: Pose::IDENTITY,
            fov: eyes[0].fov,
        },
        View {
            pose: Pose::IDENTITY,
            fov: eyes[1].fov,
        },
    ];
    let (Some(head), Some(b)) = (session.head_in_stage(t), base.in_stage(t)) else {
        return Ok((xr::ViewStateFlags::EMPTY, unknown));
    };
    let mut flags = xr::ViewStateFlags::ORIENTATION_VALID | xr::ViewStateFlags::POSITION_VALID;
    if head.tracked && b.tracked {
        flags |= xr::ViewStateFlags::ORIENTATION_TRACKED | xr::ViewStateFlags::POSITION_TRACKED;
    }
    let base_from_head = b.pose.inverse().mul(&head.pose);
    let views = [0, 1].map(|i| View {
        pose: base_from_head.mul(&eyes[i].head_from_eye),
        fov: eyes[i].fov,
    });
    Ok((flags, views))
}

/// `xrGetVisibilityMaskKHR`: the mask of one eye from the lens model.
pub fn visibility_mask(
    session: &Session,
    view_configuration: xr::ViewConfigurationType,
    view_index: u32,
    kind: xr::VisibilityMaskTypeKHR,
) -> Result<(Vec<glam::Vec2>, Vec<u32>)> {
    use parallax_compositor::lens::{visibility_mask, MaskKind};
    session
        .instance
        .check_view_configuration(view_configuration)?;
    if view_index >= 2 {
        return Err(Error::validation(format!(
            "viewIndex {view_index} >= 2 views"
        )));
    }
    let kind = match kind {
        xr::VisibilityMaskTypeKHR::HIDDEN_TRIANGLE_MESH => MaskKind::Hidden,
        xr::VisibilityMaskTypeKHR::VISIBLE_TRIANGLE_MESH => MaskKind::Visible,
        xr::VisibilityMaskTypeKHR::LINE_LOOP => MaskKind::LineLoop,
        other => {
            return Err(Error::validation(format!(
                "{other:?} is not a valid XrVisibilityMaskTypeKHR"
            )))
        }
    };
    let d = session.hub.display();
    Ok(visibility_mask(
        &d.eyes[view_index as usize].fov,
        &d.lens,
        kind,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use glam::Quat;

    #[test]
    fn relative_velocity_of_rotating_base() {
        // Base spins about Y at 1 rad/s; a static point 1 m in front of it
        // moves at 1 m/s sideways as seen from the base.
        let base = StagePose {
            pose: Pose::IDENTITY,
            velocity: Velocity {
                linear: Vec3::ZERO,
                angular: Vec3::Y,
            },
            tracked: true,
        };
        let point = fixed(Pose::from_position(Vec3::new(0.0, 0.0, -1.0)));
        let loc = relate(&base, &point);
        assert!(
            (loc.velocity.linear - Vec3::new(1.0, 0.0, 0.0)).length() < 1e-6,
            "{:?}",
            loc.velocity
        );
        assert!((loc.velocity.angular + Vec3::Y).length() < 1e-6);
    }

    #[test]
    fn pose_validity() {
        assert!(check_pose(&Pose::IDENTITY).is_ok());
        assert!(check_pose(&Pose::new(Quat::from_xyzw(0.0, 0.0, 0.0, 0.0), Vec3::ZERO)).is_err());
        assert!(check_pose(&Pose::new(Quat::IDENTITY, Vec3::new(f32::NAN, 0.0, 0.0))).is_err());
    }
}
