//! `parallax`: the command users type. Installs this build as the active
//! OpenXR runtime, runs any OpenXR app on it, and says what the runtime
//! offers and which devices it finds.
#![forbid(unsafe_code)]

mod assistant;
mod avatar;
mod demo;
mod driver_check;
mod hands;
mod meeting;

use clap::{Parser, Subcommand};
use parallax_runtime::config::{Config, OPTIONS};
use parallax_runtime::hub::DeviceHub;
use parallax_runtime::instance::EXTENSIONS;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "parallax",
    version,
    about = "The Parallax open mixed-reality platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage the OpenXR runtime registration.
    Runtime {
        #[command(subcommand)]
        action: RuntimeAction,
    },
    /// Run a command with this build as its OpenXR runtime (XR_RUNTIME_JSON).
    Run {
        /// The command and its arguments.
        #[arg(trailing_var_arg = true, required = true)]
        command: Vec<String>,
    },
    /// Run the showcase app on the simulated headset: in the desktop
    /// simulator window when there is a display, else headless for a bounded
    /// number of frames, writing composited frames and a timing plot.
    Demo {
        /// Folder for the frames, timing logs and plot.
        #[arg(long, default_value = "parallax-demo")]
        out: PathBuf,
        /// App frames to run headless.
        #[arg(long, default_value_t = 180)]
        frames: u32,
        /// Run headless even when a display is there.
        #[arg(long)]
        headless: bool,
    },
    /// Print the runtime, its extensions, options and the devices found.
    Info,
    /// List every driver found (built in, manifests, PARALLAX_DRIVER_PATH),
    /// what each offers, and why it was chosen or skipped.
    Devices,
    /// Load a driver library through the ABI, exercise it and print a
    /// pass/fail report (exit status 1 when a check fails).
    DriverCheck {
        /// The driver library (.so).
        library: PathBuf,
        /// The `config` object to pass the driver, as JSON.
        #[arg(long)]
        config: Option<String>,
    },
    /// Record the selected driver's poses and inputs to a file that the
    /// replay driver plays back.
    Record {
        /// Output file (.pxrec).
        #[arg(long, short)]
        out: PathBuf,
        /// How long to record.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Samples per second.
        #[arg(long, default_value_t = 250.0)]
        rate: f64,
    },
    /// Hand tracking from the headset's cameras: evaluate it, record a
    /// simulated camera stream, run it on a stream or a driver's cameras.
    Hands {
        #[command(subcommand)]
        action: HandsAction,
    },
    /// Codec avatars: train the expression codec, measure it.
    Avatar {
        #[command(subcommand)]
        action: AvatarAction,
    },
    /// Holographic meetings: the room server, join tokens, simulated
    /// participants, a load test.
    Meeting {
        #[command(subcommand)]
        action: MeetingAction,
    },
    /// Creator assistants: agents built from a creator's own content,
    /// running on the device.
    Assistant {
        #[command(subcommand)]
        action: AssistantAction,
    },
}

#[derive(Subcommand)]
enum MeetingAction {
    /// Run a room server (QUIC) until Ctrl-C.
    Serve {
        /// State folder (identity, token secret, rooms); default
        /// $XDG_STATE_HOME/parallax/meeting.
        #[arg(long)]
        state: Option<PathBuf>,
        #[arg(long, default_value = "0.0.0.0:4433")]
        listen: String,
        /// Announce this server to a directory (http://host:port) as one of
        /// a cluster (the servers of a cluster share the state's `secret`
        /// file).
        #[arg(long)]
        directory: Option<String>,
        /// This server's name in the cluster.
        #[arg(long, default_value = "meeting")]
        name: String,
        /// The address clients reach this server at (default: --listen).
        #[arg(long)]
        advertise: Option<String>,
    },
    /// Run a directory that places rooms on the servers of a cluster
    /// (HTTP) until Ctrl-C.
    Directory {
        #[arg(long, default_value = "127.0.0.1:4400")]
        listen: String,
        /// The cluster's secret (the `secret` file of a server's state).
        #[arg(long)]
        secret: PathBuf,
    },
    /// Issue a join token for a room (signed with the server's secret).
    Token {
        #[arg(long)]
        state: Option<PathBuf>,
        #[arg(long)]
        room: String,
        #[arg(long)]
        name: String,
        /// May kick and mute.
        #[arg(long)]
        host: bool,
        /// Seconds it stays valid.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
    },
    /// Write an invitation: one string with the room, the server (or
    /// directory) and a join token, for `PARALLAX_MEETING` (a headset app
    /// then joins the room) or another person.
    Invite {
        /// The server's state folder (its secret signs the token, its
        /// certificate goes in the invitation).
        #[arg(long)]
        state: Option<PathBuf>,
        /// The address participants reach the server at (host:port).
        #[arg(long, required_unless_present = "directory")]
        server: Option<String>,
        /// Send participants to this directory (http://host:port) instead.
        #[arg(long, conflicts_with = "server")]
        directory: Option<String>,
        #[arg(long)]
        room: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        host: bool,
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
    },
    /// Join a room as simulated participants (the simulated headset's
    /// scripted wearer through the codec, talking), one per --token or
    /// --simulate N of them; the first hears the others, spatialised.
    Join {
        /// The server's address (host:port).
        #[arg(
            long,
            required_unless_present = "directory",
            conflicts_with = "directory"
        )]
        server: Option<String>,
        /// The server's certificate (cert.der in its state folder).
        #[arg(
            long,
            required_unless_present = "directory",
            conflicts_with = "directory"
        )]
        cert: Option<PathBuf>,
        /// Ask this directory (http://host:port) which server has the room.
        #[arg(long)]
        directory: Option<String>,
        #[arg(long)]
        room: String,
        #[arg(long = "token", required_unless_present = "simulate")]
        tokens: Vec<String>,
        /// N simulated participants, their tokens signed with the secret
        /// in --state (run where the server's state folder is).
        #[arg(long, conflicts_with = "tokens", requires = "state")]
        simulate: Option<usize>,
        /// The server's state folder, for --simulate.
        #[arg(long)]
        state: Option<PathBuf>,
        /// Each participant holds one moment of its script (still faces,
        /// for reproducible captures); voices still talk.
        #[arg(long)]
        frozen: bool,
        /// How long to stay (`inf`: until Ctrl-C).
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Write what the first participant hears (the others' voices,
        /// spatialised, stereo 48 kHz) to this WAV file instead of the
        /// sound card. Without a sound card it goes to
        /// meeting-<room>.wav in the current folder.
        #[arg(long)]
        wav: Option<PathBuf>,
    },
    /// A meeting in the headset: a room server on loopback, N simulated
    /// participants (talking, one throwing the ball), and you in the
    /// desktop simulator with the showcase app (key J leaves and joins);
    /// headless without a display, writing frames and what you heard.
    Demo {
        /// Simulated participants (1 to 8).
        #[arg(long, default_value_t = 2)]
        participants: usize,
        #[arg(long, default_value = "parallax-meeting-demo")]
        out: PathBuf,
        /// App frames to run headless.
        #[arg(long, default_value_t = 240)]
        frames: u32,
        #[arg(long)]
        headless: bool,
        /// Your voice: `talker` (a scripted one), `device` (the
        /// microphone) or `off`.
        #[arg(long, default_value = "talker")]
        mic: String,
    },
    /// Load-test a server on loopback: forwarded packets/s, latency, loss,
    /// CPU per participant.
    Load {
        #[arg(long, default_value_t = 20)]
        participants: usize,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Avatar packets per second per participant.
        #[arg(long, default_value_t = 30.0)]
        rate: f64,
    },
}

#[derive(Subcommand)]
enum AssistantAction {
    /// Make an agent file and a content folder beside it.
    New {
        /// The agent file to write (TOML).
        agent: PathBuf,
        #[arg(long, default_value = "Assistant")]
        name: String,
    },
    /// Read the agent's content folder into its store (new and changed
    /// files only).
    Ingest { agent: PathBuf },
    /// Talk with the agent in the terminal.
    Chat {
        agent: PathBuf,
        /// Who is talking (memories are per user).
        #[arg(long, default_value = "me")]
        user: String,
        /// A llama-family GGUF model instead of SmolLM2-135M.
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// Ask the agent one question.
    Ask {
        agent: PathBuf,
        question: String,
        #[arg(long, default_value = "me")]
        user: String,
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// Take the agent into a meeting as a participant: it answers in the
    /// room's chat when addressed (`Nova, ...` or `@Nova`), speaks its
    /// answers (espeak-ng) and stands at its seat as a codec avatar.
    Meet {
        agent: PathBuf,
        /// The meeting invitation (`parallax meeting invite`), or @FILE.
        #[arg(long)]
        invite: String,
        /// How long to stay (`inf`: until Ctrl-C).
        #[arg(long, default_value = "inf")]
        seconds: f64,
        /// Answer in the chat only.
        #[arg(long)]
        no_voice: bool,
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// Serve the agent on a local OpenAI-compatible HTTP API
    /// (`/v1/chat/completions`, streaming, `/v1/models`) until Ctrl-C.
    Serve {
        agent: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8088")]
        listen: String,
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// Time the generation model (ours, candle's quantised llama and, with
    /// --llama-cpp, llama.cpp, on the same GGUF and prompt) and the
    /// embedder.
    Bench {
        #[arg(long)]
        model: Option<PathBuf>,
        /// Prompt length in tokens.
        #[arg(long, default_value_t = 300)]
        prompt: usize,
        /// Tokens to generate.
        #[arg(long, default_value_t = 64)]
        generate: usize,
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// A Python with llama-cpp-python installed, to time llama.cpp too.
        #[arg(long)]
        llama_cpp: Option<PathBuf>,
    },
    /// Measure an agent on a question set (default: the sample agent and
    /// its questions): retrieval, answers, refusals, speed.
    Eval {
        #[arg(long)]
        agent: Option<PathBuf>,
        /// Default: questions.toml beside the agent file.
        #[arg(long)]
        questions: Option<PathBuf>,
        #[arg(long)]
        model: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AvatarAction {
    /// Train the expression codec on the face model's expressions (seeded:
    /// the same seed gives the same file) and write it.
    Train {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 8000)]
        steps: usize,
        /// Latent code length (values per frame).
        #[arg(long, default_value_t = 16)]
        code: usize,
        /// Hidden layer width.
        #[arg(long, default_value_t = 128)]
        hidden: usize,
        #[arg(long, default_value_t = 256)]
        batch: usize,
        /// Output file.
        #[arg(long, short, default_value = "avatar/data/codec.safetensors")]
        out: PathBuf,
    },
    /// Show codec avatars in the desktop simulator: the showcase app with
    /// simulated meeting participants (their scripted faces sent through the
    /// codec and the avatar packet) standing in front of you; headless
    /// without a display, writing frames like `parallax demo`.
    Preview {
        /// How many participants (1 to 8).
        #[arg(long, default_value_t = 2)]
        participants: usize,
        #[arg(long, default_value = "parallax-avatar-preview")]
        out: PathBuf,
        /// App frames to run headless.
        #[arg(long, default_value_t = 90)]
        frames: u32,
        #[arg(long)]
        headless: bool,
    },
    /// The camera path (face landmarks, then the face model fitted to
    /// them): on the simulated face camera, the error against the scripted
    /// wearer's face; with --images, each PNG's strongest expressions.
    Track {
        /// A folder of PNG images (a webcam's or a face camera's frames,
        /// in name order) instead of the simulated face camera.
        #[arg(long)]
        images: Option<PathBuf>,
        /// The images' horizontal field of view, degrees.
        #[arg(long, default_value_t = 60.0)]
        fov: f32,
        /// Frames of the simulated face camera, spread over its 12 s cycle.
        #[arg(long, default_value_t = 120)]
        frames: usize,
        /// Folder for frames.png and track.json.
        #[arg(long, default_value = "parallax-avatar-track")]
        out: PathBuf,
    },
    /// Remake the map of the face-mesh landmarks on the face model
    /// (`avatar/data/face-landmarks.json`) with the landmark model.
    MapLandmarks {
        #[arg(long, short, default_value = "avatar/data/face-landmarks.json")]
        out: PathBuf,
    },
    /// Print the codec's reconstruction error (mm), bitrate and encode and
    /// decode times, and write a sheet of truth, decoded and error faces.
    Eval {
        /// A codec file (default: the one this build ships).
        #[arg(long)]
        codec: Option<PathBuf>,
        /// Held-out random expressions to measure.
        #[arg(long, default_value_t = 2000)]
        frames: usize,
        /// Folder for sheet.png and eval.json.
        #[arg(long, default_value = "parallax-avatar-eval")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum HandsAction {
    /// Run the tracker on the fixed simulated sequences and print MPJPE,
    /// PA-MPJPE, PCK, detection rate and per-stage latency; write a plot of
    /// the error per joint and frames with the landmarks drawn.
    Eval {
        /// Model variant: lite or full.
        #[arg(long, default_value = "lite")]
        variant: String,
        /// Only these sequences (repeatable; default: all).
        #[arg(long = "sequence")]
        sequences: Vec<String>,
        /// At most this many frames of each sequence.
        #[arg(long)]
        frames: Option<usize>,
        /// Folder for the plot, the frames and eval.json.
        #[arg(long, default_value = "parallax-hands-eval")]
        out: PathBuf,
    },
    /// Render a simulated sequence to a stream folder (grey PNGs and the
    /// camera calibration) for `parallax hands run`.
    Record {
        /// The sequence (see `hands eval`).
        #[arg(long, default_value = "palm-wave")]
        sequence: String,
        /// At most this many frames.
        #[arg(long)]
        frames: Option<usize>,
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Run the tracker on a recorded stream folder, or on the selected
    /// driver's headset cameras when no folder is given.
    Run {
        /// A folder written by `parallax hands record`.
        stream: Option<PathBuf>,
        /// Model variant: lite or full.
        #[arg(long, default_value = "lite")]
        variant: String,
        /// How long to run on live cameras.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
}

#[derive(Subcommand)]
enum RuntimeAction {
    /// Write the user's openxr/1/active_runtime.json pointing at this build.
    Install,
    /// Print the manifest path of this build.
    Manifest,
}

/// The runtime library built beside this executable.
fn runtime_library() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let dir = exe.parent().ok_or("executable has no folder")?;
    let lib = dir.join("libparallax_openxr.so");
    if !lib.exists() {
        return Err(format!(
            "{} not found: build it with `cargo build --release` (it is built with the CLI)",
            lib.display()
        ));
    }
    Ok(lib)
}

fn manifest_json(lib: &std::path::Path) -> String {
    serde_json::json!({
        "file_format_version": "1.0.0",
        "runtime": { "name": "Parallax", "library_path": lib.display().to_string() }
    })
    .to_string()
}

/// Writes `parallax_openxr.json` beside the library and returns its path.
fn build_manifest() -> Result<PathBuf, String> {
    let lib = runtime_library()?;
    let path = lib.with_file_name("parallax_openxr.json");
    std::fs::write(&path, manifest_json(&lib))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

fn xdg_config_home() -> Result<PathBuf, String> {
    if let Some(d) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".config"))
        .ok_or_else(|| "neither XDG_CONFIG_HOME nor HOME is set".into())
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Runtime {
            action: RuntimeAction::Install,
        } => {
            let lib = runtime_library()?;
            let dir = xdg_config_home()?.join("openxr/1");
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let path = dir.join("active_runtime.json");
            std::fs::write(&path, manifest_json(&lib))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            println!(
                "installed {} as the active OpenXR runtime ({})",
                lib.display(),
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Runtime {
            action: RuntimeAction::Manifest,
        } => {
            println!("{}", build_manifest()?.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { command } => {
            let manifest = build_manifest()?;
            let status = std::process::Command::new(&command[0])
                .args(&command[1..])
                .env("XR_RUNTIME_JSON", &manifest)
                .status()
                .map_err(|e| format!("cannot run {}: {e}", command[0]))?;
            Ok(match status.code() {
                Some(0) => ExitCode::SUCCESS,
                Some(c) => ExitCode::from(c.clamp(1, 255) as u8),
                None => {
                    eprintln!("{} was killed by a signal", command[0]);
                    ExitCode::FAILURE
                }
            })
        }
        Command::Info => {
            match runtime_library() {
                Ok(lib) => println!("runtime library: {}", lib.display()),
                Err(e) => println!("runtime library: {e}"),
            }
            println!("runtime: Parallax {}", env!("CARGO_PKG_VERSION"));
            println!("OpenXR: 1.0 and 1.1");
            println!("extensions:");
            for (name, version) in EXTENSIONS {
                println!("  {name} (version {version})");
            }
            let config = Config::from_env();
            println!("options (environment):");
            for (key, what) in OPTIONS {
                let value = std::env::var(key).unwrap_or_else(|_| "(unset)".into());
                println!("  {key}={value}\n      {what}");
            }
            println!("devices:");
            match DeviceHub::open(&config) {
                Ok(hub) => {
                    let d = hub.display();
                    println!(
                        "  {} (driver {}): head-mounted display, {}x{} per eye, {:?} Hz, IPD {:.1} mm",
                        hub.system_name(),
                        hub.driver_name(),
                        d.width_per_eye,
                        d.height_per_eye,
                        d.refresh_rates_hz,
                        d.ipd() * 1000.0
                    );
                    for (_, dev) in hub.devices() {
                        let desc = dev.description();
                        println!(
                            "  {} ({:?}): {} inputs, profile {}",
                            desc.name,
                            desc.role,
                            desc.inputs.len(),
                            desc.interaction_profile.as_deref().unwrap_or("-")
                        );
                    }
                }
                Err(e) => println!("  no system could be opened: {e}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Devices => devices(),
        Command::Demo {
            out,
            frames,
            headless,
        } => demo::run(
            demo::Options {
                out,
                frames,
                headless,
                env: Vec::new(),
                captures: demo::CAPTURE_FRAMES.to_vec(),
            },
            &build_manifest()?,
        ),
        Command::DriverCheck { library, config } => {
            let (checks, name) = driver_check::run(&library, config.as_deref());
            Ok(if driver_check::print(&library, name.as_deref(), &checks) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Record { out, seconds, rate } => record(&out, seconds, rate),
        Command::Hands { action } => {
            match action {
                HandsAction::Eval {
                    variant,
                    sequences,
                    frames,
                    out,
                } => hands::eval(hands::variant(&variant)?, &sequences, frames, &out)?,
                HandsAction::Record {
                    sequence,
                    frames,
                    out,
                } => hands::record(&sequence, frames, &out)?,
                HandsAction::Run {
                    stream,
                    variant,
                    seconds,
                } => hands::run(stream.as_deref(), hands::variant(&variant)?, seconds)?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Meeting { action } => {
            match action {
                MeetingAction::Serve {
                    state,
                    listen,
                    directory,
                    name,
                    advertise,
                } => meeting::serve(
                    state.as_deref(),
                    &listen,
                    directory.map(|url| (url, name, advertise)),
                )?,
                MeetingAction::Directory { listen, secret } => {
                    meeting::directory(&listen, &secret)?
                }
                MeetingAction::Token {
                    state,
                    room,
                    name,
                    host,
                    ttl,
                } => meeting::token(state.as_deref(), &room, &name, host, ttl)?,
                MeetingAction::Invite {
                    state,
                    server,
                    directory,
                    room,
                    name,
                    host,
                    ttl,
                } => meeting::invite(
                    state.as_deref(),
                    server.as_deref(),
                    directory.as_deref(),
                    &room,
                    &name,
                    host,
                    ttl,
                )?,
                MeetingAction::Join {
                    server,
                    cert,
                    directory,
                    room,
                    tokens,
                    simulate,
                    state,
                    frozen,
                    seconds,
                    wav,
                } => {
                    let place = match (server, cert, directory) {
                        (Some(s), Some(c), None) => meeting::Place::Server(s, c),
                        (None, None, Some(d)) => meeting::Place::Directory(d),
                        _ => return Err("give --server and --cert, or --directory".into()),
                    };
                    let tokens = match simulate {
                        Some(n) => meeting::simulated_tokens(state.as_deref(), &room, n)?,
                        None => tokens,
                    };
                    meeting::join(place, &room, &tokens, seconds, frozen, wav.as_deref())?
                }
                MeetingAction::Demo {
                    participants,
                    out,
                    frames,
                    headless,
                    mic,
                } => {
                    if !(1..=8).contains(&participants) {
                        return Err("--participants must be 1 to 8".into());
                    }
                    if !["talker", "device", "off"].contains(&mic.as_str()) {
                        return Err("--mic must be talker, device or off".into());
                    }
                    return meeting::demo(
                        participants,
                        &mic,
                        demo::Options {
                            out,
                            frames,
                            headless,
                            env: Vec::new(),
                            // Late enough to be in the room.
                            captures: vec![30],
                        },
                        &build_manifest()?,
                    );
                }
                MeetingAction::Load {
                    participants,
                    seconds,
                    rate,
                } => meeting::load(participants, seconds, rate)?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Assistant { action } => {
            let ok = match action {
                AssistantAction::New { agent, name } => {
                    assistant::new(&agent, &name)?;
                    true
                }
                AssistantAction::Ingest { agent } => assistant::ingest(&agent)?,
                AssistantAction::Chat { agent, user, model } => {
                    assistant::chat(&agent, model.as_deref(), &user)?;
                    true
                }
                AssistantAction::Ask {
                    agent,
                    question,
                    user,
                    model,
                } => {
                    assistant::ask(&agent, model.as_deref(), &user, &question)?;
                    true
                }
                AssistantAction::Eval {
                    agent,
                    questions,
                    model,
                } => assistant::eval(agent.as_deref(), questions.as_deref(), model.as_deref())?,
                AssistantAction::Meet {
                    agent,
                    invite,
                    seconds,
                    no_voice,
                    model,
                } => {
                    assistant::meet(&agent, &invite, seconds, !no_voice, model.as_deref())?;
                    true
                }
                AssistantAction::Serve {
                    agent,
                    listen,
                    model,
                } => {
                    assistant::serve(&agent, model.as_deref(), &listen)?;
                    true
                }
                AssistantAction::Bench {
                    model,
                    prompt,
                    generate,
                    runs,
                    llama_cpp,
                } => {
                    assistant::bench(
                        model.as_deref(),
                        prompt,
                        generate.max(2),
                        runs,
                        llama_cpp.as_deref(),
                    )?;
                    true
                }
            };
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Avatar { action } => {
            match action {
                AvatarAction::Train {
                    seed,
                    steps,
                    code,
                    hidden,
                    batch,
                    out,
                } => avatar::train_codec(
                    &parallax_avatar::train::TrainConfig {
                        seed,
                        steps,
                        batch,
                        code,
                        hidden,
                        ..Default::default()
                    },
                    &out,
                )?,
                AvatarAction::Eval { codec, frames, out } => {
                    avatar::eval(codec.as_deref(), frames.max(1), &out)?
                }
                AvatarAction::Track {
                    images,
                    fov,
                    frames,
                    out,
                } => avatar::track(images.as_deref(), fov, frames.max(1), &out)?,
                AvatarAction::MapLandmarks { out } => avatar::map_landmarks(&out)?,
                AvatarAction::Preview {
                    participants,
                    out,
                    frames,
                    headless,
                } => {
                    if !(1..=8).contains(&participants) {
                        return Err("--participants must be 1 to 8".into());
                    }
                    return demo::run(
                        demo::Options {
                            out,
                            frames,
                            headless,
                            env: vec![
                                ("PARALLAX_AVATARS".into(), participants.to_string()),
                                ("PARALLAX_AVATAR_MOTION".into(), "live".into()),
                            ],
                            captures: demo::CAPTURE_FRAMES.to_vec(),
                        },
                        &build_manifest()?,
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn devices() -> Result<ExitCode, String> {
    let config = Config::from_env();
    let survey = parallax_runtime::hub::survey(&config);
    let home = |k: &str| std::env::var(k).ok();
    println!("drivers, in search order (PARALLAX_DRIVER_PATH first, then):");
    for d in parallax_sdk_abi::discovery::search_dirs(&home) {
        println!("    {}", d.display());
    }
    for (i, c) in survey.candidates.iter().enumerate() {
        let mark = if survey.chosen == Some(i) { "*" } else { " " };
        println!("{mark} {:<16} {}", c.name, c.origin);
        if let Some(d) = &c.description {
            println!("      {d}");
        }
        if let Some(l) = &c.library {
            println!("      library {}", l.display());
        }
        if let Ok((_, e)) = &c.usable {
            println!(
                "      offers: {}, {} controllers, score {}",
                if e.hmd { "a headset" } else { "no headset now" },
                e.controllers,
                e.score
            );
        }
        println!("      {}", c.verdict);
    }
    if let Some(p) = &survey.problem {
        println!("no driver selected: {p}");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn record(out: &std::path::Path, seconds: f64, rate: f64) -> Result<ExitCode, String> {
    use parallax_sdk::types::{Duration, Time};
    let valid = rate > 0.0 && rate <= 2000.0 && seconds > 0.0 && seconds.is_finite();
    if !valid {
        return Err("--rate must be in (0, 2000] and --seconds positive".into());
    }
    let config = Config::from_env();
    let mut survey = parallax_runtime::hub::survey(&config);
    let i = survey
        .chosen
        .ok_or_else(|| survey.problem.clone().unwrap_or_default())?;
    let c = survey.candidates.swap_remove(i);
    let (builder, _) = c.usable.map_err(|e| format!("{}: {e}", c.name))?;
    let system = builder
        .open()
        .map_err(|e| format!("{}: open: {e}", c.name))?;
    let file = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let period = Duration::from_secs_f64(1.0 / rate);
    let mut rec = parallax_driver_replay::Recorder::new(
        std::io::BufWriter::new(file),
        builder.name(),
        &system,
        period,
    )
    .map_err(|e| e.to_string())?;
    let n = (seconds * rate).round() as i64;
    let start = Time::now();
    for k in 0..n {
        let at = start + Duration(k * period.0);
        at.sleep_until();
        rec.sample(at, at.0 - start.0).map_err(|e| e.to_string())?;
    }
    rec.finish().map_err(|e| e.to_string())?;
    println!(
        "recorded {n} samples of {:?} (driver {}) over {seconds} s to {}",
        system.system_name,
        builder.name(),
        out.display()
    );
    println!(
        "play it back: a manifest with {{\"file_format_version\": \"1.0.0\", \"driver\": {{\"name\": \"replay\", \"library_path\": \"libparallax_driver_replay.so\", \"config\": {{\"file\": \"{}\"}}}}}} and PARALLAX_DRIVER=replay",
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("parallax: {e}");
            ExitCode::FAILURE
        }
    }
}
