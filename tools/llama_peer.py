#!/usr/bin/env python3
"""llama.cpp's side of tools/bench_peers.sh: convert an mq benchmark checkpoint to GGUF, and time
batch-1 decoding through llama-cpp-python.

  convert LLAMA_CPP_DIR MODEL_DIR OUT.gguf f32|f16|q8_0
      runs LLAMA_CPP_DIR/convert_hf_to_gguf.py (from the llama-cpp-python sdist: vendor/llama.cpp)
      with its gguf-py. The converter refuses a tokenizer whose pre-tokenizer hash it does not
      know; the benchmark checkpoints carry a small fixture tokenizer, so get_vocab_base_pre is
      patched here to answer "starcoder" (the tokenizer only labels the file: no text is encoded).
  decode GGUF THREADS [--prompt 16] [--tokens 64]
      prefills PROMPT fixed token ids, then decodes TOKENS fixed ids one Llama.eval call each (so
      an end-of-sequence cannot end the run early), and prints one JSON line with the median and
      mean per-token time and the rate from the median (what `mq bench decode` reports).
"""

from __future__ import annotations

import json
import runpy
import statistics
import sys
import time
from pathlib import Path


def convert(llama_dir: str, model_dir: str, out: str, outtype: str) -> None:
    root = Path(llama_dir)
    sys.path.insert(0, str(root))
    sys.path.insert(1, str(root / "gguf-py"))
    from conversion.base import ModelBase, TextModel  # noqa: E402  (found only once the path is set)

    TextModel.get_vocab_base_pre = lambda self, tokenizer: "starcoder"
    # transformers' FalconConfig fills num_kv_heads with num_attention_heads when the file has none
    # (its modeling code then follows multi_query instead); the converter reads num_kv_heads, so a
    # Falcon-7B-shaped checkpoint (multi_query, one KV head) would be split as 71 KV heads.
    load_hparams = ModelBase.load_hparams

    def load_hparams_mqa(dir_model, is_mistral_format):
        hparams = load_hparams(dir_model, is_mistral_format)
        if hparams.get("model_type") == "falcon" and hparams.get("multi_query") and not hparams.get("new_decoder_architecture"):
            hparams["num_kv_heads"] = 1
        return hparams

    ModelBase.load_hparams = staticmethod(load_hparams_mqa)
    sys.argv = [str(root / "convert_hf_to_gguf.py"), model_dir, "--outfile", out, "--outtype", outtype]
    runpy.run_path(str(root / "convert_hf_to_gguf.py"), run_name="__main__")


def decode(gguf: str, threads: int, prompt: int, tokens: int) -> None:
    from llama_cpp import Llama

    llm = Llama(model_path=gguf, n_ctx=prompt + tokens + 8, n_batch=max(prompt, 1), n_threads=threads,
                n_threads_batch=threads, verbose=False)
    # Ids below 512 exist in the fixture tokenizer; the weights are random, so any ids cost the same.
    ids = [(17 * i + 5) % 500 + 1 for i in range(prompt + tokens + 2)]
    llm.reset()
    llm.eval(ids[:prompt])
    llm.eval([ids[prompt]])          # two warm-up steps, as mq bench decode takes
    llm.eval([ids[prompt + 1]])
    steps = []
    for tok in ids[prompt + 2 : prompt + 2 + tokens]:
        t = time.perf_counter()
        llm.eval([tok])
        steps.append(time.perf_counter() - t)
    median = statistics.median(steps)
    print(json.dumps({"threads": threads, "tokens": tokens, "median_ms": 1000 * median,
                      "mean_ms": 1000 * statistics.fmean(steps), "tokens_per_second": 1 / median}))


def main() -> None:
    if len(sys.argv) >= 6 and sys.argv[1] == "convert":
        convert(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    elif len(sys.argv) >= 4 and sys.argv[1] == "decode":
        import argparse

        p = argparse.ArgumentParser()
        p.add_argument("gguf")
        p.add_argument("threads", type=int)
        p.add_argument("--prompt", type=int, default=16)
        p.add_argument("--tokens", type=int, default=64)
        a = p.parse_args(sys.argv[2:])
        decode(a.gguf, a.threads, a.prompt, a.tokens)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
