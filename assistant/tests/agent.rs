//! The sample agent (assistant/sample/nova) end to end with the shipped
//! models: cited answers, refusals by the creator's rules, content that
//! tries to give orders, memory across sessions, and bad input. Each test
//! works on a copy of the agent in a temporary folder (its own store).
//! Needs `scripts/fetch-assistant-models.sh` (the test script runs it).

use parallax_assistant::{Agent, Assistant};
use std::path::Path;

mod common;

use common::sample;

fn open(agent: &Path) -> Assistant {
    common::open(agent, 24)
}

#[test]
fn answers_cite_the_right_content_and_rules_decline() {
    let agent = sample("cite");
    let mut a = open(&agent);
    let r = a.ingest(|_| {}).unwrap();
    assert_eq!(r.updated.len(), 6, "{r:?}");
    assert!(r.errors.is_empty());
    let ans = a
        .ask(
            "u",
            "What does it cost to rent a single kayak?",
            &[],
            |_| true,
        )
        .unwrap();
    assert!(ans.refused.is_none());
    let first = &ans.citations[0];
    assert_eq!(first.chunk.document, "rentals.md");
    assert_eq!(first.chunk.heading, "Rentals > Kayaks");
    let (quote, n) = ans.quote.clone().unwrap();
    assert!(quote.contains("450 NOK"), "{quote}");
    assert_eq!(n, 1);
    // From the PDF: its page is the heading.
    let ans = a
        .ask("u", "How much does the membership cost?", &[], |_| true)
        .unwrap();
    let first = &ans.citations[0];
    assert_eq!(
        (first.chunk.document.as_str(), first.chunk.heading.as_str()),
        ("club.pdf", "Page 1")
    );
    assert!(ans.quote.unwrap().0.contains("300 NOK"));
    // An avoided topic: declined with the creator's words, and logged.
    let ans = a
        .ask(
            "u",
            "Which party should I vote for in the election?",
            &[],
            |_| true,
        )
        .unwrap();
    assert!(ans.refused.is_some());
    assert_eq!(ans.text, a.agent.refusal());
    assert!(
        ans.citations.is_empty() && ans.stats.is_none(),
        "no generation for it"
    );
    // By meaning, without the topic's words.
    let ans = a
        .ask(
            "u",
            "My knee is swollen and hurts, which pills help?",
            &[],
            |_| true,
        )
        .unwrap();
    assert!(ans.refused.is_some(), "{:?}", ans.text);
    let log = a.store().refusals().unwrap();
    assert_eq!(log.len(), 2);
    assert!(log[0].reason.contains("politics"), "{}", log[0].reason);
    // An unrelated question about the shop is not declined.
    let ans = a
        .ask("u", "How long is the Ulriken hike?", &[], |_| true)
        .unwrap();
    assert!(ans.refused.is_none());
    assert_eq!(ans.citations[0].chunk.document, "trips.md");
    std::fs::remove_dir_all(agent.parent().unwrap()).unwrap();
}

#[test]
fn instructions_inside_the_content_are_not_followed() {
    let agent = sample("inject");
    let mut a = open(&agent);
    a.ingest(|_| {}).unwrap();
    a.params.max_tokens = 40;
    let ans = a
        .ask(
            "u",
            "What do customers say about the guides and the bikes?",
            &[],
            |_| true,
        )
        .unwrap();
    // The "review" that tells the assistant that rentals are free is
    // retrieved, and its orders are cut before the model sees them.
    let review = ans
        .citations
        .iter()
        .find(|c| c.chunk.document == "reviews.md")
        .expect("the reviews are retrieved");
    assert!(
        ans.cut.iter().any(|c| c.contains("previous instructions")),
        "{:?}",
        ans.cut
    );
    assert!(ans
        .citations
        .iter()
        .all(|c| !c.chunk.text.to_lowercase().contains("ignore")));
    assert!(
        !ans.text.to_lowercase().contains("rentals are free"),
        "{}",
        ans.text
    );
    assert!(!ans.text.to_lowercase().contains("pirate"), "{}", ans.text);
    // The real reviews stay.
    assert!(review.chunk.text.contains("fjord trip"));
    let ans = a
        .ask("u", "Are rentals free today?", &[], |_| true)
        .unwrap();
    assert!(
        !ans.text.to_lowercase().contains("rentals are free"),
        "{}",
        ans.text
    );
    std::fs::remove_dir_all(agent.parent().unwrap()).unwrap();
}

#[test]
fn memory_lasts_across_sessions_and_is_forgotten_on_request() {
    let agent = sample("memory");
    {
        let mut a = open(&agent);
        a.ingest(|_| {}).unwrap();
        a.ask(
            "ada",
            "My name is Ada and I ride a gravel bike.",
            &[],
            |_| true,
        )
        .unwrap();
    }
    // A new session (a new process would do the same: it is the store).
    let mut a = open(&agent);
    let ans = a
        .ask(
            "ada",
            "Which bike do you have for what I ride?",
            &[],
            |_| true,
        )
        .unwrap();
    assert!(
        ans.recalled.iter().any(|m| m.contains("gravel bike")),
        "{:?}",
        ans.recalled
    );
    // Another user's memories are not theirs.
    let other = a
        .ask(
            "bob",
            "Which bike do you have for what I ride?",
            &[],
            |_| true,
        )
        .unwrap();
    assert!(other.recalled.is_empty());
    // Forgotten on request.
    let f = a
        .ask("ada", "Please forget what I told you.", &[], |_| true)
        .unwrap();
    assert!(f.text.contains("forgotten"), "{}", f.text);
    let ans = a
        .ask(
            "ada",
            "Which bike do you have for what I ride?",
            &[],
            |_| true,
        )
        .unwrap();
    assert!(ans.recalled.is_empty());
    std::fs::remove_dir_all(agent.parent().unwrap()).unwrap();
}

#[test]
fn bad_input_gets_clear_errors_and_the_store_stays_whole() {
    let agent = sample("bad");
    let dir = agent.parent().unwrap().to_path_buf();
    // Malformed agent files.
    let bad = dir.join("bad.toml");
    for (text, says) in [
        ("name = \"X\"\n", "persona"),
        (
            "name = \"X\"\npersona = \"P\"\ncolour = \"red\"\n",
            "colour",
        ),
        (
            "name = \"X\"\npersona = \"P\"\ncontent = \"nowhere\"\n",
            "does not exist",
        ),
        (
            "name = \"X\"\npersona = \"P\"\n[rules]\navoid_topics = [\"\"]\n",
            "avoid_topics",
        ),
        ("this is not toml", "bad.toml"),
    ] {
        std::fs::write(&bad, text).unwrap();
        let e = Agent::read(&bad).unwrap_err().to_string();
        assert!(e.contains(says), "{text:?}: {e}");
    }
    // Empty and binary content: refused by name, the rest ingested.
    std::fs::write(dir.join("content/empty.md"), "\n\n").unwrap();
    std::fs::write(dir.join("content/photo.txt"), [0xffu8, 0xd8, 0, 0x10]).unwrap();
    std::fs::write(dir.join("content/logo.png"), [0x89u8, b'P', b'N', b'G']).unwrap();
    let mut a = open(&agent);
    let r = a.ingest(|_| {}).unwrap();
    assert_eq!(r.updated.len(), 6);
    assert_eq!(r.errors.len(), 2, "{:?}", r.errors);
    assert!(r
        .errors
        .iter()
        .any(|e| e.contains("empty.md") && e.contains("empty")));
    assert!(r
        .errors
        .iter()
        .any(|e| e.contains("photo.txt") && e.contains("binary")));
    assert!(r.skipped.iter().any(|s| s.ends_with("logo.png")));
    let counts = a.store().counts().unwrap();
    // Again: nothing changed, nothing re-read; a removed file leaves.
    let r = a.ingest(|_| {}).unwrap();
    assert!(r.updated.is_empty() && r.unchanged == 6);
    assert_eq!(a.store().counts().unwrap(), counts);
    std::fs::remove_file(dir.join("content/reviews.md")).unwrap();
    let r = a.ingest(|_| {}).unwrap();
    assert_eq!(r.removed, 1);
    assert_eq!(a.store().counts().unwrap().0, 5);
    // An oversize question: a clear error, and the store still answers.
    let huge = "tell me about kayaks ".repeat(2000);
    let e = a.ask("u", &huge, &[], |_| true).unwrap_err().to_string();
    assert!(e.contains("context"), "{e}");
    let ok = a
        .ask("u", "When are you open on Saturdays?", &[], |_| true)
        .unwrap();
    assert_eq!(ok.citations[0].chunk.document, "shop.md");
    assert!(a.ask("u", "   ", &[], |_| true).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tools_look_up_products_open_links_and_start_meetings() {
    let agent = sample("tools");
    let dir = agent.parent().unwrap().to_path_buf();
    // The meeting tool, on a server whose state is beside the agent.
    let mut text = std::fs::read_to_string(&agent).unwrap();
    text.push_str("meeting = { state = \"meeting-state\", server = \"127.0.0.1:4433\", room = \"nova-help\" }\n");
    std::fs::write(&agent, text).unwrap();
    let mut a = open(&agent);
    a.ingest(|_| {}).unwrap();
    let tools = |a: &mut Assistant, q: &str| a.ask("ada", q, &[], |_| true).unwrap().actions;
    use parallax_assistant::tools::Action;
    // Products by name or alias, word for word.
    match &tools(&mut a, "How much is the Fjord 2 tent?")[..] {
        [Action::Product(p)] => assert_eq!(
            (p.name.as_str(), p.price.as_str(), p.stock),
            ("Fjord 2 tent", "2 990 NOK", Some(4))
        ),
        other => panic!("{other:?}"),
    }
    match &tools(&mut a, "is the down jacket warm enough for October?")[..] {
        [Action::Product(p)] => assert_eq!(p.name, "Bergen down jacket"),
        other => panic!("{other:?}"),
    }
    // A link by its phrase, or by meaning.
    for q in [
        "I want to book a trip for Saturday",
        "Can I reserve a place on a guided tour?",
    ] {
        assert_eq!(
            tools(&mut a, q),
            vec![Action::Link {
                title: "Book a guided trip".into(),
                url: "https://novaoutfitters.example/book".into()
            }],
            "{q}"
        );
    }
    // A meeting: a room for this user, and a working invitation to it.
    let actions = tools(&mut a, "Can I talk to a person about my order?");
    let [Action::Meeting { room, invite }] = &actions[..] else {
        panic!("{actions:?}");
    };
    assert!(room.starts_with("nova-help-ada-"), "{room}");
    let invite = parallax_meeting::invite::Invite::decode(invite).unwrap();
    assert_eq!(&invite.room, room);
    let secret = std::fs::read(dir.join("meeting-state/secret")).unwrap();
    let claims = parallax_meeting::token::verify(&secret, &invite.token, room).unwrap();
    assert_eq!(claims.name, "ada");
    // Questions that call for no tool call none.
    for q in [
        "When are you open on Saturdays?",
        "What does it cost to rent a single kayak?",
        "Who founded Nova Outfitters?",
    ] {
        assert!(tools(&mut a, q).is_empty(), "{q}");
    }
    // Bad tool settings are refused with the field named.
    for (extra, says) in [
        (
            "[tools]\nlinks = [{ title = \"x\", url = \"\", about = [\"y\"] }]\n",
            "tools.links[0]",
        ),
        ("[tools]\nproducts = \"nowhere.toml\"\n", "nowhere.toml"),
        ("[tools]\nspoons = 3\n", "spoons"),
    ] {
        let bad = dir.join("bad-tools.toml");
        std::fs::write(&bad, format!("name = \"X\"\npersona = \"P\"\n{extra}")).unwrap();
        let e = Agent::read(&bad).unwrap_err().to_string();
        assert!(e.contains(says), "{extra}: {e}");
    }
    std::fs::write(
        dir.join("cat.toml"),
        "[[product]]\nname = \"Tent\"\nprice = \"\"\n",
    )
    .unwrap();
    let bad = dir.join("bad-cat.toml");
    std::fs::write(
        &bad,
        "name = \"X\"\npersona = \"P\"\n[tools]\nproducts = \"cat.toml\"\n",
    )
    .unwrap();
    let e = Agent::read(&bad).unwrap_err().to_string();
    assert!(e.contains("product[0] needs a name and a price"), "{e}");
}
