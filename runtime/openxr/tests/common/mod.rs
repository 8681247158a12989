//! Shared set-up: point the real Khronos loader at the runtime this build
//! produced, and create instances the way apps do.
#![allow(dead_code, unsafe_code)]

use openxr as xr;
use std::path::PathBuf;
use std::sync::Once;

/// Debian's loader (1.0.20) serves one XrInstance per process at a time,
/// so tests that go through it take this lock.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs a test body on the one thread that talks to the loader. Debian's
/// loader (1.0.20) crashes when instances are created and destroyed from
/// different threads over a process's life, so every loader test runs here;
/// a panic is carried back to the calling test.
pub fn on_loader_thread<F: FnOnce() + Send + 'static>(f: F) {
    type Job = (
        Box<dyn FnOnce() + Send>,
        std::sync::mpsc::Sender<std::thread::Result<()>>,
    );
    static SENDER: std::sync::OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<Job>>> =
        std::sync::OnceLock::new();
    let sender = SENDER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("openxr-loader".into())
            .spawn(move || {
                for (job, done) in rx {
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    let _ = done.send(r);
                }
            })
            .unwrap();
        std::sync::Mutex::new(tx)
    });
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    sender
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send((Box::new(f), done_tx))
        .unwrap();
    if let Err(panic) = done_rx.recv().unwrap() {
        // The loader thread's panic message went to the output of whichever
        // test started that thread (output capture is inherited), so say it
        // again here, in the test that failed.
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic without a message".into());
        panic!("on the loader thread: {msg}");
    }
}

/// `target/<profile>` of the test binary.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// Writes a runtime manifest for the built library and sets the process
/// environment (once) so the loader uses it, with deterministic motion.
pub fn entry() -> xr::Entry {
    setup_env();
    // SAFETY: Debian's libopenxr_loader.so.1 is a conformant loader.
    unsafe { xr::Entry::load(&()) }
        .expect("the Khronos OpenXR loader (libopenxr-loader1) must be installed")
}

/// What the selected driver offers, read by opening it the way the runtime
/// does (`PARALLAX_DRIVER`, `PARALLAX_DRIVER_PATH`), so these tests hold
/// unchanged for every driver: the built-in simulated headset, or a driver
/// library loaded through the ABI.
pub struct Expected {
    pub driver: String,
    pub system_name: String,
    pub width: u32,
    pub height: u32,
    pub period_ns: i64,
    pub ipd: f32,
    /// Height of the head above the stage floor (motion is static).
    pub head_height: f32,
    /// Stage bounds (width, depth), if the driver reports a play area.
    pub play_area: Option<(f32, f32)>,
}

pub fn expected() -> &'static Expected {
    static E: std::sync::OnceLock<Expected> = std::sync::OnceLock::new();
    E.get_or_init(|| {
        setup_env();
        let config = parallax_runtime::config::Config::from_env();
        let hub =
            parallax_runtime::hub::DeviceHub::open(&config).expect("open the selected driver");
        let d = hub.display();
        let hz = hub.hmd().refresh_rate() as f64;
        Expected {
            driver: hub.driver_name().to_string(),
            system_name: hub.system_name().to_string(),
            width: d.width_per_eye,
            height: d.height_per_eye,
            period_ns: (1e9 / hz).round() as i64,
            ipd: d.ipd(),
            head_height: hub
                .head(parallax_sdk::types::Time::now())
                .expect("head pose")
                .pose
                .position
                .y,
            play_area: hub.play_area().map(|a| (a.width, a.depth)),
        }
    })
}

fn setup_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let lib = target_dir().join("libparallax_openxr.so");
        assert!(lib.exists(), "{} missing: build the runtime first", lib.display());
        let manifest = target_dir().join("parallax_test_runtime.json");
        std::fs::write(
            &manifest,
            format!(r#"{{"file_format_version":"1.0.0","runtime":{{"name":"Parallax","library_path":"{}"}}}}"#, lib.display()),
        )
        .unwrap();
        // SAFETY (test set-up): done once, before any thread reads the environment.
        std::env::set_var("XR_RUNTIME_JSON", &manifest);
        std::env::set_var("PARALLAX_SIM_MOTION", "static");
    });
}

pub fn headless_exts() -> xr::ExtensionSet {
    let mut e = xr::ExtensionSet::default();
    e.mnd_headless = true;
    e.ext_conformance_automation = true;
    e.khr_convert_timespec_time = true;
    e.ext_debug_utils = true;
    e.ext_local_floor = true;
    e.khr_locate_spaces = true;
    e
}

pub fn instance_with(
    entry: &xr::Entry,
    exts: &xr::ExtensionSet,
    version: xr::Version,
) -> xr::Result<xr::Instance> {
    entry.create_instance(
        &xr::ApplicationInfo {
            application_name: "parallax-tests",
            application_version: 1,
            engine_name: "none",
            engine_version: 0,
            api_version: version,
        },
        exts,
        &[],
        &(),
    )
}

pub fn instance() -> xr::Instance {
    instance_with(&entry(), &headless_exts(), xr::Version::new(1, 0, 0)).unwrap()
}

pub struct Headless {
    pub instance: xr::Instance,
    pub system: xr::SystemId,
    pub session: xr::Session<xr::Headless>,
    pub waiter: xr::FrameWaiter,
    pub stream: xr::FrameStream<xr::Headless>,
}

pub fn headless_session(instance: xr::Instance) -> Headless {
    let system = instance
        .system(xr::FormFactor::HEAD_MOUNTED_DISPLAY)
        .unwrap();
    // SAFETY: headless sessions take no graphics handles.
    let (session, waiter, stream) = unsafe {
        instance.create_session::<xr::Headless>(system, &xr::headless::SessionCreateInfo {})
    }
    .unwrap();
    Headless {
        instance,
        system,
        session,
        waiter,
        stream,
    }
}

/// Drains the event queue, returning the session states seen in order.
pub fn drain_states(instance: &xr::Instance) -> Vec<xr::SessionState> {
    let mut buf = xr::EventDataBuffer::new();
    let mut out = Vec::new();
    while let Some(e) = instance.poll_event(&mut buf).unwrap() {
        if let xr::Event::SessionStateChanged(s) = e {
            out.push(s.state());
        }
    }
    out
}

/// Sees the session to READY and begins it.
pub fn begin_when_ready(h: &mut Headless) {
    assert_eq!(
        drain_states(&h.instance),
        vec![xr::SessionState::IDLE, xr::SessionState::READY]
    );
    h.session
        .begin(xr::ViewConfigurationType::PRIMARY_STEREO)
        .unwrap();
}

/// Begins the session and runs one frame, leaving it FOCUSED.
pub fn run_to_focused(h: &mut Headless) {
    begin_when_ready(h);
    empty_frame(h);
    assert_eq!(
        drain_states(&h.instance),
        vec![
            xr::SessionState::SYNCHRONIZED,
            xr::SessionState::VISIBLE,
            xr::SessionState::FOCUSED
        ]
    );
}

/// Waits for, begins and ends one frame with no layers.
pub fn empty_frame(h: &mut Headless) -> xr::FrameState {
    let st = h.waiter.wait().unwrap();
    h.stream.begin().unwrap();
    h.stream
        .end(
            st.predicted_display_time,
            xr::EnvironmentBlendMode::OPAQUE,
            &[],
        )
        .unwrap();
    st
}

/// Decodes an 8-bit RGBA PNG (the compositor's captures).
pub fn read_png(path: &std::path::Path) -> (u32, u32, Vec<u8>) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let decoder = png::Decoder::new(std::io::BufReader::new(file));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgba);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// Waits for an app to exit; kills it and fails the test after `limit`.
pub fn wait_or_kill(
    child: &mut std::process::Child,
    limit: std::time::Duration,
    what: &str,
) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("{what} did not exit within {} s", limit.as_secs());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Runs Debian's `hello_xr -g GRAPHICS` with more environment `env`
/// until it exits (failing the test after 240 s): its exit status and
/// what it wrote to standard error.
pub fn hello_xr(
    graphics: &str,
    env: &[(&str, &std::ffi::OsStr)],
) -> (std::process::ExitStatus, String) {
    use std::process::{Command, Stdio};
    let mut child = Command::new("hello_xr")
        .args(["-g", graphics])
        .envs(env.iter().copied())
        .env(
            "XDG_RUNTIME_DIR",
            std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into()),
        )
        // hello_xr quits when its stdin reaches end of file: keep it open.
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hello_xr (Debian libopenxr-utils) must be installed");
    let _stdin = child.stdin.take();
    let status = wait_or_kill(
        &mut child,
        std::time::Duration::from_secs(240),
        &format!("hello_xr -g {graphics}"),
    );
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status, err)
}

/// An OpenXR pose as the SDK's pose.
pub fn pose(p: &xr::Posef) -> parallax_sdk::types::Pose {
    parallax_sdk::types::Pose::new(
        glam::Quat::from_xyzw(
            p.orientation.x,
            p.orientation.y,
            p.orientation.z,
            p.orientation.w,
        ),
        glam::Vec3::new(p.position.x, p.position.y, p.position.z),
    )
}

/// An X server on the dummy video driver (scripts/xorg-dummy.conf), for
/// OpenGL apps that need more of X than Xvfb has; killed when dropped.
pub struct DummyX {
    child: std::process::Child,
    pub display: String,
}

impl DummyX {
    /// Starts Xorg on the first free display from :90 and waits for its
    /// socket. Needs root (an absolute -config path) and the Debian packages
    /// xserver-xorg-core and xserver-xorg-video-dummy.
    pub fn start() -> DummyX {
        let conf = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/xorg-dummy.conf");
        let logs = target_dir().join("xorg-dummy");
        std::fs::create_dir_all(&logs).unwrap();
        for n in 90..130 {
            if std::path::Path::new(&format!("/tmp/.X{n}-lock")).exists()
                || std::path::Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
            {
                continue;
            }
            let log = logs.join(format!("Xorg.{n}.log"));
            let mut child = std::process::Command::new("Xorg")
                .arg(format!(":{n}"))
                // -sharevts with a VT number: no console is opened or
                // switched (none exists in containers; a desktop's stays).
                .args([
                    "-noreset",
                    "-nolisten",
                    "tcp",
                    "-novtswitch",
                    "-sharevts",
                    "vt7",
                ])
                .arg("-config")
                .arg(&conf)
                .arg("-logfile")
                .arg(&log)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("Xorg (Debian xserver-xorg-core) must be installed");
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
            let start = std::time::Instant::now();
            while start.elapsed() < std::time::Duration::from_secs(20) {
                if let Some(status) = child.try_wait().unwrap() {
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    if text.contains("already active") {
                        break; // lost a race for :n; try the next one
                    }
                    panic!("Xorg :{n} exited with {status}; its log:\n{text}");
                }
                // Once the socket listens, clients queue until the server
                // serves them.
                if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
                    return DummyX {
                        child,
                        display: format!(":{n}"),
                    };
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("no free X display between :90 and :129 for Xorg");
    }
}

impl Drop for DummyX {
    /// SIGTERM, so that Xorg removes its lock file and socket; SIGKILL if
    /// it has not gone within 5 s.
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
