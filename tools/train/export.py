#!/usr/bin/env python3
"""Convert a trained fp32 checkpoint folder into a shippable F16 Hugging Face folder.

Writes config.json (model_type gpt_bigcode, bos/eos 0), model.safetensors (F16; the tied
lm_head is stored once, as transformer.wte.weight), tokenizer.json, tokenizer_config.json,
generation_config.json and training_info.json (run arguments, summary, data manifest without
the file lists). Reloads the result with transformers and checks the logits against the fp32
source on a held-out window, so a bad conversion fails here and not in mq.

Usage:
  /work/venv/bin/python tools/train/export.py models/train-work/mqa/final models/default
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch
from transformers import GPTBigCodeForCausalLM, GenerationConfig

EOS = "<|endoftext|>"


def tokens_before(init_from):
    """Tokens seen by the chain of runs a continued run started from (each run's run.json names
    the folder it was initialised from, if any)."""
    total = 0
    while init_from:
        with open(os.path.join(init_from, "train_summary.json")) as f:
            s = json.load(f)
        total += s["tokens_seen"]
        if "tokens_seen_before" in s:  # an exported folder (e.g. models/default) already counts its chain
            return total + s["tokens_seen_before"]
        run = os.path.join(os.path.dirname(os.path.abspath(init_from)), "run.json")
        if not os.path.exists(run):
            break
        with open(run) as f:
            init_from = json.load(f)["args"].get("init_from")
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--data", default="models/train-work/data")
    ap.add_argument("--tokens-before", type=int, default=None,
                    help="tokens seen by the runs before this one, instead of walking the chain of --init-from "
                         "folders (needed when a run started from a folder that was overwritten since, e.g. "
                         "phase 4 from models/default, now phase 4's own export)")
    args = ap.parse_args()
    torch.set_num_threads(1)

    model = GPTBigCodeForCausalLM.from_pretrained(args.src, dtype=torch.float32)
    model.eval()
    os.makedirs(args.dst, exist_ok=True)
    half = GPTBigCodeForCausalLM.from_pretrained(args.src, dtype=torch.float32).to(torch.float16)
    half.config.dtype = "float16"
    half.save_pretrained(args.dst, safe_serialization=True)
    shutil.copy(os.path.join(args.src, "tokenizer.json"), os.path.join(args.dst, "tokenizer.json"))
    with open(os.path.join(args.dst, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": EOS, "eos_token": EOS,
                   "unk_token": None, "pad_token": EOS, "model_max_length": model.config.n_positions,
                   "add_prefix_space": False}, f, indent=1)
    GenerationConfig(bos_token_id=0, eos_token_id=0, pad_token_id=0).save_pretrained(args.dst)

    info = {}
    run_dir = os.path.dirname(os.path.abspath(args.src))
    for name, path in (("run", os.path.join(run_dir, "run.json")),
                       ("summary", os.path.join(args.src, "train_summary.json")),
                       ("data", os.path.join(args.data, "manifest.json"))):
        if os.path.exists(path):
            with open(path) as f:
                info[name] = json.load(f)
    resumes = os.path.join(run_dir, "resumes.jsonl")
    if os.path.exists(resumes):
        with open(resumes) as f:
            info["resumes"] = [json.loads(line) for line in f if line.strip()]
    for split in ("train", "heldout"):
        info.get("data", {}).get(split, {}).pop("paths", None)
    with open(os.path.join(args.dst, "training_info.json"), "w") as f:
        json.dump(info, f, indent=1)
    if "summary" in info:
        summary = dict(info["summary"])
        init_from = info.get("run", {}).get("args", {}).get("init_from")
        if args.tokens_before is not None:
            summary["tokens_seen_before"] = args.tokens_before
        elif init_from:  # a continued run: count the tokens its starting weights had already seen
            summary["tokens_seen_before"] = tokens_before(init_from)
        with open(os.path.join(args.dst, "train_summary.json"), "w") as f:
            json.dump(summary, f, indent=1)

    # Check: the F16 folder reloads and agrees with the fp32 source.
    reloaded = GPTBigCodeForCausalLM.from_pretrained(args.dst, dtype=torch.float32)
    reloaded.eval()
    ids = np.fromfile(os.path.join(args.data, "heldout.bin"), dtype=np.uint16)[:257].astype(np.int64)
    x = torch.from_numpy(ids)[None]
    with torch.no_grad():
        a = model(input_ids=x).logits
        b = reloaded(input_ids=x).logits
    worst = (a - b).abs().max().item()
    agree = (a.argmax(-1) == b.argmax(-1)).float().mean().item()
    print(f"exported {args.src} -> {args.dst}: max |logit diff| {worst:.4f}, argmax agreement {agree:.4f}")
    if worst > 0.25 or agree < 0.97:
        sys.exit(f"F16 export of {args.src} diverges from fp32 (max diff {worst}, agreement {agree})")
    size = sum(os.path.getsize(os.path.join(args.dst, f)) for f in os.listdir(args.dst))
    print(f"{args.dst}: {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
