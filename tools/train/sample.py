#!/usr/bin/env python3
"""Generate from a checkpoint folder: the model card's `def fibonacci(n):` sample and a FIM probe.

Per prompt: greedy decoding, greedy with repetition penalty 1.2 (the README quick start's setting;
mq applies the penalty exactly as transformers does), and one seeded sample (temperature 0.8,
top-k 40).
The FIM probe formats <fim_prefix>PREFIX<fim_suffix>SUFFIX<fim_middle> as StarCoder does; the
default model was NOT trained with fill-in-the-middle, so this only shows what the tokens do.

Usage:
  /work/venv/bin/python tools/train/sample.py models/default [--max-new-tokens 96] [--json-out f]
"""
import argparse
import json
import sys

import torch
from tokenizers import Tokenizer
from transformers import GPTBigCodeForCausalLM

PROMPTS = ["def fibonacci(n):", "class Stack:\n    def __init__(self):", "import os\n\ndef list_python_files(path):"]
FIM = ("def add(a, b):\n    ", "\n\nprint(add(1, 2))\n")


REPETITION_PENALTY = 1.2


def generate(model, tok, text, max_new_tokens, sample, seed=0, repetition_penalty=1.0):
    ids = torch.tensor([tok.encode(text).ids])
    torch.manual_seed(seed)
    kwargs = dict(do_sample=True, temperature=0.8, top_k=40) if sample else dict(do_sample=False)
    if repetition_penalty != 1.0:
        kwargs["repetition_penalty"] = repetition_penalty
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=max_new_tokens, eos_token_id=0, pad_token_id=0, **kwargs)
    return tok.decode(out[0, ids.shape[1]:].tolist(), skip_special_tokens=False)


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
    prefix, suffix = FIM
    fim_prompt = f"<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>"
    results["fim"] = {"prefix": prefix, "suffix": suffix,
                      "middle_greedy": generate(model, tok, fim_prompt, 24, False)}
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
    print(f"=== FIM middle for prefix {res['fim']['prefix']!r} suffix {res['fim']['suffix']!r} ===\n"
          f"{res['fim']['middle_greedy']!r}")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
