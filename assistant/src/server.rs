//! `parallax assistant serve`: the agent behind a local HTTP API that
//! speaks OpenAI's chat completions, so existing tools and SDKs can talk to
//! it (`base_url = http://127.0.0.1:8088/v1`).
//!
//! - `GET /v1/models`: the agent, as the one model.
//! - `POST /v1/chat/completions`: `messages` (the last one the user's
//!   question, the ones before it the conversation), optional `stream`,
//!   `max_tokens`, `temperature`, `top_p`, `seed`, `user`. The answer is
//!   the agent's (its content, rules, memory of `user`); without `stream`
//!   one JSON completion, with it server-sent events of `chat.completion.chunk`
//!   deltas ending in `data: [DONE]`. Each completion also carries a
//!   `parallax` object: the citations, the quote, the tools' actions, and
//!   the reason when the agent declined.
//! - `GET /health`.
//!
//! The model runs on one worker thread that owns the assistant (answers
//! are made one at a time; generation is the bottleneck and uses every
//! core); requests wait their turn. Bad requests get OpenAI-shaped errors
//! (`{"error": {"message", "type", "code"}}`) with status 400.

use crate::assistant::{citation_line, Answer, Assistant};
use crate::llm::{Message, Params, Role};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::mpsc as sync_mpsc;
use tokio::sync::mpsc;

/// A question for the worker.
struct Job {
    user: String,
    question: String,
    history: Vec<Message>,
    params: Params,
    /// Pieces of the answer as they come, then the whole answer.
    pieces: mpsc::UnboundedSender<Piece>,
}

enum Piece {
    Text(String),
    Done(Box<Answer>),
    Failed(String),
}

#[derive(Clone)]
struct AppState {
    jobs: sync_mpsc::Sender<Job>,
    model: String,
    defaults: Params,
}

#[derive(Debug, Deserialize)]
struct ChatMessage {
    role: String,
    #[serde(default)]
    content: Value,
}

#[derive(Debug, Deserialize)]
struct ChatRequest {
    #[serde(default)]
    messages: Vec<ChatMessage>,
    #[serde(default)]
    stream: bool,
    max_tokens: Option<usize>,
    max_completion_tokens: Option<usize>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    seed: Option<u64>,
    user: Option<String>,
}

fn error(code: &str, message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": {"message": message.into(), "type": "invalid_request_error", "code": code}})),
    )
        .into_response()
}

/// A message's text: a string, or OpenAI's list of parts (their text
/// parts joined).
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => Some(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(|t| t.as_str()))
                .collect::<Vec<_>>()
                .join(""),
        ),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

fn parallax_extension(a: &Answer) -> Value {
    json!({
        "citations": a.citations.iter().map(|c| json!({
            "number": c.number,
            "document": c.chunk.document,
            "heading": c.chunk.heading,
            "score": c.score,
            "line": citation_line(c),
        })).collect::<Vec<_>>(),
        "quote": a.quote.as_ref().map(|(q, n)| json!({"text": q, "citation": n})),
        "refused": a.refused,
        "actions": a.actions,
    })
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn chat(State(st): State<AppState>, body: axum::body::Bytes) -> Response {
    let req: ChatRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                "invalid_json",
                format!("the body is not a chat request: {e}"),
            )
        }
    };
    let mut history = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        let role = match m.role.as_str() {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => return error("invalid_role", format!("messages[{i}].role {other:?}")),
        };
        let Some(text) = text_of(&m.content) else {
            return error(
                "invalid_content",
                format!("messages[{i}].content is not text"),
            );
        };
        history.push(Message::new(role, text));
    }
    let Some(last) = history.pop() else {
        return error("missing_messages", "messages is empty");
    };
    if last.role != Role::User || last.content.trim().is_empty() {
        return error(
            "invalid_last_message",
            "the last message must be the user's question",
        );
    }
    // The agent's persona is its own: an API caller's system messages are
    // not instructions to it.
    history.retain(|m| m.role != Role::System);
    let mut params = st.defaults;
    if let Some(n) = req.max_completion_tokens.or(req.max_tokens) {
        if n == 0 || n > 2048 {
            return error("invalid_max_tokens", "max_tokens must be 1 to 2048");
        }
        params.max_tokens = n;
    }
    if let Some(t) = req.temperature {
        if !(0.0..=2.0).contains(&t) {
            return error("invalid_temperature", "temperature must be 0 to 2");
        }
        params.temperature = t;
    }
    if let Some(p) = req.top_p {
        if !(0.0..=1.0).contains(&p) || p == 0.0 {
            return error("invalid_top_p", "top_p must be above 0 and at most 1");
        }
        params.top_p = p;
    }
    if let Some(s) = req.seed {
        params.seed = s;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let job = Job {
        user: req.user.unwrap_or_else(|| "api".into()),
        question: last.content,
        history,
        params,
        pieces: tx,
    };
    if st.jobs.send(job).is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "the model worker stopped").into_response();
    }
    let id = format!("chatcmpl-{:x}", rand_id());
    let created = now();
    if req.stream {
        let model = st.model.clone();
        let stream = async_stream(rx, id, created, model);
        return Sse::new(stream).into_response();
    }
    let mut answer = None;
    while let Some(p) = rx.recv().await {
        match p {
            Piece::Text(_) => {}
            Piece::Done(a) => answer = Some(a),
            Piece::Failed(e) => return error(failure_code(&e), e),
        }
    }
    let Some(a) = answer else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no answer").into_response();
    };
    let (prompt, completion, reason) = usage(&a);
    Json(json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": st.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": a.text}, "finish_reason": reason}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
        "parallax": parallax_extension(&a),
    }))
    .into_response()
}

fn failure_code(e: &str) -> &'static str {
    if e.contains("context") {
        "context_length_exceeded"
    } else {
        "invalid_request"
    }
}

fn usage(a: &Answer) -> (usize, usize, &'static str) {
    match a.stats {
        Some(s) => (
            s.prompt_tokens,
            s.generated_tokens,
            if s.stop == crate::llm::Stop::MaxTokens {
                "length"
            } else {
                "stop"
            },
        ),
        None => (0, 0, "stop"),
    }
}

fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// The answer's pieces as `chat.completion.chunk` events: the role, each
/// piece of text, the finish (with the citations), then `[DONE]`.
fn async_stream(
    rx: mpsc::UnboundedReceiver<Piece>,
    id: String,
    created: u64,
    model: String,
) -> impl tokio_stream::Stream<Item = Result<Event, std::convert::Infallible>> {
    use tokio_stream::StreamExt;
    let chunk = move |delta: Value, finish: Option<&str>, extra: Option<Value>| {
        let mut v = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        if let Some(e) = extra {
            v["parallax"] = e;
        }
        Event::default().data(v.to_string())
    };
    let first = chunk(json!({"role": "assistant", "content": ""}), None, None);
    let body = tokio_stream::wrappers::UnboundedReceiverStream::new(rx).map(move |p| match p {
        Piece::Text(t) => chunk(json!({"content": t}), None, None),
        Piece::Done(a) => {
            let (_, _, reason) = usage(&a);
            chunk(json!({}), Some(reason), Some(parallax_extension(&a)))
        }
        Piece::Failed(e) => Event::default().data(
            json!({"error": {"message": e, "type": "invalid_request_error", "code": failure_code(&e)}})
                .to_string(),
        ),
    });
    tokio_stream::once(first)
        .chain(body)
        .chain(tokio_stream::once(Event::default().data("[DONE]")))
        .map(Ok)
}

async fn models(State(st): State<AppState>) -> Json<Value> {
    Json(
        json!({"object": "list", "data": [{"id": st.model, "object": "model", "created": 0, "owned_by": "parallax"}]}),
    )
}

/// Serves `assistant` on `listener` until `shutdown` resolves.
pub async fn serve(
    mut assistant: Assistant,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (jobs, queue) = sync_mpsc::channel::<Job>();
    let model = assistant.agent.name.clone();
    let defaults = assistant.params;
    // The worker: the one owner of the models.
    std::thread::Builder::new()
        .name("assistant-worker".into())
        .spawn(move || {
            while let Ok(job) = queue.recv() {
                assistant.params = job.params;
                let tx = job.pieces.clone();
                let r = assistant.ask(&job.user, &job.question, &job.history, |piece| {
                    // A client gone away stops the generation.
                    tx.send(Piece::Text(piece.to_string())).is_ok()
                });
                let _ = job.pieces.send(match r {
                    Ok(a) => Piece::Done(Box::new(a)),
                    Err(e) => Piece::Failed(e.to_string()),
                });
                assistant.params = defaults;
            }
        })?;
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat))
        .layer(axum::extract::DefaultBodyLimit::max(1 << 20))
        .with_state(AppState {
            jobs,
            model,
            defaults,
        });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
