//! `parallax`: the command users type. Installs this build as the active
//! OpenXR runtime, runs any OpenXR app on it, and says what the runtime
//! offers and which devices it finds.
#![forbid(unsafe_code)]

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
    /// Print the runtime, its extensions, options and the devices found.
    Info,
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
                        "  {}: head-mounted display, {}x{} per eye, {:?} Hz, IPD {:.1} mm",
                        hub.system_name(),
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
    }
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
