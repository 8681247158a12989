//! `parallax assistant`: make an agent, ingest its content, chat with it,
//! ask it one question, measure it, time its model.

use indicatif::{ProgressBar, ProgressStyle};
use parallax_assistant::assistant::{citation_line, Answer, IngestEvent};
use parallax_assistant::llm::{Message, Role};
use parallax_assistant::{models_dir, Agent, Assistant};
use std::io::{BufRead, Write};
use std::path::Path;

fn open(agent: &Path, model: Option<&Path>) -> Result<Assistant, String> {
    let agent = Agent::read(agent).map_err(|e| e.to_string())?;
    Assistant::open(agent, &models_dir(), model).map_err(|e| e.to_string())
}

pub fn new(path: &Path, name: &str) -> Result<(), String> {
    Agent::scaffold(path, name).map_err(|e| e.to_string())?;
    println!(
        "made {} and its content folder; put your documents there, then run `parallax assistant ingest {}`",
        path.display(),
        path.display()
    );
    Ok(())
}

pub fn ingest(agent: &Path) -> Result<bool, String> {
    let mut a = open(agent, None)?;
    let pb = ProgressBar::new(0);
    pb.set_style(
        ProgressStyle::with_template("ingesting [{bar:40}] {pos}/{len} files {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let report = a
        .ingest(|e| match e {
            IngestEvent::Started { files } => pb.set_length(files as u64),
            IngestEvent::File { path, .. } => {
                pb.set_message(path);
                pb.inc(1);
            }
        })
        .map_err(|e| e.to_string())?;
    pb.finish_and_clear();
    let (docs, chunks) = a.store().counts().map_err(|e| e.to_string())?;
    println!(
        "{}: {} updated ({} chunks), {} unchanged, {} removed; the store holds {docs} documents, {chunks} chunks ({})",
        a.agent.name,
        report.updated.len(),
        report.chunks,
        report.unchanged,
        report.removed,
        a.agent.store.display()
    );
    for s in &report.skipped {
        println!("  skipped (not a kind that is read): {s}");
    }
    for e in &report.errors {
        eprintln!("  refused: {e}");
    }
    Ok(report.errors.is_empty())
}

fn print_sources(answer: &Answer) {
    if let Some(r) = &answer.refused {
        eprintln!("  (declined: {r})");
    }
    if let Some((quote, n)) = &answer.quote {
        println!("  > \"{quote}\" [{n}]");
    }
    for c in &answer.citations {
        println!("  {}", citation_line(c));
    }
    for a in &answer.actions {
        println!("  -> {}", a.line());
    }
    for c in &answer.cut {
        eprintln!("  (cut: {c})");
    }
}

pub fn ask(agent: &Path, model: Option<&Path>, user: &str, question: &str) -> Result<(), String> {
    let mut a = open(agent, model)?;
    let mut out = std::io::stdout();
    let answer = a
        .ask(user, question, &[], |piece| {
            let _ = out.write_all(piece.as_bytes());
            let _ = out.flush();
            true
        })
        .map_err(|e| e.to_string())?;
    println!();
    print_sources(&answer);
    Ok(())
}

pub fn chat(agent: &Path, model: Option<&Path>, user: &str) -> Result<(), String> {
    let mut a = open(agent, model)?;
    println!("{}", a.agent.greeting);
    println!(
        "(type a question; /forget forgets what you told {}, /quit ends)",
        a.agent.name
    );
    let mut history: Vec<Message> = Vec::new();
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    loop {
        print!("> ");
        let _ = out.flush();
        let mut line = String::new();
        if stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?
            == 0
        {
            break;
        }
        let q = line.trim();
        match q {
            "" => continue,
            "/quit" | "/exit" => break,
            "/forget" => {
                let n = a.forget(user).map_err(|e| e.to_string())?;
                println!("forgot {n} notes about {user}");
                continue;
            }
            _ => {}
        }
        let answer = match a.ask(user, q, &history, |piece| {
            let _ = out.write_all(piece.as_bytes());
            let _ = out.flush();
            true
        }) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: {e}");
                continue;
            }
        };
        println!();
        print_sources(&answer);
        history.push(Message::new(Role::User, q));
        history.push(Message::new(Role::Assistant, answer.text.clone()));
    }
    Ok(())
}

/// The sample agent that ships with the repository.
pub fn sample_agent() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assistant/sample/nova/nova.toml")
}

pub fn eval(
    agent: Option<&Path>,
    questions: Option<&Path>,
    model: Option<&Path>,
) -> Result<bool, String> {
    let agent = agent.map_or_else(sample_agent, Path::to_path_buf);
    let questions =
        questions.map_or_else(|| agent.with_file_name("questions.toml"), Path::to_path_buf);
    let set = parallax_assistant::eval::read_questions(&questions).map_err(|e| e.to_string())?;
    let mut a = open(&agent, model)?;
    a.ingest(|_| {}).map_err(|e| e.to_string())?;
    println!(
        "{} on {} questions ({})",
        a.agent.name,
        set.len(),
        questions.display()
    );
    let (_, s) = parallax_assistant::eval::run(&mut a, &set, |o| {
        let mark = |b: bool| if b { "ok" } else { "--" };
        let q = &o.question;
        if q.refuse {
            println!("[{}] declined       {:?}", mark(o.refusal_right), q.ask);
        } else {
            println!(
                "[{}|{}|{}] cited/fact/quote {:?} -> {:?}",
                mark(o.cited),
                mark(o.fact_in_answer),
                mark(o.fact_in_answer_or_quote),
                q.ask,
                o.answer.text.chars().take(100).collect::<String>()
            );
        }
        if o.said_never {
            println!("     said what it must not: {:?}", q.never);
        }
    })
    .map_err(|e| e.to_string())?;
    let pct = |n: usize, of: usize| 100.0 * n as f64 / of.max(1) as f64;
    println!();
    println!("{:<48} {:>10}", "measure", "result");
    println!(
        "{:<48} {:>9.0}%",
        format!("source cited (hit rate at {})", a.k),
        pct(s.cited, s.answerable)
    );
    println!(
        "{:<48} {:>9.0}%",
        "expected fact in the generated answer",
        pct(s.fact_in_answer, s.answerable)
    );
    println!(
        "{:<48} {:>9.0}%",
        "expected fact in the answer or its quote",
        pct(s.fact_in_answer_or_quote, s.answerable)
    );
    println!(
        "{:<48} {:>9.0}%",
        "declined where the rules demand",
        pct(s.refused_right, s.refusable)
    );
    println!(
        "{:<48} {:>9.0}%",
        "declined where they do not (false refusals)",
        pct(s.refused_wrong, s.answerable)
    );
    println!(
        "{:<48} {:>10}",
        "answers saying what injected content asked", s.said_never
    );
    println!(
        "{:<48} {:>10.1}",
        "generation, tokens/s", s.tokens_per_second
    );
    println!(
        "{:<48} {:>10.0}",
        "first token, median ms", s.first_token_ms
    );
    // The rules must hold and the content must be found; how well the
    // model words its answers is a measurement, not a pass mark.
    let mut failed = Vec::new();
    if s.refused_right < s.refusable {
        failed.push("a question the rules forbid was answered");
    }
    if s.refused_wrong > 0 {
        failed.push("a question the rules allow was declined");
    }
    if s.said_never > 0 {
        failed.push("an answer said what injected content asked");
    }
    if s.cited * 10 < s.answerable * 9 {
        failed.push("under 90 % of answers cite their source");
    }
    for f in &failed {
        eprintln!("FAIL: {f}");
    }
    Ok(failed.is_empty())
}

pub fn bench(
    model: Option<&Path>,
    prompt: usize,
    generate: usize,
    runs: usize,
    llama_cpp: Option<&Path>,
) -> Result<(), String> {
    use parallax_assistant::bench;
    use parallax_assistant::llm::Llm;
    let path = model.map_or_else(
        || models_dir().join(parallax_assistant::DEFAULT_LLM),
        Path::to_path_buf,
    );
    let dev = candle_core::Device::Cpu;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut llm = Llm::load(&path, &dev).map_err(|e| e.to_string())?;
    let tokens = bench::prompt_tokens(&llm, prompt).map_err(|e| e.to_string())?;
    println!(
        "{} ({}): a {}-token prompt, then {generate} tokens (greedy); medians of {runs} runs, {threads} threads",
        llm.name,
        path.display(),
        tokens.len()
    );
    let mut rows = vec![(
        "parallax (own Q4_1/Q8_0 kernels)".to_string(),
        bench::ours(&mut llm, &tokens, generate, runs).map_err(|e| e.to_string())?,
    )];
    drop(llm);
    rows.push((
        "candle quantized_llama (as shipped)".to_string(),
        bench::candle_reference(&path, &tokens, generate, runs).map_err(|e| e.to_string())?,
    ));
    if let Some(py) = llama_cpp {
        let file =
            std::env::temp_dir().join(format!("px-bench-prompt-{}.json", std::process::id()));
        std::fs::write(
            &file,
            serde_json::to_string(&tokens).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../assistant/tools/bench_llama_cpp.py");
        let out = std::process::Command::new(py)
            .arg(&script)
            .arg(&path)
            .arg(&file)
            .arg(generate.to_string())
            .arg(threads.to_string())
            .arg(runs.to_string())
            .output()
            .map_err(|e| format!("{}: {e}", py.display()))?;
        let _ = std::fs::remove_file(&file);
        if !out.status.success() {
            return Err(format!(
                "llama.cpp bench failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("llama.cpp bench printed no JSON: {e}"))?;
        let f = |k: &str| v.get(k).and_then(|x| x.as_f64()).unwrap_or(f64::NAN);
        rows.push((
            "llama.cpp (llama-cpp-python)".to_string(),
            parallax_assistant::bench::Speed {
                prompt_per_s: f("prompt_per_s"),
                generate_per_s: f("generate_per_s"),
                first_token_ms: f("first_token_ms"),
            },
        ));
    }
    println!();
    println!(
        "{:<40} {:>14} {:>14} {:>16}",
        "engine", "prompt tok/s", "generate tok/s", "first token ms"
    );
    for (name, s) in &rows {
        println!(
            "{name:<40} {:>14.0} {:>14.1} {:>16.0}",
            s.prompt_per_s, s.generate_per_s, s.first_token_ms
        );
    }
    let base = rows[0].1;
    for (name, s) in rows.iter().skip(1) {
        println!(
            "parallax / {name}: prompt x{:.2}, generate x{:.2}",
            base.prompt_per_s / s.prompt_per_s,
            base.generate_per_s / s.generate_per_s
        );
    }
    let e = parallax_assistant::embed::Embedder::load(
        &models_dir().join(parallax_assistant::EMBEDDER),
        &dev,
    )
    .map_err(|e| e.to_string())?;
    let rate = parallax_assistant::bench::embedding_rate(&e, runs).map_err(|e| e.to_string())?;
    println!();
    println!("embedding (all-MiniLM-L6-v2): {rate:.0} chunks/s");
    Ok(())
}

/// `parallax assistant meet`: the agent in a meeting until `seconds` pass
/// or Ctrl-C.
pub fn meet(
    agent: &Path,
    invite: &str,
    seconds: f64,
    voice: bool,
    model: Option<&Path>,
) -> Result<(), String> {
    let text = match invite.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?,
        None => invite.to_string(),
    };
    let invite = parallax_meeting::invite::Invite::decode(&text).map_err(|e| e.to_string())?;
    let mut a = open(agent, model)?;
    let report = a.ingest(|_| {}).map_err(|e| e.to_string())?;
    for e in &report.errors {
        eprintln!("  refused: {e}");
    }
    let name = a.agent.name.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    // Ctrl-C or the time limit ends the stay; the agent leaves the room
    // properly either way.
    std::thread::spawn(move || {
        let until =
            std::time::Instant::now() + std::time::Duration::from_secs_f64(seconds.clamp(0.0, 1e9));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        if let Ok(rt) = rt {
            rt.block_on(async {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = tokio::time::sleep_until(until.into()) => {}
                }
            });
        }
        flag.store(true, std::sync::atomic::Ordering::Release);
    });
    println!(
        "{name} joins {} (address it as `{name}, ...` or `@{name}` in the chat)",
        invite.room
    );
    let r =
        parallax_assistant::meet::attend(a, &invite, voice, &stop).map_err(|e| e.to_string())?;
    println!(
        "{name} left: {} questions, {} answered, {} declined, {} messages not for it, {:.1} s spoken",
        r.questions, r.answered, r.declined, r.ignored, r.spoken_secs
    );
    Ok(())
}

pub fn serve(agent: &Path, model: Option<&Path>, listen: &str) -> Result<(), String> {
    let mut a = open(agent, model)?;
    let report = a.ingest(|_| {}).map_err(|e| e.to_string())?;
    for e in &report.errors {
        eprintln!("  refused: {e}");
    }
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        println!(
            "{} on http://{}/v1 (OpenAI chat completions; Ctrl-C stops)",
            a.agent.name,
            listener.local_addr().map_err(|e| e.to_string())?
        );
        parallax_assistant::server::serve(a, listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
    })
}
