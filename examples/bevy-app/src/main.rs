//! A small interactive Bevy scene that runs on Parallax (or any OpenXR
//! runtime) unchanged: Bevy 0.17 with `bevy_mod_openxr`, physics by `rapier3d`.
//!
//! - Both controllers are pointers: a grip block in the hand and an aim ray
//!   that turns yellow when it points at something that can be picked up.
//! - Pull the trigger (or squeeze, or select on the simple controller) to pick
//!   up the nearest block within reach of the hand, or else the block the ray
//!   points at. Let go to drop or throw it: it leaves the hand with the hand's
//!   velocity and rapier takes over.
//! - The blocks fall onto a table at start and can be thrown onto the floor.
//!
//! Nothing here knows about Parallax; everything goes through OpenXR. In the
//! desktop simulator (`parallax run -- parallax-example-bevy` with a display),
//! walk to a block with W A S D and Q E (the hands come along), press 1 or 2
//! to choose a hand and hold Space to grab. `PARALLAX_SIM_KEYS` plays the
//! same keys from a script; the CI test does that.
//!
//! When the session ends the app prints one `bevy-app summary:` line (frames,
//! grabs, where each block is) that the CI test reads.

use bevy::prelude::*;
use bevy_mod_openxr::{
    action_binding::{OxrSendActionBindings, OxrSuggestActionBinding},
    action_set_attaching::OxrAttachActionSet,
    action_set_syncing::{OxrActionSetSyncSet, OxrSyncActionSet},
    add_xr_plugins, openxr_session_running,
    resources::OxrInstance,
    session::OxrSession,
};
use bevy_mod_xr::session::{session_available, XrSessionCreated, XrState, XrStateChanged};
use rapier3d::prelude as rp;

/// Height of the table top above the stage floor, metres.
const TABLE_TOP: f32 = 1.0;
/// Edge length of the blocks, metres.
const BLOCK: f32 = 0.08;
/// How far from the grip a block can be picked up directly, metres.
const REACH: f32 = 0.15;
/// Longest pointer ray, metres.
const RAY_LENGTH: f32 = 3.0;
/// Physics step, seconds.
const STEP: f32 = 1.0 / 90.0;
/// At most this many physics steps per rendered frame: a slow frame slows the
/// simulation down instead of letting it explode.
const MAX_STEPS_PER_FRAME: u32 = 4;

fn main() -> AppExit {
    let mut app = App::new();
    // bevy_mod_openxr 0.4 despawns its XR cameras twice when the session is
    // destroyed; Bevy's default handler turns that harmless command error
    // into a panic at exit. Log command errors instead.
    app.set_error_handler(bevy::ecs::error::warn);
    app.add_plugins(add_xr_plugins(DefaultPlugins))
        .insert_resource(Report::default())
        .add_systems(
            Startup,
            (setup_scene, create_actions.run_if(session_available)),
        )
        .add_systems(OxrSendActionBindings, suggest_bindings)
        .add_systems(XrSessionCreated, (attach_actions, spawn_pointers))
        .add_systems(
            PreUpdate,
            sync_actions
                .before(OxrActionSetSyncSet)
                .run_if(openxr_session_running),
        )
        .add_systems(
            Update,
            (
                read_hands.run_if(openxr_session_running),
                grab_and_release,
                step_physics,
                show_pointers,
            )
                .chain(),
        )
        .add_systems(
            Last,
            (
                exit_with_the_session,
                print_summary.run_if(on_message::<AppExit>),
            )
                .chain(),
        );
    app.run()
}

/// The actions: one set, each action on both hands (subaction paths).
#[derive(Resource)]
struct Actions {
    set: openxr::ActionSet,
    grab: openxr::Action<f32>,
    grip: openxr::Action<openxr::Posef>,
    aim: openxr::Action<openxr::Posef>,
    hands: [openxr::Path; 2],
}

fn create_actions(instance: Res<OxrInstance>, mut commands: Commands) {
    let hands = ["/user/hand/left", "/user/hand/right"].map(|p| {
        instance
            .string_to_path(p)
            .expect("the hand paths are valid OpenXR paths")
    });
    let set = instance
        .create_action_set("play", "Play", 0)
        .expect("create the action set");
    let grab = set
        .create_action::<f32>("grab", "Grab", &hands)
        .expect("create the grab action");
    let grip = set
        .create_action::<openxr::Posef>("grip_pose", "Grip pose", &hands)
        .expect("create the grip pose action");
    let aim = set
        .create_action::<openxr::Posef>("aim_pose", "Aim pose", &hands)
        .expect("create the aim pose action");
    commands.insert_resource(Actions {
        set,
        grab,
        grip,
        aim,
        hands,
    });
}

fn suggest_bindings(actions: Res<Actions>, mut out: MessageWriter<OxrSuggestActionBinding>) {
    // (profile, grab component): the poses are the same on every profile.
    let profiles = [
        (
            "/interaction_profiles/khr/simple_controller",
            "select/click",
        ),
        (
            "/interaction_profiles/oculus/touch_controller",
            "trigger/value",
        ),
        (
            "/interaction_profiles/valve/index_controller",
            "trigger/value",
        ),
    ];
    for (profile, grab) in profiles {
        let per_hand = |what: &str| -> Vec<std::borrow::Cow<'static, str>> {
            ["left", "right"]
                .iter()
                .map(|h| format!("/user/hand/{h}/input/{what}").into())
                .collect()
        };
        for (action, what) in [
            (actions.grab.as_raw(), grab),
            (actions.grip.as_raw(), "grip/pose"),
            (actions.aim.as_raw(), "aim/pose"),
        ] {
            out.write(OxrSuggestActionBinding {
                action,
                interaction_profile: profile.into(),
                bindings: per_hand(what),
            });
        }
    }
}

fn attach_actions(actions: Res<Actions>, mut out: MessageWriter<OxrAttachActionSet>) {
    out.write(OxrAttachActionSet(actions.set.clone()));
}

fn sync_actions(actions: Res<Actions>, mut out: MessageWriter<OxrSyncActionSet>) {
    out.write(OxrSyncActionSet(actions.set.clone()));
}

/// One controller: where it is and what it does.
#[derive(Component)]
struct Hand {
    index: usize,
}

/// The aim ray of a hand (child of the aim space entity).
#[derive(Component)]
struct Ray {
    index: usize,
}

/// What the app knows about each hand this frame.
#[derive(Resource, Default)]
struct HandState {
    grip: [Option<Transform>; 2],
    aim: [Option<Transform>; 2],
    /// Grip positions of the previous frames, for the throw velocity.
    previous: [Option<(Vec3, f32)>; 2],
    velocity: [Vec3; 2],
    grab: [f32; 2],
    /// The block each hand holds, with the block's pose in the grip's frame.
    held: [Option<(rp::RigidBodyHandle, Transform)>; 2],
    /// The block each aim ray points at.
    hover: [Option<rp::RigidBodyHandle>; 2],
}

#[derive(Component)]
struct Grip;

#[derive(Component)]
struct Aim;

fn spawn_pointers(
    actions: Res<Actions>,
    session: Res<OxrSession>,
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let body = meshes.add(Cuboid::new(0.04, 0.04, 0.12));
    let ray = meshes.add(Cuboid::new(0.004, 0.004, RAY_LENGTH));
    let dark = materials.add(Color::srgb(0.15, 0.15, 0.18));
    for (index, &hand) in actions.hands.iter().enumerate() {
        let Ok(grip) = session.create_action_space(&actions.grip, hand, Isometry3d::IDENTITY)
        else {
            warn!("cannot create the grip space of hand {index}");
            continue;
        };
        let Ok(aim) = session.create_action_space(&actions.aim, hand, Isometry3d::IDENTITY) else {
            warn!("cannot create the aim space of hand {index}");
            continue;
        };
        commands.spawn((
            grip,
            Grip,
            Hand { index },
            Mesh3d(body.clone()),
            MeshMaterial3d(dark.clone()),
        ));
        commands
            .spawn((aim, Aim, Hand { index }, Visibility::default()))
            .with_children(|aim| {
                // One material per ray: each turns yellow on its own.
                let colour = materials.add(StandardMaterial {
                    base_color: Color::srgb(0.3, 0.8, 1.0),
                    unlit: true,
                    ..default()
                });
                aim.spawn((
                    Ray { index },
                    Mesh3d(ray.clone()),
                    MeshMaterial3d(colour),
                    Transform::from_xyz(0.0, 0.0, -RAY_LENGTH / 2.0),
                ));
            });
    }
    commands.insert_resource(HandState::default());
}

/// Reads the grab values and the grip/aim transforms (which `bevy_mod_xr`
/// has already located at the predicted display time).
fn read_hands(
    actions: Res<Actions>,
    session: Res<OxrSession>,
    time: Res<Time>,
    state: Option<ResMut<HandState>>,
    grips: Query<(&Hand, &Transform), With<Grip>>,
    aims: Query<(&Hand, &Transform), With<Aim>>,
) {
    let Some(mut state) = state else { return };
    let now = time.elapsed_secs();
    for i in 0..2 {
        state.grab[i] = actions
            .grab
            .state(&session, actions.hands[i])
            .map(|s| if s.is_active { s.current_state } else { 0.0 })
            .unwrap_or(0.0);
        let active = |a: &openxr::Action<openxr::Posef>| {
            a.is_active(&session, actions.hands[i]).unwrap_or(false)
        };
        state.grip[i] = None;
        state.aim[i] = None;
        if active(&actions.grip) {
            state.grip[i] = grips.iter().find(|(h, _)| h.index == i).map(|(_, t)| *t);
        }
        if active(&actions.aim) {
            state.aim[i] = aims.iter().find(|(h, _)| h.index == i).map(|(_, t)| *t);
        }
        // Hand velocity from the last two frames, for throwing.
        if let Some(grip) = state.grip[i] {
            if let Some((p, t)) = state.previous[i] {
                let dt = now - t;
                if dt > 1e-4 {
                    state.velocity[i] = (grip.translation - p) / dt;
                }
            }
            state.previous[i] = Some((grip.translation, now));
        } else {
            state.previous[i] = None;
            state.velocity[i] = Vec3::ZERO;
        }
    }
}

/// The rapier world and which entity shows which body.
#[derive(Resource)]
struct Physics {
    world: rp::PhysicsWorld,
    blocks: Vec<(Entity, rp::RigidBodyHandle, &'static str)>,
    /// Simulated time not stepped yet.
    pending: f32,
}

#[derive(Component)]
struct Block {
    body: rp::RigidBodyHandle,
    material: Handle<StandardMaterial>,
    colour: Color,
}

// rapier uses glam 0.33 and Bevy glam 0.30: convert through arrays.
fn to_rapier(v: Vec3) -> rp::Vector {
    rp::Vector::from_array(v.to_array())
}
fn from_rapier(v: rp::Vector) -> Vec3 {
    Vec3::from_array(v.to_array())
}
fn quat_to_rapier(q: Quat) -> rp::Rotation {
    rp::Rotation::from_array(q.to_array())
}
fn quat_from_rapier(q: rp::Rotation) -> Quat {
    Quat::from_array(q.to_array())
}

fn setup_scene(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let mut world = rp::PhysicsWorld::default();
    world.integration_parameters.dt = STEP;

    // Floor: 8 m square, top at y = 0.
    world.insert(
        rp::RigidBodyBuilder::fixed().translation(rp::Vector::new(0.0, -0.05, 0.0)),
        rp::ColliderBuilder::cuboid(4.0, 0.05, 4.0),
    );
    commands.spawn((
        Mesh3d(meshes.add(Cuboid::new(8.0, 0.1, 8.0))),
        MeshMaterial3d(materials.add(Color::srgb(0.35, 0.38, 0.42))),
        Transform::from_xyz(0.0, -0.05, 0.0),
    ));

    // Table in front of the user, within reach of the hands.
    let table = Vec3::new(0.0, TABLE_TOP - 0.025, -0.45);
    world.insert(
        rp::RigidBodyBuilder::fixed().translation(to_rapier(table)),
        rp::ColliderBuilder::cuboid(0.5, 0.025, 0.25),
    );
    commands.spawn((
        Mesh3d(meshes.add(Cuboid::new(1.0, 0.05, 0.5))),
        MeshMaterial3d(materials.add(Color::srgb(0.55, 0.36, 0.2))),
        Transform::from_translation(table),
    ));
    let leg = meshes.add(Cuboid::new(0.05, TABLE_TOP - 0.05, 0.05));
    let wood = materials.add(Color::srgb(0.45, 0.28, 0.15));
    for (x, z) in [(-0.45, -0.25), (0.45, -0.25), (-0.45, 0.2), (0.45, 0.2)] {
        commands.spawn((
            Mesh3d(leg.clone()),
            MeshMaterial3d(wood.clone()),
            Transform::from_xyz(x, (TABLE_TOP - 0.05) / 2.0, -0.45 + z),
        ));
    }

    // Three small blocks dropped onto the table, in reach of the hands, and a
    // tower of crates further away, to pick with the ray or to knock over.
    let mut specs: Vec<(&'static str, Color, f32, Vec3, Quat)> = vec![
        (
            "red",
            Color::srgb(0.9, 0.15, 0.1),
            BLOCK,
            Vec3::new(-0.25, TABLE_TOP + 0.15, -0.45),
            Quat::from_rotation_x(0.4),
        ),
        (
            "green",
            Color::srgb(0.15, 0.8, 0.2),
            BLOCK,
            Vec3::new(0.0, TABLE_TOP + 0.25, -0.5),
            Quat::from_rotation_z(0.5),
        ),
        (
            "blue",
            Color::srgb(0.15, 0.35, 0.95),
            BLOCK,
            Vec3::new(0.15, TABLE_TOP + 0.35, -0.45),
            Quat::from_rotation_y(0.7),
        ),
    ];
    const CRATES: [&str; 4] = ["crate1", "crate2", "crate3", "crate4"];
    for (i, name) in CRATES.into_iter().enumerate() {
        let size = 0.25;
        let colour = if i % 2 == 0 {
            Color::srgb(0.95, 0.6, 0.1)
        } else {
            Color::srgb(0.95, 0.85, 0.2)
        };
        let at = Vec3::new(0.4, size * (i as f32 + 0.5), -1.8);
        specs.push((
            name,
            colour,
            size,
            at,
            Quat::from_rotation_y(0.3 * i as f32),
        ));
    }
    let mut blocks = Vec::new();
    for (name, colour, size, start, rotation) in specs {
        let body = world.insert_body(
            rp::RigidBodyBuilder::dynamic()
                .pose(rp::Pose::from_parts(
                    to_rapier(start),
                    quat_to_rapier(rotation),
                ))
                .ccd_enabled(true),
        );
        world.insert_collider(
            rp::ColliderBuilder::cuboid(size / 2.0, size / 2.0, size / 2.0)
                .density(500.0)
                .friction(0.8),
            Some(body),
        );
        let material = materials.add(colour);
        let entity = commands
            .spawn((
                Mesh3d(meshes.add(Cuboid::new(size, size, size))),
                MeshMaterial3d(material.clone()),
                Transform::from_translation(start).with_rotation(rotation),
                Block {
                    body,
                    material,
                    colour,
                },
            ))
            .id();
        blocks.push((entity, body, name));
    }
    commands.insert_resource(Physics {
        world,
        blocks,
        pending: 0.0,
    });

    commands.spawn((
        DirectionalLight {
            illuminance: 6000.0,
            ..default()
        },
        Transform::from_xyz(1.0, 3.0, 2.0).looking_at(Vec3::ZERO, Vec3::Y),
    ));
    commands.insert_resource(AmbientLight {
        color: Color::WHITE,
        brightness: 400.0,
        ..default()
    });
    commands.insert_resource(ClearColor(Color::srgb(0.55, 0.7, 0.9)));
}

fn is_block(physics: &Physics, body: rp::RigidBodyHandle) -> bool {
    physics.blocks.iter().any(|(_, b, _)| *b == body)
}

/// Pick up on a pressed grab, put down on release.
fn grab_and_release(
    state: Option<ResMut<HandState>>,
    mut physics: ResMut<Physics>,
    mut report: ResMut<Report>,
) {
    let Some(mut state) = state else { return };
    let state = &mut *state;
    for i in 0..2 {
        // Hover: the first block along the aim ray.
        state.hover[i] = state.aim[i].and_then(|aim| {
            let ray = rp::Ray::new(
                to_rapier(aim.translation),
                to_rapier(aim.rotation * Vec3::NEG_Z),
            );
            let (collider, _) = physics
                .world
                .query_pipeline()
                .cast_ray(&ray, RAY_LENGTH, true)?;
            let body = physics.world.colliders[collider].parent()?;
            is_block(&physics, body).then_some(body)
        });

        let pressed = state.grab[i] > 0.5;
        match (pressed, state.held[i], state.grip[i]) {
            (true, None, Some(grip)) => {
                // Nearest free block within reach, else the one the ray points at.
                let held_by_other = state.held[1 - i].map(|(b, _)| b);
                let near = physics
                    .blocks
                    .iter()
                    .map(|&(_, b, _)| b)
                    .filter(|&b| Some(b) != held_by_other)
                    .map(|b| {
                        let p = from_rapier(physics.world.bodies[b].translation());
                        (b, p.distance(grip.translation))
                    })
                    .filter(|&(_, d)| d < REACH)
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|(b, _)| b);
                let Some(body) = near.or(state.hover[i].filter(|&b| Some(b) != held_by_other))
                else {
                    continue;
                };
                let rb = &mut physics.world.bodies[body];
                let block = Transform::from_translation(from_rapier(rb.translation()))
                    .with_rotation(quat_from_rapier(*rb.rotation()));
                // Keep the block where it is relative to the hand: a ray grab
                // pulls it into the hand instead.
                let mut offset =
                    Transform::from_matrix(grip.to_matrix().inverse() * block.to_matrix());
                if near.is_none() {
                    offset.translation = Vec3::new(0.0, 0.0, -0.08);
                }
                rb.set_body_type(rp::RigidBodyType::KinematicPositionBased, true);
                state.held[i] = Some((body, offset));
                report.grabs += 1;
                info!("hand {i} picked up the {} block", name_of(&physics, body));
            }
            (false, Some((body, _)), _) | (_, Some((body, _)), None) => {
                let v = state.velocity[i];
                let rb = &mut physics.world.bodies[body];
                rb.set_body_type(rp::RigidBodyType::Dynamic, true);
                rb.set_linvel(to_rapier(v), true);
                state.held[i] = None;
                report.releases += 1;
                info!(
                    "hand {i} let go of the {} block at {:.2} m/s",
                    name_of(&physics, body),
                    v.length()
                );
            }
            _ => {}
        }
        // A held block follows the hand.
        if let (Some((body, offset)), Some(grip)) = (state.held[i], state.grip[i]) {
            let target = Transform::from_matrix(grip.to_matrix() * offset.to_matrix());
            physics.world.bodies[body].set_next_kinematic_position(rp::Pose::from_parts(
                to_rapier(target.translation),
                quat_to_rapier(target.rotation),
            ));
        }
    }
}

fn name_of(physics: &Physics, body: rp::RigidBodyHandle) -> &'static str {
    physics
        .blocks
        .iter()
        .find(|(_, b, _)| *b == body)
        .map_or("?", |(_, _, n)| n)
}

fn step_physics(
    time: Res<Time>,
    mut physics: ResMut<Physics>,
    mut blocks: Query<(&Block, &mut Transform)>,
    mut report: ResMut<Report>,
) {
    report.frames += 1;
    physics.pending = (physics.pending + time.delta_secs()).min(STEP * MAX_STEPS_PER_FRAME as f32);
    // Always at least one step per frame, so the scene moves even when frames
    // come slower than the cap (software rendering).
    let mut steps = 0;
    while steps == 0 || physics.pending >= STEP {
        physics.world.step();
        physics.pending = (physics.pending - STEP).max(0.0);
        steps += 1;
    }
    report.steps += steps;
    for (block, mut transform) in &mut blocks {
        let rb = &physics.world.bodies[block.body];
        transform.translation = from_rapier(rb.translation());
        transform.rotation = quat_from_rapier(*rb.rotation());
    }
    report.positions = physics
        .blocks
        .iter()
        .map(|&(_, b, name)| (name, from_rapier(physics.world.bodies[b].translation())))
        .collect();
}

/// Rays turn yellow over a block; a held block glows.
fn show_pointers(
    state: Option<Res<HandState>>,
    mut rays: Query<(&Ray, &mut Visibility)>,
    blocks: Query<&Block>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    ray_materials: Query<(&Ray, &MeshMaterial3d<StandardMaterial>)>,
) {
    let Some(state) = state else { return };
    for (ray, mut visibility) in &mut rays {
        let shown = state.aim[ray.index].is_some() && state.held[ray.index].is_none();
        *visibility = if shown {
            Visibility::Inherited
        } else {
            Visibility::Hidden
        };
    }
    for (ray, material) in &ray_materials {
        if let Some(m) = materials.get_mut(&material.0) {
            m.base_color = if state.hover[ray.index].is_some() {
                Color::srgb(1.0, 0.85, 0.1)
            } else {
                Color::srgb(0.3, 0.8, 1.0)
            };
        }
    }
    for block in &blocks {
        let held = state.held.iter().flatten().any(|(b, _)| *b == block.body);
        if let Some(m) = materials.get_mut(&block.material) {
            m.emissive = if held {
                block.colour.to_linear() * 2.0
            } else {
                LinearRgba::BLACK
            };
        }
    }
}

/// `bevy_mod_openxr` destroys the session when the runtime ends it (EXITING)
/// but leaves the app running: exit once the session is gone, as a runtime
/// (or the user in the headset's system menu) asked. A lost session
/// (`should_restart`) is not an exit: the plugin creates a new one.
fn exit_with_the_session(
    mut changes: MessageReader<XrStateChanged>,
    state: Option<Res<XrState>>,
    mut ending: Local<bool>,
    mut exit: MessageWriter<AppExit>,
) {
    for XrStateChanged(state) in changes.read() {
        if let XrState::Exiting {
            should_restart: false,
        } = state
        {
            *ending = true;
        }
    }
    // The plugin puts the state back to Available once it has destroyed the
    // session (it sends no change message for that).
    if *ending && state.is_some_and(|s| matches!(*s, XrState::Available)) {
        info!("the XR session has ended: exiting");
        exit.write(AppExit::Success);
        *ending = false;
    }
}

/// What happened, printed when the app exits.
#[derive(Resource, Default)]
struct Report {
    frames: u64,
    steps: u32,
    grabs: u32,
    releases: u32,
    positions: Vec<(&'static str, Vec3)>,
}

/// Printed once, when the app is asked to exit (session ended or window closed).
fn print_summary(report: Res<Report>, mut printed: Local<bool>) {
    if !*printed {
        println!("{}", report.summary());
        *printed = true;
    }
}

impl Report {
    fn summary(&self) -> String {
        let mut s = format!(
            "bevy-app summary: frames={} physics_steps={} grabs={} releases={}",
            self.frames, self.steps, self.grabs, self.releases
        );
        for (name, p) in &self.positions {
            s += &format!(" {name}=({:.3},{:.3},{:.3})", p.x, p.y, p.z);
        }
        s
    }
}
