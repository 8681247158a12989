//! Where a listener's mix goes: the sound card through `cpal` (ALSA,
//! which reaches PipeWire or PulseAudio through their ALSA plugins), or a
//! WAV file when there is no device or one is asked for. Both take
//! interleaved stereo at 48 kHz, 20 ms at a time.

use crate::voice::SAMPLE_RATE;
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("no audio output device")]
    NoDevice,
    #[error("the audio device: {0}")]
    Device(String),
    #[error("{path}: {error}")]
    Wav { path: PathBuf, error: hound::Error },
}

/// Somewhere to play a mix.
pub trait AudioSink: Send {
    /// Plays interleaved stereo samples in [-1, 1].
    fn write(&mut self, stereo: &[f32]) -> Result<(), AudioError>;
    /// Flushes and closes.
    fn finish(self: Box<Self>) -> Result<(), AudioError>;
    /// What it is, for the user.
    fn describe(&self) -> String;
}

/// A 16-bit stereo WAV file at 48 kHz.
pub struct WavSink {
    path: PathBuf,
    writer: hound::WavWriter<std::io::BufWriter<std::fs::File>>,
}

impl WavSink {
    pub fn create(path: &Path) -> Result<WavSink, AudioError> {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer = hound::WavWriter::create(path, spec).map_err(|error| AudioError::Wav {
            path: path.to_owned(),
            error,
        })?;
        Ok(WavSink {
            path: path.to_owned(),
            writer,
        })
    }
}

impl AudioSink for WavSink {
    fn write(&mut self, stereo: &[f32]) -> Result<(), AudioError> {
        for &x in stereo {
            let s = (x.clamp(-1.0, 1.0) * 32767.0).round() as i16;
            self.writer
                .write_sample(s)
                .map_err(|error| AudioError::Wav {
                    path: self.path.clone(),
                    error,
                })?;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(), AudioError> {
        let path = self.path.clone();
        self.writer
            .finalize()
            .map_err(|error| AudioError::Wav { path, error })
    }

    fn describe(&self) -> String {
        format!("WAV file {}", self.path.display())
    }
}

/// A cpal stream on a thread of its own (cpal's streams may not move
/// between threads): `build` opens it there and names the device; it is
/// started, and the thread holds it until `stop` is sent.
struct StreamThread {
    stop: std::sync::mpsc::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
    name: String,
}

impl StreamThread {
    fn start(
        thread_name: &str,
        build: impl FnOnce() -> Result<(cpal::Stream, String), AudioError> + Send + 'static,
    ) -> Result<StreamThread, AudioError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(thread_name.into())
            .spawn(move || {
                match build().and_then(|(stream, name)| {
                    stream
                        .play()
                        .map_err(|e| AudioError::Device(e.to_string()))?;
                    Ok((stream, name))
                }) {
                    Ok((stream, name)) => {
                        let _ = ready_tx.send(Ok(name));
                        let _ = stop_rx.recv();
                        drop(stream);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
            .map_err(|e| AudioError::Device(e.to_string()))?;
        let name = ready_rx
            .recv()
            .map_err(|_| AudioError::Device("the audio thread ended".into()))??;
        Ok(StreamThread {
            stop,
            thread: Some(thread),
            name,
        })
    }

    fn end(&mut self) {
        let _ = self.stop.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn device_name(device: &cpal::Device) -> String {
    device
        .description()
        .map(|d| d.name().to_string())
        .unwrap_or_else(|_| "default".into())
}

/// The default output device. The stream lives on a thread of its own
/// ([`StreamThread`]); `write` hands it
/// samples through a queue that holds at most 200 ms: when the device
/// stalls, the oldest samples go, never an unbounded backlog.
pub struct DeviceSink {
    queue: Arc<Mutex<VecDeque<f32>>>,
    stream: StreamThread,
}

const DEVICE_QUEUE: usize = 2 * SAMPLE_RATE as usize / 5;

impl DeviceSink {
    pub fn open() -> Result<DeviceSink, AudioError> {
        let queue: Arc<Mutex<VecDeque<f32>>> = Arc::default();
        let q = queue.clone();
        let stream = StreamThread::start("parallax-audio-out", move || {
            let host = cpal::default_host();
            let device = host.default_output_device().ok_or(AudioError::NoDevice)?;
            let config = cpal::StreamConfig {
                channels: 2,
                sample_rate: SAMPLE_RATE,
                buffer_size: cpal::BufferSize::Default,
            };
            let stream = device
                .build_output_stream(
                    config,
                    move |data: &mut [f32], _: &cpal::OutputCallbackInfo| {
                        let mut q = q.lock();
                        for x in data.iter_mut() {
                            *x = q.pop_front().unwrap_or(0.0);
                        }
                    },
                    |e| tracing::warn!("audio output: {e}"),
                    None,
                )
                .map_err(|e| AudioError::Device(e.to_string()))?;
            Ok((stream, device_name(&device)))
        })?;
        Ok(DeviceSink { queue, stream })
    }
}

impl AudioSink for DeviceSink {
    fn write(&mut self, stereo: &[f32]) -> Result<(), AudioError> {
        let mut q = self.queue.lock();
        q.extend(stereo.iter().copied());
        while q.len() > DEVICE_QUEUE {
            q.pop_front();
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), AudioError> {
        self.stream.end();
        Ok(())
    }

    fn describe(&self) -> String {
        format!("audio device {}", self.stream.name)
    }
}

/// The WAV file when one is named, else the sound card, else (no device)
/// `fallback` as a WAV file.
pub fn open_output(wav: Option<&Path>, fallback: &Path) -> Result<Box<dyn AudioSink>, AudioError> {
    if let Some(path) = wav {
        return Ok(Box::new(WavSink::create(path)?));
    }
    match DeviceSink::open() {
        Ok(d) => Ok(Box::new(d)),
        Err(e) => {
            tracing::info!("{e}: writing {}", fallback.display());
            Ok(Box::new(WavSink::create(fallback)?))
        }
    }
}

/// Somewhere a voice comes from, 20 ms ([`crate::voice::FRAME`] samples,
/// mono, 48 kHz) at a time.
pub trait AudioSource: Send {
    /// The next frame when a whole one has been captured.
    fn read(&mut self) -> Option<Vec<f32>>;
    /// What it is, for the user.
    fn describe(&self) -> String;
}

/// The default input device (the headset's microphone). Its stream lives
/// on a thread of its own like [`DeviceSink`]'s; the captured samples are
/// mixed down to mono and brought to 48 kHz (linear interpolation: a
/// microphone at 44.1 kHz is the common other rate, and speech has
/// nothing near the Nyquist frequency for it to alias), into a queue that
/// keeps at most 200 ms: a reader that stalls loses the oldest speech,
/// never builds a delay.
pub struct DeviceSource {
    queue: Arc<Mutex<VecDeque<f32>>>,
    stream: StreamThread,
}

/// Mono at the device's rate to mono at 48 kHz, across callbacks.
struct Resampler {
    /// Input samples per output sample.
    step: f64,
    /// Where the next output falls, in input samples after `last`.
    at: f64,
    last: f32,
}

impl Resampler {
    fn push(&mut self, x: f32, out: &mut VecDeque<f32>) {
        // Outputs between the previous input sample and this one.
        while self.at <= 1.0 {
            out.push_back(self.last + (x - self.last) * self.at as f32);
            self.at += self.step;
        }
        self.at -= 1.0;
        self.last = x;
    }
}

impl DeviceSource {
    pub fn open() -> Result<DeviceSource, AudioError> {
        let queue: Arc<Mutex<VecDeque<f32>>> = Arc::default();
        let q = queue.clone();
        let stream = StreamThread::start("parallax-audio-in", move || {
            let host = cpal::default_host();
            let device = host.default_input_device().ok_or(AudioError::NoDevice)?;
            let supported = device
                .default_input_config()
                .map_err(|e| AudioError::Device(e.to_string()))?;
            let channels = supported.channels().max(1) as usize;
            let rate = supported.sample_rate();
            let mut resampler = Resampler {
                step: rate as f64 / SAMPLE_RATE as f64,
                at: 0.0,
                last: 0.0,
            };
            let config = cpal::StreamConfig {
                channels: channels as u16,
                sample_rate: rate,
                buffer_size: cpal::BufferSize::Default,
            };
            let stream = device
                .build_input_stream(
                    config,
                    move |data: &[f32], _: &cpal::InputCallbackInfo| {
                        let mut q = q.lock();
                        for frame in data.chunks(channels) {
                            let mono = frame.iter().sum::<f32>() / channels as f32;
                            resampler.push(mono, &mut q);
                        }
                        while q.len() > DEVICE_QUEUE / 2 {
                            q.pop_front();
                        }
                    },
                    |e| tracing::warn!("audio input: {e}"),
                    None,
                )
                .map_err(|e| AudioError::Device(e.to_string()))?;
            Ok((stream, device_name(&device)))
        })?;
        Ok(DeviceSource { queue, stream })
    }
}

impl AudioSource for DeviceSource {
    fn read(&mut self) -> Option<Vec<f32>> {
        let mut q = self.queue.lock();
        (q.len() >= crate::voice::FRAME).then(|| q.drain(..crate::voice::FRAME).collect())
    }

    fn describe(&self) -> String {
        format!("microphone {}", self.stream.name)
    }
}

impl Drop for DeviceSource {
    fn drop(&mut self) {
        self.stream.end();
    }
}

/// Mono samples at `rate` Hz brought to 48 kHz (linear interpolation, as
/// for the microphone).
pub fn resample_mono(input: &[f32], rate: u32) -> Vec<f32> {
    let mut r = Resampler {
        step: rate.max(1) as f64 / SAMPLE_RATE as f64,
        at: 0.0,
        last: 0.0,
    };
    let mut out =
        VecDeque::with_capacity(input.len() * SAMPLE_RATE as usize / rate.max(1) as usize + 2);
    for &x in input {
        r.push(x, &mut out);
    }
    out.into()
}

/// A scripted talker as the microphone (the simulated headset's wearer).
pub struct TalkerSource(pub crate::voice::Talker);

impl AudioSource for TalkerSource {
    fn read(&mut self) -> Option<Vec<f32>> {
        Some(self.0.frame())
    }

    fn describe(&self) -> String {
        "a scripted talker".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampling_keeps_a_tone_and_its_rate() {
        // One second of 440 Hz at 44.1 kHz becomes one second at 48 kHz.
        let mut r = Resampler {
            step: 44_100.0 / 48_000.0,
            at: 0.0,
            last: 0.0,
        };
        let mut out = VecDeque::new();
        let tone = |t: f64| (std::f64::consts::TAU * 440.0 * t).sin() as f32;
        for i in 0..44_100 {
            r.push(tone(i as f64 / 44_100.0), &mut out);
        }
        assert!((out.len() as i64 - 48_000).abs() <= 2, "{}", out.len());
        // Output sample k is the tone at k / 48 kHz, one input sample late
        // (the first output falls on the first input), within the linear
        // interpolation's error.
        for (k, &y) in out.iter().enumerate().skip(10).step_by(97) {
            let t = k as f64 / 48_000.0 - 1.0 / 44_100.0;
            assert!((y - tone(t)).abs() < 0.02, "{k}: {y} vs {}", tone(t));
        }
    }
}
