#!/usr/bin/env python3
"""Generate from a checkpoint folder: the model card's `def fibonacci(n):` sample and FIM probes.

Per prompt: greedy decoding, greedy with repetition penalty 1.2 (the README quick start's setting;
mq applies the penalty exactly as transformers does), and one seeded sample (temperature 0.8,
top-k 40).
The FIM probes format <fim_prefix>PREFIX<fim_suffix>SUFFIX<fim_middle> as StarCoder does (PSM, the
order mq's --suffix builds; fim.py) and decode greedily until <|endoftext|> (at most 32 tokens);
"ended" says whether <|endoftext|> came (else the 32 tokens ran out).

Usage:
  /work/venv/bin/python tools/train/sample.py models/default [--max-new-tokens 96] [--json-out f]
"""
import argparse
import json
import os
import sys

import torch
from tokenizers import Tokenizer
from transformers import GPTBigCodeForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fim import fim_prompt  # noqa: E402

PROMPTS = ["def fibonacci(n):", "class Stack:\n    def __init__(self):", "import os\n\ndef list_python_files(path):"]
FIM = [("def add(a, b):\n    ", "\n    return c"),
       ("def area(width, height):\n    ", "\n    return result\n"),
       ("def greet(name):\n    ", "\n    print(message)\n"),
       ("def read_lines(path):\n    with open(path) as f:\n        ", "\n    return lines\n"),
       ("class Point:\n    def __init__(self, x, y):\n        self.x = x\n", "\n\n    def __repr__(self):\n"
        "        return f'Point({self.x}, {self.y})'\n")]
FIM_MAX_NEW_TOKENS = 32


REPETITION_PENALTY = 1.2


def generate(model, tok, text, max_new_tokens, sample, seed=0, repetition_penalty=1.0, stop_at_eos=False):
    ids = torch.tensor([tok.encode(text).ids])
    torch.manual_seed(seed)
    kwargs = dict(do_sample=True, temperature=0.8, top_k=40) if sample else dict(do_sample=False)
    if repetition_penalty != 1.0:
        kwargs["repetition_penalty"] = repetition_penalty
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=max_new_tokens, eos_token_id=0, pad_token_id=0, **kwargs)
    new = out[0, ids.shape[1]:].tolist()
    if stop_at_eos:
        ended = 0 in new
        return tok.decode(new[:new.index(0)] if ended else new, skip_special_tokens=False), ended
    return tok.decode(new, skip_special_tokens=False)


def run(folder, max_new_tokens=96):
    torch.set_num_threads(1)
    model = GPTBigCodeForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.eval()
    tok = Tokenizer.from_file(f"{folder}/tokenizer.json")
    results = {"samples": [], "repetition_penalty": REPETITION_PENALTY}
    for p in PROMPTS:
        results["samples"].append({"prompt": p,
                                   "greedy": generate(model, tok, p, max_new_tokens, False),
                                   "greedy_repetition_penalty": generate(model, tok, p, max_new_tokens, False,
                                                                         repetition_penalty=REPETITION_PENALTY),
                                   "sampled_seed0": generate(model, tok, p, max_new_tokens, True, 0)})
    results["fim"] = []
    for prefix, suffix in FIM:
        middle, ended = generate(model, tok, fim_prompt(prefix, suffix), FIM_MAX_NEW_TOKENS, False, stop_at_eos=True)
        results["fim"].append({"prefix": prefix, "suffix": suffix, "middle_greedy": middle, "ended": ended})
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--json-out")
    args = ap.parse_args()
    res = run(args.folder, args.max_new_tokens)
    for s in res["samples"]:
        print(f"=== prompt (greedy) ===\n{s['prompt']}{s['greedy']}\n")
        print(f"=== prompt (greedy, repetition penalty {REPETITION_PENALTY}) ===\n{s['prompt']}{s['greedy_repetition_penalty']}\n")
        print(f"=== prompt (sampled, T=0.8, top-k 40, seed 0) ===\n{s['prompt']}{s['sampled_seed0']}\n")
    for f in res["fim"]:
        print(f"=== FIM middle for prefix {f['prefix']!r} suffix {f['suffix']!r} ===\n{f['middle_greedy']!r}"
              + ("" if f["ended"] else " (no <|endoftext|> within 32 tokens)"))
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
