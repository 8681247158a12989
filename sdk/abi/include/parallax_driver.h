/*
 * parallax_driver.h: the Parallax vendor driver ABI.
 * Generated from sdk/abi/src/ffi.rs by cbindgen; do not edit.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */

#ifndef PARALLAX_DRIVER_H
#define PARALLAX_DRIVER_H

/* Generated code: edit sdk/abi/src/ffi.rs and run `cargo test -p parallax-sdk-abi --test header -- --ignored`. */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#ifdef __cplusplus
extern "C" {
#endif

struct PxHostInfo;
struct PxDriverInfo;

/* The one symbol a driver library exports; see PxNegotiateFn below. */
#if defined(_WIN32)
__declspec(dllexport)
#else
__attribute__((visibility("default")))
#endif
int32_t parallax_driver_negotiate(const struct PxHostInfo *host, struct PxDriverInfo *info);

#ifdef __cplusplus
}
#endif

// ABI major version: bumped only for incompatible changes (never so far).
#define PX_ABI_VERSION_MAJOR 1

// ABI minor version: bumped when fields or functions are appended.
// 1.1 appended `get_body_joints` to the vtable.
#define PX_ABI_VERSION_MINOR 1

// `(major << 16) | minor` of this header.
#define PX_ABI_VERSION ((PX_ABI_VERSION_MAJOR << 16) | PX_ABI_VERSION_MINOR)

// Structure type tags (the `struct_type` field).
#define PX_STRUCT_HOST_INFO 1347944449

#define PX_STRUCT_DRIVER_INFO 1347944450

#define PX_STRUCT_DRIVER_VTABLE 1347944451

// Bytes of the fixed string fields, including the terminating NUL.
#define PX_MAX_NAME 128

#define PX_MAX_PATH 256

#define PX_MAX_REFRESH_RATES 16

#define PX_HAND_JOINT_COUNT 26

#define PX_FACE_EXPRESSION_COUNT 52

// Upper-body joints (`get_body_joints`), in `XrBodyJointFB` order: root,
// hips, spine lower/middle/upper, chest, neck, head, then per arm (left,
// right) shoulder, scapula, upper arm, lower arm, wrist twist.
#define PX_BODY_JOINT_COUNT 18

// Device roles (`PxDeviceInfo::role`).
#define PX_ROLE_HEAD 0

#define PX_ROLE_LEFT_HAND 1

#define PX_ROLE_RIGHT_HAND 2

#define PX_ROLE_TRACKER 3

// Input kinds (`PxComponent::kind`, `PxInputValue::kind`).
#define PX_INPUT_BOOLEAN 0

#define PX_INPUT_FLOAT 1

#define PX_INPUT_VECTOR2 2

#define PX_INPUT_POSE 3

// `PxTrackedPose::flags` and `PxHandJoint::flags` bits.
#define PX_POSE_ORIENTATION_VALID 1

#define PX_POSE_POSITION_VALID 2

#define PX_POSE_ORIENTATION_TRACKED 4

#define PX_POSE_POSITION_TRACKED 8

#define PX_POSE_VELOCITY_VALID 16

// `PxDeviceInfo::capabilities` bits.
#define PX_CAP_HAND_TRACKING 1

#define PX_CAP_EYE_GAZE 2

#define PX_CAP_FACE_EXPRESSIONS 4

#define PX_CAP_BATTERY 8

// ABI 1.1: `get_body_joints` works for this device.
#define PX_CAP_BODY_TRACKING 16

// Hands (`get_hand_joints`).
#define PX_HAND_LEFT 0

#define PX_HAND_RIGHT 1

// Pixel formats (`PxCameraInfo::format`).
#define PX_FORMAT_GRAY8 0

#define PX_FORMAT_RGB8 1

#define PX_FORMAT_RGBA8 2

// Log levels of `PxHostInfo::log`.
#define PX_LOG_ERROR 0

#define PX_LOG_WARN 1

#define PX_LOG_INFO 2

#define PX_LOG_DEBUG 3

// `struct_size` of a 1.0 vtable: everything up to and including
// `set_refresh_rate`. A smaller vtable is rejected.
#define PX_DRIVER_VTABLE_MIN_SIZE 120

// `struct_size` of a complete 1.0 vtable (through `get_camera_frame`):
// what a driver built against the 1.0 header passes.
#define PX_DRIVER_VTABLE_SIZE_1_0 168

// The result of every driver function.
enum PxResult
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : int32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  PX_RESULT_SUCCESS = 0,
  // The device is not connected now (poses and inputs are unavailable).
  PX_RESULT_ERROR_DISCONNECTED = -1,
  // The device or system failed for good; the session ends.
  PX_RESULT_ERROR_LOST = -2,
  // The device does not offer this (optional feature, refresh rate, ...).
  PX_RESULT_ERROR_UNSUPPORTED = -3,
  // An argument was out of range (device index, NULL pointer, ...).
  PX_RESULT_ERROR_INVALID_ARGUMENT = -4,
  // No component (pose, input or output) of that name or index.
  PX_RESULT_ERROR_NO_SUCH_COMPONENT = -5,
  // Opening the system failed.
  PX_RESULT_ERROR_OPEN_FAILED = -6,
  // The host's ABI version is not one this driver supports.
  PX_RESULT_ERROR_INCOMPATIBLE_VERSION = -7,
  // The driver failed inside (a Rust driver's panic is reported so).
  PX_RESULT_ERROR_INTERNAL = -8,
  // A caller-provided buffer was too small (camera frames).
  PX_RESULT_ERROR_BUFFER_TOO_SMALL = -9,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum PxResult PxResult;
#else
typedef int32_t PxResult;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

// A [`PxResult`] value carried as a plain integer.
typedef int32_t PxResultCode;

// What `estimate` says opening would give, without opening anything.
typedef struct PxEstimate {
  uint32_t has_hmd;
  uint32_t controllers;
  // Higher wins when several drivers could serve (the built-in simulated
  // headset scores 1).
  uint32_t score;
} PxEstimate;

// What `open` reports about the opened system.
typedef struct PxSystemInfo {
  char name[PX_MAX_NAME];
  uint32_t vendor_id;
  // Devices, including the headset at index 0.
  uint32_t device_count;
  uint32_t has_play_area;
  float play_area_width;
  float play_area_depth;
} PxSystemInfo;

typedef struct PxQuat {
  float x;
  float y;
  float z;
  float w;
} PxQuat;

typedef struct PxVec3 {
  float x;
  float y;
  float z;
} PxVec3;

// A rigid transform: rotate by `orientation`, then translate by `position`.
typedef struct PxPose {
  struct PxQuat orientation;
  struct PxVec3 position;
} PxPose;

// Field of view in radians (left and down negative for a centred view).
typedef struct PxFov {
  float left;
  float right;
  float up;
  float down;
} PxFov;

typedef struct PxEye {
  struct PxPose head_from_eye;
  struct PxFov fov;
} PxEye;

// Radial distortion per colour channel, `r_d = r (1 + k1 r^2 + k2 r^4 +
// k3 r^6)` in tangent space; `aperture` is the tangent radius of the
// lens's visible circle (0: none). The runtime builds the distortion mesh,
// chromatic-aberration correction and visibility mask from it.
typedef struct PxLens {
  float red[3];
  float green[3];
  float blue[3];
  float aperture;
} PxLens;

typedef struct PxDisplayInfo {
  uint32_t width_per_eye;
  uint32_t height_per_eye;
  uint32_t refresh_rate_count;
  // The first is the default.
  float refresh_rates_hz[PX_MAX_REFRESH_RATES];
  // Left, right.
  struct PxEye eyes[2];
  struct PxLens lens;
} PxDisplayInfo;

// One device. Index 0 is always the headset.
typedef struct PxDeviceInfo {
  char name[PX_MAX_NAME];
  char serial[PX_MAX_NAME];
  // `PX_ROLE_*`.
  uint32_t role;
  // The interaction profile the device natively is
  // (`/interaction_profiles/khr/simple_controller`), or empty.
  char interaction_profile[PX_MAX_PATH];
  uint32_t input_count;
  uint32_t output_count;
  // `PX_CAP_*` bits.
  uint32_t capabilities;
  // Camera streams of this device (`get_camera`, `get_camera_frame`).
  uint32_t camera_count;
} PxDeviceInfo;

// An input or output component, named by its OpenXR path relative to the
// device's user path (`input/trigger/value`, `output/haptic`); the
// headset's pose is the component `head`.
typedef struct PxComponent {
  char path[PX_MAX_PATH];
  // `PX_INPUT_*` (0 for outputs).
  uint32_t kind;
} PxComponent;

// A pose of a device component, predicted to the time asked for.
typedef struct PxTrackedPose {
  // `tracking_from_component`.
  struct PxPose pose;
  // Metres per second, in the tracking space.
  struct PxVec3 linear_velocity;
  // Radians per second, in the tracking space.
  struct PxVec3 angular_velocity;
  // Time (ns, CLOCK_MONOTONIC) of the newest sample the pose is based
  // on; never decreasing between calls for one component.
  int64_t sample_time_ns;
  // `PX_POSE_*` bits.
  uint32_t flags;
} PxTrackedPose;

// The value of one non-pose input.
typedef struct PxInputValue {
  // 0: no value now; 1: `x` (and `y` for vector2) hold it.
  uint32_t valid;
  // Boolean: 0 or 1; float: -1..=1 (triggers 0..=1).
  float x;
  float y;
} PxInputValue;

typedef struct PxVibration {
  int64_t duration_ns;
  // 0: the device's default frequency.
  float frequency_hz;
  // 0..=1.
  float amplitude;
} PxVibration;

typedef struct PxHandJoint {
  struct PxPose pose;
  float radius;
  struct PxVec3 linear_velocity;
  struct PxVec3 angular_velocity;
  // `PX_POSE_*` bits.
  uint32_t flags;
} PxHandJoint;

// The joints of one hand, in `XrHandJointEXT` order.
typedef struct PxHandJoints {
  int64_t sample_time_ns;
  uint32_t active;
  struct PxHandJoint joints[PX_HAND_JOINT_COUNT];
} PxHandJoints;

typedef struct PxEyeGaze {
  int64_t sample_time_ns;
  uint32_t valid;
  // `head_from_gaze`, looking down -Z.
  struct PxPose gaze;
  float openness[2];
} PxEyeGaze;

// ARKit's 52 blend-shape weights, 0..=1.
typedef struct PxFaceExpressions {
  int64_t sample_time_ns;
  uint32_t valid;
  float weights[PX_FACE_EXPRESSION_COUNT];
} PxFaceExpressions;

typedef struct PxBattery {
  float charge;
  uint32_t charging;
} PxBattery;

typedef struct PxCameraInfo {
  char name[PX_MAX_NAME];
  uint32_t width;
  uint32_t height;
  // `PX_FORMAT_*`.
  uint32_t format;
  float fps;
  float fx;
  float fy;
  float cx;
  float cy;
  // Brown-Conrady `k1 k2 p1 p2 k3`.
  float distortion[5];
  struct PxPose head_from_camera;
} PxCameraInfo;

// A camera image copied into a buffer the host provides.
typedef struct PxCameraFrame {
  // In: bytes at `data`. Out: unchanged.
  uint32_t capacity;
  // Out: bytes written.
  uint32_t size;
  uint8_t *data;
  // In: the sequence of the frame the host already has (0: none).
  // Out: the sequence of the frame written.
  uint64_t sequence;
  int64_t sample_time_ns;
  uint32_t width;
  uint32_t height;
  uint32_t stride;
  uint32_t format;
} PxCameraFrame;

typedef struct PxBodyJoint {
  // In the tracking origin. +Y runs along the bone towards the joint's
  // child, -Z as close to the body's forward as that allows.
  struct PxPose pose;
  // `PX_POSE_*` bits (velocity bits are ignored).
  uint32_t flags;
} PxBodyJoint;

// The upper body (ABI 1.1).
typedef struct PxBodyJoints {
  int64_t sample_time_ns;
  uint32_t active;
  // 0..=1.
  float confidence;
  struct PxBodyJoint joints[PX_BODY_JOINT_COUNT];
} PxBodyJoints;

// The driver's functions. Those up to `set_refresh_rate` are required;
// the optional ones after it may be NULL (the feature is then absent).
// Device indices run from 0 (the headset) to `device_count - 1`.
typedef struct PxDriverVtable {
  // `PX_STRUCT_DRIVER_VTABLE`.
  uint32_t struct_type;
  // `sizeof(PxDriverVtable)` as the driver was built.
  uint32_t struct_size;
  // Releases the context; nothing is called after it.
  void (*destroy)(void *context);
  // What opening would give, without opening anything.
  PxResultCode (*estimate)(void *context, struct PxEstimate *out);
  // Opens the devices.
  PxResultCode (*open)(void *context, struct PxSystemInfo *out);
  // Closes what `open` opened; `open` may be called again after it.
  void (*close)(void *context);
  PxResultCode (*get_display)(void *context, struct PxDisplayInfo *out);
  PxResultCode (*get_device)(void *context, uint32_t device, struct PxDeviceInfo *out);
  PxResultCode (*get_input)(void *context, uint32_t device, uint32_t index, struct PxComponent *out);
  PxResultCode (*get_output)(void *context, uint32_t device, uint32_t index, struct PxComponent *out);
  // The pose of a pose component (`head`, `input/grip/pose`) predicted
  // to `at_ns`.
  PxResultCode (*get_pose)(void *context,
                           uint32_t device,
                           const char *component,
                           int64_t at_ns,
                           struct PxTrackedPose *out);
  // Fills `values[0..count]`, one per input of the device in
  // `get_input` order (pose inputs are left invalid).
  PxResultCode (*read_inputs)(void *context,
                              uint32_t device,
                              struct PxInputValue *values,
                              uint32_t count);
  // Starts a vibration, or stops it when `vibration` is NULL.
  PxResultCode (*set_vibration)(void *context,
                                uint32_t device,
                                uint32_t output,
                                const struct PxVibration *vibration);
  // `PX_RESULT_SUCCESS` when connected, `PX_RESULT_ERROR_DISCONNECTED`
  // when not.
  PxResultCode (*is_connected)(void *context, uint32_t device);
  PxResultCode (*get_refresh_rate)(void *context, float *out_hz);
  PxResultCode (*set_refresh_rate)(void *context, float hz);
  PxResultCode (*get_hand_joints)(void *context,
                                  uint32_t device,
                                  uint32_t hand,
                                  int64_t at_ns,
                                  struct PxHandJoints *out);
  PxResultCode (*get_eye_gaze)(void *context, uint32_t device, int64_t at_ns, struct PxEyeGaze *out);
  PxResultCode (*get_face_expressions)(void *context,
                                       uint32_t device,
                                       int64_t at_ns,
                                       struct PxFaceExpressions *out);
  PxResultCode (*get_battery)(void *context, uint32_t device, struct PxBattery *out);
  PxResultCode (*get_camera)(void *context,
                             uint32_t device,
                             uint32_t index,
                             struct PxCameraInfo *out);
  // Copies the newest frame newer than `frame->sequence` into
  // `frame->data`. `PX_RESULT_SUCCESS` with `size` 0 when there is no
  // newer frame; `PX_RESULT_ERROR_BUFFER_TOO_SMALL` (with the needed
  // `size`) when `capacity` is too small.
  PxResultCode (*get_camera_frame)(void *context,
                                   uint32_t device,
                                   uint32_t index,
                                   struct PxCameraFrame *frame);
  // ABI 1.1: the upper body predicted to `at_ns` (devices with
  // `PX_CAP_BODY_TRACKING`).
  PxResultCode (*get_body_joints)(void *context,
                                  uint32_t device,
                                  int64_t at_ns,
                                  struct PxBodyJoints *out);
} PxDriverVtable;

// How the driver logs through the host (may be NULL).
typedef void (*PxLogFn)(int32_t level, const char *message);

// What the host tells the driver at negotiation.
typedef struct PxHostInfo {
  // `PX_STRUCT_HOST_INFO`.
  uint32_t struct_type;
  uint32_t struct_size;
  // The host's `PX_ABI_VERSION`.
  uint32_t abi_version;
  // "parallax <version>", NUL-terminated.
  const char *host_name;
  // The `config` object of the driver's manifest as JSON, or NULL.
  const char *config_json;
  PxLogFn log;
} PxHostInfo;

// What the driver tells the host at negotiation. The host sets
// `struct_type` and `struct_size`; the driver fills the rest.
typedef struct PxDriverInfo {
  // `PX_STRUCT_DRIVER_INFO`.
  uint32_t struct_type;
  uint32_t struct_size;
  // The driver's `PX_ABI_VERSION`.
  uint32_t abi_version;
  // The driver's name (`[a-z0-9_-]`), NUL-terminated.
  char name[64];
  // Passed back as the first argument of every vtable function.
  void *context;
  // The driver's function table; must stay valid until `destroy`.
  const struct PxDriverVtable *vtable;
} PxDriverInfo;

// The signature of `parallax_driver_negotiate`.
typedef PxResultCode (*PxNegotiateFn)(const struct PxHostInfo *host, struct PxDriverInfo *info);

#endif  /* PARALLAX_DRIVER_H */
