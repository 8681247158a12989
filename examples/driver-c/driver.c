/*
 * A headset driver written in C against parallax_driver.h: the
 * "Parallax C Sample Headset" (1832x1920 per eye, 90/120/60 Hz, 65 mm IPD,
 * its own lens model) with two simple controllers.
 *
 * It shows everything a vendor writes: negotiation, estimate/open/close,
 * device and component descriptions, poses with sample timestamps,
 * inputs, haptics, refresh rates, an optional feature (battery) and the
 * optional ones left NULL (hands, eyes, face, cameras).
 *
 * Config (the manifest's "config" object): {"sway": true} makes the head
 * turn slowly from side to side; otherwise it stands still at 1.7 m.
 *
 * Thread safety: the host may call any function from any thread, so the
 * mutable state (refresh rate, vibrations) sits behind one mutex.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _POSIX_C_SOURCE 200809L
#include "parallax_driver.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEVICE_COUNT 3u
#define EYE_HEIGHT 1.7f
#define DEG (3.14159265358979f / 180.0f)

typedef struct {
    pthread_mutex_t lock;
    int open;
    int sway;
    float refresh_hz;
    PxVibration vibration[DEVICE_COUNT];
    int vibrating[DEVICE_COUNT];
    int64_t opened_at_ns;
    PxLogFn log;
} Context;

static const float RATES[] = {90.0f, 120.0f, 60.0f};
static const char *const CONTROLLER_INPUTS[] = {
    "input/select/click", "input/menu/click", "input/grip/pose", "input/aim/pose"};
static const uint32_t CONTROLLER_KINDS[] = {
    PX_INPUT_BOOLEAN, PX_INPUT_BOOLEAN, PX_INPUT_POSE, PX_INPUT_POSE};

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void copy_str(char *dst, size_t cap, const char *src) {
    snprintf(dst, cap, "%s", src);
}

static PxResultCode estimate(void *ctx, PxEstimate *out) {
    (void)ctx;
    if (!out) return PX_RESULT_ERROR_INVALID_ARGUMENT;
    out->has_hmd = 1;
    out->controllers = 2;
    out->score = 5;
    return PX_RESULT_SUCCESS;
}

static PxResultCode open_system(void *ctx, PxSystemInfo *out) {
    Context *c = ctx;
    if (!out) return PX_RESULT_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&c->lock);
    c->open = 1;
    c->refresh_hz = RATES[0];
    memset(c->vibrating, 0, sizeof c->vibrating);
    c->opened_at_ns = now_ns();
    pthread_mutex_unlock(&c->lock);
    memset(out, 0, sizeof *out);
    copy_str(out->name, sizeof out->name, "Parallax C Sample Headset");
    out->vendor_id = 0x4353; /* "CS" */
    out->device_count = DEVICE_COUNT;
    out->has_play_area = 1;
    out->play_area_width = 2.0f;
    out->play_area_depth = 2.0f;
    if (c->log) c->log(PX_LOG_INFO, "c-sample: opened");
    return PX_RESULT_SUCCESS;
}

static void close_system(void *ctx) {
    Context *c = ctx;
    pthread_mutex_lock(&c->lock);
    c->open = 0;
    pthread_mutex_unlock(&c->lock);
}

static void destroy(void *ctx) {
    Context *c = ctx;
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static PxResultCode get_display(void *ctx, PxDisplayInfo *out) {
    (void)ctx;
    if (!out) return PX_RESULT_ERROR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    out->width_per_eye = 1832;
    out->height_per_eye = 1920;
    out->refresh_rate_count = 3;
    for (int i = 0; i < 3; i++) out->refresh_rates_hz[i] = RATES[i];
    const float ipd = 0.065f;
    for (int e = 0; e < 2; e++) {
        PxEye *eye = &out->eyes[e];
        eye->head_from_eye.orientation.w = 1.0f;
        eye->head_from_eye.position.x = (e == 0 ? -0.5f : 0.5f) * ipd;
        /* Canted outwards a little more than inwards, like most lenses. */
        eye->fov.left = (e == 0 ? -50.0f : -43.0f) * DEG;
        eye->fov.right = (e == 0 ? 43.0f : 50.0f) * DEG;
        eye->fov.up = 47.0f * DEG;
        eye->fov.down = -53.0f * DEG;
    }
    const float red[3] = {0.24f, 0.12f, 0.0f};
    const float green[3] = {0.25f, 0.13f, 0.0f};
    const float blue[3] = {0.262f, 0.141f, 0.0f};
    memcpy(out->lens.red, red, sizeof red);
    memcpy(out->lens.green, green, sizeof green);
    memcpy(out->lens.blue, blue, sizeof blue);
    out->lens.aperture = 1.25f;
    return PX_RESULT_SUCCESS;
}

static PxResultCode get_device(void *ctx, uint32_t device, PxDeviceInfo *out) {
    (void)ctx;
    if (!out || device >= DEVICE_COUNT) return PX_RESULT_ERROR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    if (device == 0) {
        copy_str(out->name, sizeof out->name, "Parallax C Sample Headset");
        copy_str(out->serial, sizeof out->serial, "C-HMD-0001");
        out->role = PX_ROLE_HEAD;
        return PX_RESULT_SUCCESS;
    }
    copy_str(out->name, sizeof out->name,
             device == 1 ? "C Sample Controller (left)" : "C Sample Controller (right)");
    copy_str(out->serial, sizeof out->serial, device == 1 ? "C-CTRL-L" : "C-CTRL-R");
    out->role = device == 1 ? PX_ROLE_LEFT_HAND : PX_ROLE_RIGHT_HAND;
    copy_str(out->interaction_profile, sizeof out->interaction_profile,
             "/interaction_profiles/khr/simple_controller");
    out->input_count = 4;
    out->output_count = 1;
    out->capabilities = PX_CAP_BATTERY;
    return PX_RESULT_SUCCESS;
}

static PxResultCode get_input(void *ctx, uint32_t device, uint32_t index, PxComponent *out) {
    (void)ctx;
    if (!out || device >= DEVICE_COUNT) return PX_RESULT_ERROR_INVALID_ARGUMENT;
    if (device == 0 || index >= 4) return PX_RESULT_ERROR_NO_SUCH_COMPONENT;
    memset(out, 0, sizeof *out);
    copy_str(out->path, sizeof out->path, CONTROLLER_INPUTS[index]);
    out->kind = CONTROLLER_KINDS[index];
    return PX_RESULT_SUCCESS;
}

static PxResultCode get_output(void *ctx, uint32_t device, uint32_t index, PxComponent *out) {
    (void)ctx;
    if (!out || device >= DEVICE_COUNT) return PX_RESULT_ERROR_INVALID_ARGUMENT;
    if (device == 0 || index != 0) return PX_RESULT_ERROR_NO_SUCH_COMPONENT;
    memset(out, 0, sizeof *out);
    copy_str(out->path, sizeof out->path, "output/haptic");
    return PX_RESULT_SUCCESS;
}

static PxQuat quat_axis_angle(float x, float y, float z, float angle) {
    float s = sinf(angle / 2.0f);
    PxQuat q = {x * s, y * s, z * s, cosf(angle / 2.0f)};
    return q;
}

static PxResultCode get_pose(void *ctx, uint32_t device, const char *component, int64_t at_ns,
                             PxTrackedPose *out) {
    Context *c = ctx;
    if (!out || !component || device >= DEVICE_COUNT) return PX_RESULT_ERROR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    out->sample_time_ns = now_ns();
    out->flags = PX_POSE_ORIENTATION_VALID | PX_POSE_POSITION_VALID |
                 PX_POSE_ORIENTATION_TRACKED | PX_POSE_POSITION_TRACKED | PX_POSE_VELOCITY_VALID;
    if (device == 0) {
        if (strcmp(component, "head") != 0) return PX_RESULT_ERROR_NO_SUCH_COMPONENT;
        float yaw = 0.0f, yaw_rate = 0.0f;
        if (c->sway) {
            /* Predicted to at_ns in closed form. */
            double t = (double)at_ns * 1e-9;
            yaw = 0.3f * (float)sin(0.5 * t);
            yaw_rate = 0.15f * (float)cos(0.5 * t);
        }
        out->pose.orientation = quat_axis_angle(0.0f, 1.0f, 0.0f, yaw);
        out->pose.position.y = EYE_HEIGHT;
        out->angular_velocity.y = yaw_rate;
        return PX_RESULT_SUCCESS;
    }
    float side = device == 1 ? -1.0f : 1.0f;
    out->pose.orientation.w = 1.0f;
    out->pose.position.x = 0.2f * side;
    out->pose.position.y = EYE_HEIGHT - 0.45f;
    out->pose.position.z = -0.3f;
    if (strcmp(component, "input/grip/pose") == 0) return PX_RESULT_SUCCESS;
    if (strcmp(component, "input/aim/pose") == 0) {
        /* The aim ray points 20 degrees down from the grip, 4 cm ahead. */
        out->pose.orientation = quat_axis_angle(1.0f, 0.0f, 0.0f, -20.0f * DEG);
        out->pose.position.z -= 0.04f;
        return PX_RESULT_SUCCESS;
    }
    return PX_RESULT_ERROR_NO_SUCH_COMPONENT;
}

static PxResultCode read_inputs(void *ctx, uint32_t device, PxInputValue *values, uint32_t count) {
    (void)ctx;
    if (device >= DEVICE_COUNT || (!values && count)) return PX_RESULT_ERROR_INVALID_ARGUMENT;
    for (uint32_t i = 0; i < count; i++) {
        memset(&values[i], 0, sizeof values[i]);
        /* Buttons rest unpressed; pose inputs carry no value here. */
        if (device != 0 && i < 4 && CONTROLLER_KINDS[i] == PX_INPUT_BOOLEAN) values[i].valid = 1;
    }
    return PX_RESULT_SUCCESS;
}

static PxResultCode set_vibration(void *ctx, uint32_t device, uint32_t output,
                                  const PxVibration *vibration) {
    Context *c = ctx;
    if (device >= DEVICE_COUNT) return PX_RESULT_ERROR_INVALID_ARGUMENT;
    if (device == 0 || output != 0) return PX_RESULT_ERROR_NO_SUCH_COMPONENT;
    if (vibration && (!(vibration->amplitude >= 0.0f && vibration->amplitude <= 1.0f) ||
                      vibration->duration_ns < 0))
        return PX_RESULT_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&c->lock);
    c->vibrating[device] = vibration != NULL;
    if (vibration) c->vibration[device] = *vibration;
    pthread_mutex_unlock(&c->lock);
    return PX_RESULT_SUCCESS;
}

static PxResultCode is_connected(void *ctx, uint32_t device) {
    Context *c = ctx;
    if (device >= DEVICE_COUNT) return PX_RESULT_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&c->lock);
    int open = c->open;
    pthread_mutex_unlock(&c->lock);
    return open ? PX_RESULT_SUCCESS : PX_RESULT_ERROR_DISCONNECTED;
}

static PxResultCode get_refresh_rate(void *ctx, float *out_hz) {
    Context *c = ctx;
    if (!out_hz) return PX_RESULT_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&c->lock);
    *out_hz = c->refresh_hz;
    pthread_mutex_unlock(&c->lock);
    return PX_RESULT_SUCCESS;
}

static PxResultCode set_refresh_rate(void *ctx, float hz) {
    Context *c = ctx;
    for (int i = 0; i < 3; i++) {
        if (RATES[i] == hz) {
            pthread_mutex_lock(&c->lock);
            c->refresh_hz = hz;
            pthread_mutex_unlock(&c->lock);
            return PX_RESULT_SUCCESS;
        }
    }
    return PX_RESULT_ERROR_UNSUPPORTED;
}

static PxResultCode get_battery(void *ctx, uint32_t device, PxBattery *out) {
    (void)ctx;
    if (!out || device >= DEVICE_COUNT) return PX_RESULT_ERROR_INVALID_ARGUMENT;
    if (device == 0) return PX_RESULT_ERROR_UNSUPPORTED;
    out->charge = 0.8f;
    out->charging = 0;
    return PX_RESULT_SUCCESS;
}

static const PxDriverVtable VTABLE = {
    .struct_type = PX_STRUCT_DRIVER_VTABLE,
    .struct_size = sizeof(PxDriverVtable),
    .destroy = destroy,
    .estimate = estimate,
    .open = open_system,
    .close = close_system,
    .get_display = get_display,
    .get_device = get_device,
    .get_input = get_input,
    .get_output = get_output,
    .get_pose = get_pose,
    .read_inputs = read_inputs,
    .set_vibration = set_vibration,
    .is_connected = is_connected,
    .get_refresh_rate = get_refresh_rate,
    .set_refresh_rate = set_refresh_rate,
    /* Optional: this headset has no hand, eye or face tracking, no cameras. */
    .get_battery = get_battery,
};

PxResultCode parallax_driver_negotiate(const PxHostInfo *host, PxDriverInfo *info) {
    if (!host || !info || host->struct_type != PX_STRUCT_HOST_INFO ||
        info->struct_type != PX_STRUCT_DRIVER_INFO || info->struct_size < sizeof(PxDriverInfo))
        return PX_RESULT_ERROR_INVALID_ARGUMENT;
    if ((host->abi_version >> 16) != PX_ABI_VERSION_MAJOR) return PX_RESULT_ERROR_INCOMPATIBLE_VERSION;
    Context *c = calloc(1, sizeof *c);
    if (!c) return PX_RESULT_ERROR_INTERNAL;
    pthread_mutex_init(&c->lock, NULL);
    c->refresh_hz = RATES[0];
    c->log = host->log;
    /* A real driver would parse the JSON; this sample only looks for one key. */
    c->sway = host->config_json && strstr(host->config_json, "\"sway\": true") != NULL;
    info->abi_version = PX_ABI_VERSION;
    copy_str(info->name, sizeof info->name, "c-sample");
    info->context = c;
    info->vtable = &VTABLE;
    return PX_RESULT_SUCCESS;
}
