#!/usr/bin/env python3
"""llama.cpp's speed on the same GGUF and prompt tokens as `parallax
assistant bench` (through PyPI's llama-cpp-python), for the side-by-side
table.

Usage: bench_llama_cpp.py MODEL.gguf PROMPT.json GENERATE THREADS RUNS
PROMPT.json holds the prompt's token ids; prints one JSON line:
{"prompt_per_s": .., "generate_per_s": .., "first_token_ms": ..} (medians).
Greedy, exactly GENERATE tokens (no stop token), as the Rust side does.
"""
import json
import statistics
import sys
import time

from llama_cpp import Llama


def main():
    model, prompt_file, generate, threads, runs = sys.argv[1:6]
    generate, threads, runs = int(generate), int(threads), int(runs)
    prompt = json.load(open(prompt_file))
    llm = Llama(model_path=model, n_ctx=2048, n_threads=threads, n_threads_batch=threads,
                n_batch=512, verbose=False)
    p, g, f = [], [], []
    for _ in range(runs):
        llm.reset()
        start = time.perf_counter()
        llm.eval(prompt)
        t_prompt = time.perf_counter() - start
        tok = llm.sample(top_k=1, temp=0.0)
        first = time.perf_counter() - start
        gen_start = time.perf_counter()
        for _ in range(generate - 1):
            llm.eval([tok])
            tok = llm.sample(top_k=1, temp=0.0)
        p.append(len(prompt) / t_prompt)
        g.append((generate - 1) / (time.perf_counter() - gen_start))
        f.append(first * 1e3)
    print(json.dumps({"prompt_per_s": statistics.median(p),
                      "generate_per_s": statistics.median(g),
                      "first_token_ms": statistics.median(f)}))


if __name__ == "__main__":
    main()
