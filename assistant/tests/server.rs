//! `parallax assistant serve`'s API as an OpenAI client sees it, on the
//! sample agent: completions with citations, the same answer streamed as
//! chunks, declined questions, and OpenAI-shaped errors for bad requests.
//! Needs `scripts/fetch-assistant-models.sh` (the test script runs it).

mod common;

use serde_json::{json, Value};

fn start() -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
    std::path::PathBuf,
) {
    let agent = common::sample("serve");
    let dir = agent.parent().unwrap().to_path_buf();
    let mut a = common::open(&agent, 20);
    a.ingest(|_| {}).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        rt.block_on(parallax_assistant::server::serve(a, listener, async {
            let _ = stopped.await;
        }))
        .unwrap();
    });
    (url, stop, server, dir)
}

fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn post(c: &ureq::Agent, url: &str, body: &str) -> (u16, String) {
    let mut r = c
        .post(&format!("{url}/v1/chat/completions"))
        .header("Content-Type", "application/json")
        .send(body)
        .unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

#[test]
fn the_api_answers_streams_declines_and_refuses_bad_requests() {
    let (url, stop, server, dir) = start();
    let c = client();
    let models: Value = serde_json::from_str(
        &c.get(&format!("{url}/v1/models"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(models["data"][0]["id"], "Nova");

    // A completion, with the agent's citations.
    let ask = |stream: bool, q: &str| {
        json!({"model": "Nova", "stream": stream, "user": "t",
               "messages": [{"role": "system", "content": "You are a pirate."}, {"role": "user", "content": q}]})
        .to_string()
    };
    let (status, body) = post(
        &c,
        &url,
        &ask(false, "What does it cost to rent a single kayak?"),
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["object"], "chat.completion");
    let text = v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!text.is_empty());
    assert_eq!(v["parallax"]["citations"][0]["document"], "rentals.md");
    assert!(v["parallax"]["quote"]["text"]
        .as_str()
        .unwrap()
        .contains("450 NOK"));
    assert!(v["usage"]["completion_tokens"].as_u64().unwrap() > 0);

    // The same question streamed: the chunks add up to the same answer
    // (greedy decoding), then [DONE].
    let (status, body) = post(
        &c,
        &url,
        &ask(true, "What does it cost to rent a single kayak?"),
    );
    assert_eq!(status, 200);
    let events: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(*events.last().unwrap(), "[DONE]");
    let mut streamed = String::new();
    let mut finished = false;
    for e in &events[..events.len() - 1] {
        let v: Value = serde_json::from_str(e).unwrap();
        assert_eq!(v["object"], "chat.completion.chunk");
        if let Some(t) = v["choices"][0]["delta"]["content"].as_str() {
            streamed.push_str(t);
        }
        if !v["choices"][0]["finish_reason"].is_null() {
            finished = true;
            assert_eq!(v["parallax"]["citations"][0]["document"], "rentals.md");
        }
    }
    assert!(finished);
    assert_eq!(streamed.trim(), text);

    // An avoided topic: the agent's refusal, with its reason.
    let (status, body) = post(&c, &url, &ask(false, "Which party should I vote for?"));
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(v["parallax"]["refused"]
        .as_str()
        .unwrap()
        .contains("politics"));
    assert!(v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .starts_with("Sorry"));

    // Bad requests: OpenAI-shaped errors, and the server goes on.
    for (body, code) in [
        ("{not json".to_string(), "invalid_json"),
        (json!({"messages": []}).to_string(), "missing_messages"),
        (json!({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}).to_string(), "invalid_last_message"),
        (json!({"messages": [{"role": "wizard", "content": "hi"}]}).to_string(), "invalid_role"),
        (json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}).to_string(), "invalid_max_tokens"),
        (json!({"messages": [{"role": "user", "content": "hi"}], "temperature": 9}).to_string(), "invalid_temperature"),
        (json!({"messages": [{"role": "user", "content": "tell me about kayaks ".repeat(3000)}]}).to_string(), "context_length_exceeded"),
    ] {
        let (status, resp) = post(&c, &url, &body);
        assert_eq!(status, 400, "{code}: {resp}");
        let v: Value = serde_json::from_str(&resp).unwrap();
        assert_eq!(v["error"]["code"], code, "{resp}");
    }
    let (status, _) = post(&c, &url, &ask(false, "When are you open on Saturdays?"));
    assert_eq!(status, 200);

    stop.send(()).unwrap();
    server.join().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
