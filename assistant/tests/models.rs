//! The shipped models load and behave: SmolLM2 answers in ChatML and
//! stops at the end of its turn, its tokenizer (rebuilt from the GGUF)
//! round-trips text, MiniLM puts paraphrases nearer than unrelated text.
//! Needs `scripts/fetch-assistant-models.sh` (the test script runs it).

use parallax_assistant::embed::{similarity, Embedder};
use parallax_assistant::llm::{Llm, Message, Params, Role, Stop};
use parallax_assistant::{models_dir, DEFAULT_LLM, EMBEDDER};

fn llm() -> Llm {
    Llm::load(&models_dir().join(DEFAULT_LLM), &candle_core::Device::Cpu)
        .expect("run ./scripts/fetch-assistant-models.sh")
}

#[test]
fn the_tokenizer_round_trips_and_reads_special_tokens() {
    let m = llm();
    for text in [
        "Hello, world!",
        "Kayaks cost 40 EUR per day (2025).",
        "Ærøskøbing — naïve café ☕",
        "  two  spaces\nand a line",
    ] {
        let t = m.tokens(text).unwrap();
        assert_eq!(m.text(&t).unwrap(), text);
    }
    // Special tokens are single tokens; digits one by one.
    let t = m.tokens("<|im_start|>user\n2025<|im_end|>").unwrap();
    assert_eq!(m.text(&t[..1]).unwrap(), "<|im_start|>");
    assert_eq!(*t.last().unwrap(), m.tokens("<|im_end|>").unwrap()[0]);
    assert_eq!(m.tokens("2025").unwrap().len(), 4);
}

#[test]
fn the_model_answers_and_ends_its_turn() {
    let mut m = llm();
    let prompt = Llm::chat_prompt(&[
        Message::new(Role::System, "You are a helpful assistant."),
        Message::new(
            Role::User,
            "What is the capital of France? Answer in one word.",
        ),
    ]);
    let mut streamed = String::new();
    let params = Params {
        max_tokens: 40,
        ..Params::default()
    };
    let (text, stats) = m
        .generate(&prompt, &params, |piece| {
            streamed.push_str(piece);
            true
        })
        .unwrap();
    eprintln!("{text:?} {stats:?}");
    assert_eq!(streamed, text, "the stream is the text");
    assert!(text.contains("Paris"), "{text:?}");
    // It ends its turn, or runs to the limit; the end-of-turn token is
    // never shown.
    match stats.stop {
        Stop::EndOfTurn => assert!(stats.generated_tokens < 40),
        Stop::MaxTokens => assert_eq!(stats.generated_tokens, 40),
        Stop::Caller => panic!("nobody asked it to stop"),
    }
    assert!(!text.contains("<|im_end|>") && !text.contains("<|im_start|>"));
    // Greedy decoding is reproducible.
    let (again, _) = m.generate(&prompt, &params, |_| true).unwrap();
    assert_eq!(again, text);
    // The caller can stop it.
    let (short, s) = m.generate(&prompt, &params, |_| false).unwrap();
    assert_eq!(s.stop, Stop::Caller);
    assert!(s.generated_tokens <= 2, "{short:?}");
}

#[test]
fn an_oversize_prompt_is_an_error() {
    let mut m = llm();
    let long = "word ".repeat(m.context + 10);
    let e = m.generate(&long, &Params::default(), |_| true).unwrap_err();
    assert!(e.to_string().contains("context"), "{e}");
}

#[test]
fn embeddings_put_meaning_together() {
    let e = Embedder::load(&models_dir().join(EMBEDDER), &candle_core::Device::Cpu)
        .expect("run ./scripts/fetch-assistant-models.sh");
    let v = e
        .embed(&[
            "How much does it cost to rent a kayak?",
            "Kayak rental prices per day",
            "The moon orbits the earth.",
        ])
        .unwrap();
    assert_eq!(v[0].len(), 384);
    assert!((similarity(&v[0], &v[0]) - 1.0).abs() < 1e-4);
    let near = similarity(&v[0], &v[1]);
    let far = similarity(&v[0], &v[2]);
    assert!(near > 0.5 && far < 0.2 && near > far + 0.3, "{near} {far}");
    // One at a time or in a batch: the same vectors (padding is masked).
    let one = e.embed_one("The moon orbits the earth.").unwrap();
    assert!(similarity(&one, &v[2]) > 0.9999);
}

/// Our llama (f32 matrices) against candle's quantised one on the same
/// file: the same next tokens, logits within the quantised path's own
/// rounding (it quantises activations to 8 bits).
#[test]
fn our_llama_matches_candles_on_the_same_weights() {
    use candle_core::quantized::gguf_file;
    use candle_core::{Device, Tensor};
    use candle_transformers::models::quantized_llama::ModelWeights;
    let path = models_dir().join(DEFAULT_LLM);
    let dev = Device::Cpu;
    let mut f = std::fs::File::open(&path).expect("run ./scripts/fetch-assistant-models.sh");
    let c = gguf_file::Content::read(&mut f).unwrap();
    let mut ours = parallax_assistant::llama::Llama::from_gguf(&c, &mut f, &dev, 512).unwrap();
    assert!(ours.f32_weights);
    let mut f = std::fs::File::open(&path).unwrap();
    let c = gguf_file::Content::read(&mut f).unwrap();
    let mut theirs = ModelWeights::from_gguf(c, &mut f, &dev).unwrap();
    let m = llm();
    let mut tokens = m
        .tokens("<|im_start|>user\nName three rivers in Europe.<|im_end|>\n<|im_start|>assistant\n")
        .unwrap();
    let mut start = 0;
    for step in 0..6 {
        let a = ours.forward(&tokens[start..], start).unwrap();
        let input = Tensor::new(&tokens[start..], &dev)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let b = theirs.forward(&input, start).unwrap().squeeze(0).unwrap();
        let a = a.to_vec1::<f32>().unwrap();
        let b = b.to_vec1::<f32>().unwrap();
        let argmax = |v: &[f32]| {
            v.iter()
                .enumerate()
                .max_by(|x, y| x.1.total_cmp(y.1))
                .unwrap()
                .0 as u32
        };
        let range = b.iter().fold(0f32, |m, v| m.max(v.abs()));
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        eprintln!("step {step}: max |diff| {worst:.3} of {range:.1}");
        assert!(worst < 0.05 * range, "step {step}: {worst} of {range}");
        assert_eq!(argmax(&a), argmax(&b), "step {step}");
        start = tokens.len();
        tokens.push(argmax(&a));
    }
}
