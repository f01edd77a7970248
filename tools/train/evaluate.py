#!/usr/bin/env python3
"""Held-out perplexity of the MQA model and its multi-head twin, printed as the quality table.

The held-out split (files never seen by the tokenizer or the models; see prepare.py) is one token
stream: <|endoftext|> file1 <|endoftext|> file2 <|endoftext|> ... Every token after the leading
<|endoftext|> is predicted exactly once, in windows of --context tokens that each start with the
last token of the previous window (so only the first window has a short history; the per-window
history resets, which is the usual non-overlapping evaluation). The <|endoftext|> that ends each
file is predicted and counted (it is part of the text the model must model).

  per-token perplexity = exp(total_nll / predicted_tokens)
  per-byte  perplexity = exp(total_nll / utf8_bytes)   (utf8_bytes = bytes of the held-out files;
                                                         end-of-text tokens add no bytes)
  bits per byte        = total_nll / utf8_bytes / ln 2
NLL is in nats. Per-byte numbers do not depend on the tokenizer, so they compare across vocabularies.

Usage (reproduces the table in models/QUALITY.md from the two equal-budget checkpoints, plus the
shipped model's row):
  /work/venv/bin/python tools/train/evaluate.py --mqa models/train-work/mqa/export \\
      --mha models/train-work/mha/export --shipped models/default
Without those checkpoints (they are not committed), the shipped row alone, the other two as committed:
  /work/venv/bin/python tools/train/evaluate.py --equal-budget models/history/eval_equal_budget.json \
      --shipped models/default --json-out models/train-work/eval.json
"""
import argparse
import json
import math
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from transformers import GPTBigCodeForCausalLM

PAPER = [
    # Shazeer 2019, "Fast Transformer Decoding: One Write-Head is All You Need", Tables 2-3.
    ("multi-head (paper, d_ff 4096)", "29.9", "27.7"),
    ("multi-query (paper, d_ff 5440)", "30.2", "27.5"),
]


def evaluate(folder, data_dir, context, batch_size, limit_windows=0):
    model = GPTBigCodeForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="sdpa")
    model.eval()
    ids = np.fromfile(os.path.join(data_dir, "heldout.bin"), dtype=np.uint16).astype(np.int64)
    with open(os.path.join(data_dir, "manifest.json")) as f:
        nbytes = json.load(f)["heldout"]["bytes"]
    windows = []
    for start in range(0, len(ids) - 1, context):
        windows.append(ids[start:start + context + 1])
    if limit_windows:  # smoke tests only: the byte count below no longer matches, so say so
        windows = windows[:limit_windows]
        ids = ids[:limit_windows * context + 1]
        nbytes = float("nan")
    total_nll, total_tokens = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(windows), batch_size):
            group = windows[i:i + batch_size]
            width = max(len(w) for w in group)
            x = torch.zeros((len(group), width), dtype=torch.long)
            y = torch.full((len(group), width - 1), -100, dtype=torch.long)
            for r, w in enumerate(group):
                x[r, :len(w)] = torch.from_numpy(w)
                y[r, :len(w) - 1] = torch.from_numpy(w[1:])
            logits = model(input_ids=x[:, :-1]).logits.float()
            nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1),
                                                    ignore_index=-100, reduction="sum")
            total_nll += nll.item()
            total_tokens += int((y != -100).sum())
    assert total_tokens == len(ids) - 1
    n_params = sum(p.numel() for p in model.parameters())
    summary = {}
    summary_path = os.path.join(folder, "train_summary.json")
    if os.path.exists(summary_path):
        with open(summary_path) as f:
            summary = json.load(f)
    return {"folder": folder, "params": n_params, "n_inner": model.config.n_inner,
            "multi_query": model.config.multi_query, "tokens": total_tokens, "bytes": nbytes,
            "nll": total_nll, "ppl_token": math.exp(total_nll / total_tokens),
            "ppl_byte": math.exp(total_nll / nbytes), "bits_per_byte": total_nll / nbytes / math.log(2),
            "tokens_seen": summary.get("tokens_seen", 0) + summary.get("tokens_seen_before", 0) or None}


def table(mqa, mha):
    rows = [
        "| Model | Params | FF width | Tokens seen | Held-out ppl / token | Held-out ppl / byte | Bits / byte |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in (("multi-head (ours)", mha), ("multi-query (ours, default model)", mqa)):
        seen = f"{r['tokens_seen']:,}" if r["tokens_seen"] else "?"
        rows.append(f"| {name} | {r['params']:,} | {r['n_inner']} | {seen} | {r['ppl_token']:.3f} | "
                    f"{r['ppl_byte']:.4f} | {r['bits_per_byte']:.4f} |")
    gap_tok = (mqa["ppl_token"] / mha["ppl_token"] - 1) * 100
    gap_bpb = (mqa["bits_per_byte"] / mha["bits_per_byte"] - 1) * 100
    rows += [
        "",
        "| Paper (Shazeer 2019) | Billion-Word ppl / token | WMT14 EN-DE BLEU |",
        "|---|---|---|",
    ] + [f"| {n} | {p} | {b} |" for n, p, b in PAPER]
    rows += [
        "",
        f"Gap, multi-query vs multi-head: ours {gap_tok:+.2f}% per-token perplexity "
        f"({gap_bpb:+.2f}% bits per byte); paper {(30.2 / 29.9 - 1) * 100:+.2f}% perplexity, "
        f"{27.5 - 27.7:+.1f} BLEU.",
        f"Held-out set: {mqa['tokens']:,} predicted tokens, {mqa['bytes']:,} UTF-8 bytes.",
    ]
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mqa", default="models/train-work/mqa/export", help="equal-budget multi-query model")
    ap.add_argument("--mha", default="models/train-work/mha/export", help="equal-budget multi-head twin")
    ap.add_argument("--shipped", default=None,
                    help="also evaluate this folder (the shipped model, trained further; not part of the comparison)")
    ap.add_argument("--equal-budget", default=None, metavar="JSON",
                    help="take the two equal-budget rows from this earlier --json-out (e.g. "
                         "models/history/eval_equal_budget.json) instead of evaluating --mqa and --mha; "
                         "then only --shipped is evaluated")
    ap.add_argument("--data", default="models/train-work/data")
    ap.add_argument("--context", type=int, default=256, help="evaluation window (the training context)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--limit-windows", type=int, default=0, help="smoke test: evaluate only this many windows")
    ap.add_argument("--json-out", default=None)
    ap.add_argument("--markdown-out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    stored = []
    if args.equal_budget:
        if not args.shipped:
            ap.error("--equal-budget evaluates only --shipped; name it")
        with open(args.equal_budget) as f:
            earlier = json.load(f)
        stored = [earlier["mqa"], earlier["mha"]]
    # Each model is evaluated in its own process of --threads threads.
    with ProcessPoolExecutor(max_workers=3, initializer=torch.set_num_threads, initargs=(args.threads,)) as pool:
        folders = ([] if stored else [args.mqa, args.mha]) + ([args.shipped] if args.shipped else [])
        jobs = [pool.submit(evaluate, folder, args.data, args.context, args.batch_size, args.limit_windows)
                for folder in folders]
        results = stored + [j.result() for j in jobs]
    mqa, mha = results[0], results[1]
    md = table(mqa, mha)
    if args.shipped:
        r = results[2]
        md += (f"\nShipped model {args.shipped} (trained further, {r['tokens_seen']:,} tokens; not part of the "
               f"equal-budget comparison): ppl/token {r['ppl_token']:.3f}, ppl/byte {r['ppl_byte']:.4f}, "
               f"bits/byte {r['bits_per_byte']:.4f}.")
    print(md)
    if args.json_out:
        out = {"mqa": mqa, "mha": mha}
        if args.shipped:
            out["shipped"] = results[2]
        with open(args.json_out, "w") as f:
            json.dump(out, f, indent=1)
    if args.markdown_out:
        with open(args.markdown_out, "w") as f:
            f.write(md + "\n")


if __name__ == "__main__":
    sys.exit(main())
