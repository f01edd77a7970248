#!/usr/bin/env python3
"""What 8-bit weights cost a model, measured by mq itself (README "8-bit weights"):
  1. held-out perplexity per token at the stored precision and at q8_0 (`mq perplexity`, windows as
     tools/train/evaluate.py; compare the stored number with evaluate.py's transformers number);
  2. greedy-token agreement: every prompt of the golden fixtures (Tests/Fixtures/models/*/reference.json,
     token ids that fit the model's vocabulary) decoded greedily for --max-tokens tokens with stored and
     with q8_0 weights; reports tokens equal position by position and the shared prefix.
Usage (after `swift build -c release`; rerun after the default model changes):
  tools/q8_accuracy.py [--model models/default] [--tokens models/train-work/data/heldout.bin] [--max-tokens 32]
"""
import argparse
import glob
import json
import os
import subprocess
import sys

def mq(binary, *args):
    out = subprocess.run([binary, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/default")
    ap.add_argument("--tokens", default="models/train-work/data/heldout.bin", help="uint16 token ids (tools/train/prepare.py)")
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mq", default=".build/release/mq")
    ap.add_argument("--skip-perplexity", action="store_true")
    args = ap.parse_args()
    threads = ["--threads", str(args.threads)]
    if not args.skip_perplexity:
        if not os.path.exists(args.tokens):
            sys.exit(f"q8_accuracy: {args.tokens} not found (tools/train/prepare.py writes it), or pass --skip-perplexity")
        ppl = {w: mq(args.mq, "perplexity", "--model", args.model, "--tokens", args.tokens, "--weights", w, "--json", *threads)
               for w in ("stored", "q8_0")}
        s, q = ppl["stored"], ppl["q8_0"]
        print(f"perplexity: {s['weights']} {s['perplexity']:.4f}, q8_0 {q['perplexity']:.4f} "
              f"({(q['perplexity'] / s['perplexity'] - 1) * 100:+.3f}%) over {s['predicted_tokens']} tokens")
    vocab = json.load(open(os.path.join(args.model, "config.json")))["vocab_size"]
    prompts = []
    for ref in sorted(glob.glob("Tests/Fixtures/models/*/reference.json")):
        for case in json.load(open(ref)).get("cases", []):   # (mqa-long holds prompt-logprob and FIM fixtures only)
            if case["prompt_ids"] and max(case["prompt_ids"]) < vocab:
                prompts.append(case["prompt_ids"])
    same = total = prefix = 0
    for ids in prompts:
        run = lambda w: mq(args.mq, "run", "--model", args.model, "--prompt-ids", ",".join(map(str, ids)),
                           "--max-tokens", str(args.max_tokens), "--weights", w, "--json", *threads)["token_ids"]
        a, b = run("stored"), run("q8_0")
        n = min(len(a), len(b))
        same += sum(x == y for x, y in zip(a, b))
        total += max(len(a), len(b))
        k = 0
        while k < n and a[k] == b[k]:
            k += 1
        prefix += k
    print(f"greedy agreement over {len(prompts)} fixture prompts x {args.max_tokens} tokens: "
          f"{same}/{total} tokens equal by position ({same / total * 100:.1f}%), "
          f"{prefix}/{total} in the shared prefix before the first difference ({prefix / total * 100:.1f}%)")

if __name__ == "__main__":
    main()
