#!/usr/bin/env python3
"""Golden fixtures for prompt logprobs and fill-in-the-middle, produced with transformers/tokenizers.

Writes Tests/Fixtures/models/mqa-long/: a tiny random GPTBigCode (multi-query, F32, 2 layers so that
it splits over two stages, 1024 positions so that a 1,000-token prompt fits) with the StarCoder-style
FIM tokenizer of Tests/Fixtures/models/mqa (<fim_prefix>=1, <fim_middle>=2, <fim_suffix>=3), and
its reference.json; and Tests/Fixtures/tokenizers/fim-santacoder.json (the same tokenizer with
SantaCoder's spelling <fim-prefix>/<fim-middle>/<fim-suffix>) with fim-santacoder.cases.json.

reference.json, computed in float32 (eager attention, one thread) with log-softmax in float64:
    {"prompt_logprobs": [{"name", "prompt_text" | null, "prompt_ids",
                          "logprobs": [n-1],            # log p(ids[i+1] | ids[..i]), natural log
                          "top_ids": [[5]] * (n-1), "top_logprobs": [[5]] * (n-1)}],
     "fim": [{"prefix", "suffix", "prompt_ids",          # tokenizer("<fim_prefix>"+prefix+"<fim_suffix>"+suffix+"<fim_middle>")
              "greedy_ids": [8]}]}                        # argmax loop, full forwards, no EOS stop
The "long" case is a 1,000-token prompt of seeded random ids (logprobs and alternatives too).

Usage (from the repository root):
    /work/venv/bin/python tools/make_prompt_logprob_fixtures.py
Seeded: running it twice gives identical files on the same library versions.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fixtures import build_random_model, f32, greedy, load_float32_eager, make_config  # noqa: E402

SEED = 4321
ROOT = Path(__file__).resolve().parent.parent
SOURCE_TOKENIZER = ROOT / "Tests/Fixtures/models/mqa/tokenizer.json"
OUT_MODEL = ROOT / "Tests/Fixtures/models/mqa-long"
OUT_TOKENIZERS = ROOT / "Tests/Fixtures/tokenizers"
VOCAB, N_EMBD, N_HEAD, N_LAYER, N_POSITIONS = 512, 64, 4, 2, 1024
TOP = 5
LONG_PROMPT = 1000
GREEDY_TOKENS = 8
MIN_GREEDY_MARGIN = 1e-3
TEXT_PROMPTS = [
    ("code", "def fibonacci(n):\n    if n < 2:\n        return n\n"),
    ("fim-tokens", "<fim_prefix>x = 1<fim_suffix>print(x)<fim_middle>"),
]
FIM_CASES = [
    ("def add(a, b):\n    ", "\n    return c\n"),
    ("import os\n", ""),
    ("", "    return result\n"),
]


@torch.no_grad()
def score(model, ids: list[int]) -> dict:
    logits = model(torch.tensor([ids], dtype=torch.long), use_cache=False).logits[0].double()
    logp = torch.log_softmax(logits, dim=-1)
    rows = logp[:-1]
    targets = torch.tensor(ids[1:], dtype=torch.long)
    chosen = rows.gather(1, targets[:, None])[:, 0]
    top = torch.topk(rows, TOP, dim=-1)
    # Ties would make the alternatives' order ambiguous: refuse a fixture with near-ties.
    gaps = (top.values[:, :-1] - top.values[:, 1:]).min().item()
    assert gaps > 1e-5, f"near-tie among the top {TOP} alternatives ({gaps})"
    return {
        "logprobs": [f32(x) for x in chosen.tolist()],
        "top_ids": top.indices.tolist(),
        "top_logprobs": [[f32(x) for x in row] for row in top.values.tolist()],
    }


def santacoder_tokenizer() -> str:
    text = SOURCE_TOKENIZER.read_text()
    for a, b in (("<fim_prefix>", "<fim-prefix>"), ("<fim_middle>", "<fim-middle>"), ("<fim_suffix>", "<fim-suffix>")):
        assert text.count(a) == 2, a  # once in added_tokens, once in the vocabulary
        text = text.replace(a, b)
    return text


def main() -> int:
    torch.set_num_threads(1)
    tokenizer = Tokenizer.from_file(str(SOURCE_TOKENIZER))
    config = make_config(VOCAB, N_EMBD, N_HEAD, N_LAYER, N_POSITIONS, True, None, True)
    model = build_random_model(config, SEED)
    if OUT_MODEL.exists():
        shutil.rmtree(OUT_MODEL)
    model.save_pretrained(OUT_MODEL)
    shutil.copy(SOURCE_TOKENIZER, OUT_MODEL / "tokenizer.json")
    reference_model = load_float32_eager(OUT_MODEL)

    cases = []
    for name, text in TEXT_PROMPTS:
        ids = tokenizer.encode(text).ids
        cases.append({"name": name, "prompt_text": text, "prompt_ids": ids, **score(reference_model, ids)})
    rng = np.random.default_rng(SEED)
    long_ids = [int(x) for x in rng.integers(5, VOCAB, size=LONG_PROMPT)]
    cases.append({"name": "long", "prompt_text": None, "prompt_ids": long_ids, **score(reference_model, long_ids)})

    fim = []
    for prefix, suffix in FIM_CASES:
        ids = tokenizer.encode("<fim_prefix>" + prefix + "<fim_suffix>" + suffix + "<fim_middle>").ids
        assert ids[0] == 1 and ids[-1] == 2, ids
        chosen, _, margin = greedy(reference_model, ids, GREEDY_TOKENS)
        assert margin > MIN_GREEDY_MARGIN, f"greedy margin {margin} too small for {prefix!r}"
        fim.append({"prefix": prefix, "suffix": suffix, "prompt_ids": ids, "greedy_ids": chosen})

    (OUT_MODEL / "reference.json").write_text(json.dumps(
        {"model": "mqa-long", "tolerance_note": "prompt logprobs within 1e-4", "prompt_logprobs": cases, "fim": fim}) + "\n")

    santa = santacoder_tokenizer()
    (OUT_TOKENIZERS / "fim-santacoder.json").write_text(santa)
    santa_tok = Tokenizer.from_str(santa)
    santa_cases = [{"prefix": p, "suffix": s,
                    "ids": santa_tok.encode("<fim-prefix>" + p + "<fim-suffix>" + s + "<fim-middle>").ids}
                   for p, s in FIM_CASES]
    (OUT_TOKENIZERS / "fim-santacoder.cases.json").write_text(json.dumps({"cases": santa_cases}, indent=1) + "\n")
    print(f"wrote {OUT_MODEL} and {OUT_TOKENIZERS}/fim-santacoder.*")
    return 0


if __name__ == "__main__":
    sys.exit(main())
