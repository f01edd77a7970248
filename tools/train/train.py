#!/usr/bin/env python3
"""Train one GPTBigCode model (MQA or its multi-head twin) on the prepared stdlib token stream.

Resumable: every --ckpt-minutes it writes <out>/checkpoint/ (a Hugging Face folder, fp32) plus
<out>/checkpoint/trainer_state.pt (optimizer, step, tokens, elapsed time); rerunning the same
command continues from there (give a larger --max-minutes: elapsed time carries over; each
resume is recorded in <out>/resumes.jsonl, run.json keeps the first invocation). Stops at --token-budget or --max-minutes, whichever comes first,
and writes <out>/final/ (HF folder: config.json, model.safetensors, tokenizer.json,
generation_config.json) and appends a line per log step to <out>/log.jsonl.

Data order depends only on --seed and the step number (batch offsets are drawn from
numpy.random.default_rng([seed, step])), so the MQA and MHA runs see exactly the same tokens
in the same order, and a resumed run continues the same sequence.

Hyperparameters (all flags; defaults are the values used for the shipped model):
  --n-embd 256 --n-layer 4 --n-head 8 --n-positions 512   model shape (head_dim 32)
  --attention mqa|mha     mqa: multi_query=true, n_inner widened to match the twin's params;
                          mha: multi_query=false, n_inner = 4 * n_embd
  --context 256 --batch-size 8       tokens per step = 2048 (small batches: more updates for a
                                     small token budget)
  --lr 2e-3 --min-lr-ratio 0.1       AdamW peak LR, cosine decay to lr*ratio at the budget
  --warmup-tokens 40960              linear warmup (20 steps at 2048 tokens/step)
  --betas 0.9 0.95 --eps 1e-8 --weight-decay 0.1 (2-D weights only) --grad-clip 1.0
  --seed 1234 --threads 1

Usage:
  OMP_NUM_THREADS=1 /work/venv/bin/python tools/train/train.py --attention mqa \\
      --out models/train-work/mqa --token-budget 614400 --max-minutes 40
(tools/train/reproduce.sh runs the whole pipeline: data, both models, export, table.)
"""
import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch
from transformers import GPTBigCodeForCausalLM, GenerationConfig

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import EOS_ID, matched_configs  # noqa: E402
from fim import FIM_MIDDLE, FIM_PAD, FIM_PREFIX, FIM_SUFFIX, chunk_window, permute_window  # noqa: E402


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--attention", choices=["mqa", "mha"], required=True)
    ap.add_argument("--data", default="models/train-work/data")
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-embd", type=int, default=256)
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-head", type=int, default=8)
    ap.add_argument("--n-positions", type=int, default=512)
    ap.add_argument("--context", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--warmup-tokens", type=int, default=40960)
    ap.add_argument("--betas", type=float, nargs=2, default=[0.9, 0.95])
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--token-budget", type=int, required=True)
    ap.add_argument("--max-minutes", type=float, default=40.0)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: no limit); for throughput probes")
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--init-from", default=None,
                    help="start a new run (fresh optimizer and schedule) from this HF folder's weights, "
                         "e.g. to continue the shipped model past the equal-budget comparison")
    ap.add_argument("--fim-rate", type=float, default=0.0,
                    help="fraction of document pieces turned into fill-in-the-middle examples (fim.py; "
                         "StarCoder: 0.5; 0 = plain left-to-right, as in phases 1-3)")
    ap.add_argument("--fim-spm-rate", type=float, default=0.5, help="fraction of FIM pieces in SPM order (else PSM)")
    ap.add_argument("--fim-line-rate", type=float, default=0.0,
                    help="fraction of FIM pieces whose middle is whole lines instead of a random character span "
                         "(fim.py; 0 in phases 4-5)")
    ap.add_argument("--fim-max-lines", type=int, default=4, help="most lines in a --fim-line-rate middle")
    ap.add_argument("--fim-end-eos", action="store_true",
                    help="a FIM piece that runs to the end of its window gets <|endoftext|> after its middle "
                         "(fim.py; off in phases 4-5)")
    ap.add_argument("--fim-chunk-rate", type=float, default=0.0,
                    help="fraction of windows cut into function-sized chunks, each its own FIM piece with "
                         "<|endoftext|> after its middle (fim.chunk_window; 0 in phases 4-6); the other "
                         "windows get the --fim-rate transformation")
    ap.add_argument("--fim-chunk-fim-rate", type=float, default=0.9, help="FIM probability of a chunk")
    ap.add_argument("--fim-chunk-min-chars", type=int, default=120, help="shortest chunk (characters)")
    ap.add_argument("--fim-middle-weight", type=float, default=1.0,
                    help="loss weight of the middle tokens of PSM examples (up to and including the <|endoftext|> "
                         "that ends them) relative to every other token (1: plain mean, phases 1-7)")
    ap.add_argument("--fim-sentinel-targets", choices=["train", "mask"], default="train",
                    help="mask: <fim_prefix>, <fim_suffix> and <fim_middle> are never prediction targets (they are "
                         "only ever part of a prompt, which the server builds); train: they are, as in phases 4-8, "
                         "and a model trained on many FIM examples then writes them in plain left-to-right text")
    ap.add_argument("--anneal-by-time", action="store_true",
                    help="decay the LR by wall-clock progress too (elapsed / --max-minutes), whichever is further; "
                         "for a run whose token count the machine's load decides (phase 4)")
    ap.add_argument("--threads", type=int, default=1)
    return ap.parse_args(argv)


def lr_at(step, total_steps, warmup_steps, lr, min_ratio, time_progress=0.0):
    """time_progress (--anneal-by-time): elapsed / max-minutes; the cosine follows whichever of the
    step count and the wall clock is further along, so a run on a loaded machine still ends at the
    minimum LR when --max-minutes stops it."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    progress = min(1.0, max(time_progress, (step - warmup_steps) / max(1, total_steps - warmup_steps)))
    return lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def batch_at(data, step, seed, batch_size, context, fim=None):
    """fim: None, or (tokenizer, keyword arguments of fim.permute_window, --fim-chunk-rate, keyword
    arguments of fim.chunk_window); its random draws come from their own generator seeded by
    (seed, step, 1), so a resumed run makes the same FIM examples. With a chunk rate of 0 no draw
    decides between the two, so phases 4-6 draw exactly as they did."""
    rng = np.random.default_rng([seed, step])
    starts = rng.integers(0, len(data) - context - 1, size=batch_size)
    rows = np.stack([data[s:s + context + 1] for s in starts]).astype(np.int64)
    if fim is not None:
        tok, options, chunk_rate, chunk_options = fim
        fim_rng = np.random.default_rng([seed, step, 1])
        rows = np.stack([chunk_window(r, fim_rng, tok, **chunk_options)
                         if chunk_rate > 0 and fim_rng.binomial(1, chunk_rate) else permute_window(r, fim_rng, tok, **options)
                         for r in rows])
    return torch.from_numpy(rows)


def psm_middle_masks(batch):
    """Boolean masks over the targets (batch[:, 1:]) of PSM examples: every middle token up to and
    including its <|endoftext|>, and the first middle token alone (the jump from <fim_middle> back to
    the end of the prefix). SPM examples (<fim_prefix><fim_suffix>) are left out."""
    b = batch.numpy()
    middle = np.zeros((b.shape[0], b.shape[1] - 1), dtype=bool)
    first = np.zeros_like(middle)
    for r, row in enumerate(b):
        psm, inside = False, False
        for i in range(len(row) - 1):
            t = row[i]
            if t == FIM_PREFIX:
                psm, inside = row[i + 1] != FIM_SUFFIX, False
            elif t == FIM_MIDDLE and psm:
                inside = True
                first[r, i] = True
            elif t == EOS_ID:
                inside = psm = False
            if inside:
                middle[r, i] = row[i + 1] != FIM_PAD
                if row[i + 1] == EOS_ID:
                    inside = psm = False
    return torch.from_numpy(middle), torch.from_numpy(first)


def save_hf(model, folder, data_dir, dtype=None):
    os.makedirs(folder, exist_ok=True)
    m = model if dtype is None else model.to(dtype)
    m.save_pretrained(folder, safe_serialization=True)
    shutil.copy(os.path.join(data_dir, "tokenizer.json"), os.path.join(folder, "tokenizer.json"))
    GenerationConfig(bos_token_id=EOS_ID, eos_token_id=EOS_ID, pad_token_id=EOS_ID).save_pretrained(folder)


def main():
    args = parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    data = np.memmap(os.path.join(args.data, "train.bin"), dtype=np.uint16, mode="r")
    with open(os.path.join(args.data, "manifest.json")) as f:
        vocab_size = json.load(f)["vocab_size"]
    mqa_cfg, mha_cfg, mqa_p, mha_p = matched_configs(vocab_size, args.n_embd, args.n_layer, args.n_head, args.n_positions)
    config = mqa_cfg if args.attention == "mqa" else mha_cfg
    fim = None
    if args.fim_rate > 0 or args.fim_chunk_rate > 0:
        from tokenizers import Tokenizer
        options = {"fim_rate": args.fim_rate, "spm_rate": args.fim_spm_rate, "line_rate": args.fim_line_rate,
                   "max_lines": args.fim_max_lines, "end_eos": args.fim_end_eos}
        chunk_options = {"fim_rate": args.fim_chunk_fim_rate, "spm_rate": args.fim_spm_rate,
                         "line_rate": args.fim_line_rate, "max_lines": args.fim_max_lines,
                         "min_chunk_chars": args.fim_chunk_min_chars}
        fim = (Tokenizer.from_file(os.path.join(args.data, "tokenizer.json")), options, args.fim_chunk_rate, chunk_options)
    tokens_per_step = args.batch_size * args.context
    total_steps = math.ceil(args.token_budget / tokens_per_step)
    warmup_steps = max(1, args.warmup_tokens // tokens_per_step)

    ckpt = os.path.join(args.out, "checkpoint")
    state_path = os.path.join(ckpt, "trainer_state.pt")
    os.makedirs(args.out, exist_ok=True)
    if os.path.exists(state_path):
        model = GPTBigCodeForCausalLM.from_pretrained(ckpt, dtype=torch.float32, attn_implementation="sdpa")
    elif args.init_from:
        model = GPTBigCodeForCausalLM.from_pretrained(args.init_from, dtype=torch.float32, attn_implementation="sdpa")
        config = model.config
    else:
        model = GPTBigCodeForCausalLM._from_config(config, attn_implementation="sdpa")
    model.train()

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=tuple(args.betas), eps=args.eps)
    step, elapsed = 0, 0.0
    if os.path.exists(state_path):
        st = torch.load(state_path, weights_only=False)
        opt.load_state_dict(st["optimizer"])
        step, elapsed = st["step"], st["elapsed_seconds"]
        print(f"resumed at step {step} ({step * tokens_per_step} tokens, {elapsed:.0f}s)", flush=True)

    if step >= total_steps:  # already at the token budget: nothing to do, keep final/ as it is
        print(f"{args.out} already reached its token budget at step {step}; nothing to do", flush=True)
        return
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{args.attention}: n_inner={config.n_inner} params={n_params} (mqa {mqa_p}, mha {mha_p}), "
          f"{total_steps} steps x {tokens_per_step} tokens", flush=True)
    if step == 0:
        with open(os.path.join(args.out, "run.json"), "w") as f:
            json.dump({"args": vars(args), "n_params": n_params, "mqa_params": mqa_p, "mha_params": mha_p,
                       "n_inner": config.n_inner, "total_steps": total_steps, "tokens_per_step": tokens_per_step,
                       "torch": torch.__version__}, f, indent=1)
    else:  # keep the original invocation in run.json; record each resume separately
        with open(os.path.join(args.out, "resumes.jsonl"), "a") as f:
            f.write(json.dumps({"resumed_at_step": step, "resumed_at_tokens": step * tokens_per_step,
                                "elapsed_seconds": round(elapsed, 1), "args": vars(args)}) + "\n")

    log = open(os.path.join(args.out, "log.jsonl"), "a")
    start = time.time() - elapsed
    last_ckpt = time.time()
    window_t, window_tokens, window_loss, window_n = time.time(), 0, 0.0, 0
    window_fim = [0.0, 0, 0.0, 0]  # PSM middle loss sum and count, first-middle-token loss sum and count

    def checkpoint():
        save_hf(model, ckpt, args.data)
        torch.save({"optimizer": opt.state_dict(), "step": step, "elapsed_seconds": time.time() - start}, state_path + ".tmp")
        os.replace(state_path + ".tmp", state_path)

    stop_reason = "token budget"
    while step < total_steps:
        if time.time() - start > args.max_minutes * 60:
            stop_reason = "wall-clock budget"
            break
        if args.max_steps and step >= args.max_steps:
            stop_reason = "max steps"
            break
        time_progress = (time.time() - start) / (args.max_minutes * 60) if args.anneal_by_time else 0.0
        lr = lr_at(step, total_steps, warmup_steps, args.lr, args.min_lr_ratio, time_progress)
        for g in opt.param_groups:
            g["lr"] = lr
        batch = batch_at(data, step, args.seed, args.batch_size, args.context, fim)
        logits = model(input_ids=batch[:, :-1]).logits
        targets = batch[:, 1:].masked_fill(batch[:, 1:] == FIM_PAD, -100)  # FIM padding is not predicted
        if args.fim_sentinel_targets == "mask":
            sentinel = (targets == FIM_PREFIX) | (targets == FIM_SUFFIX) | (targets == FIM_MIDDLE)
            targets = targets.masked_fill(sentinel, -100)
        token_loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                                                       ignore_index=-100, reduction="none").view_as(targets)
        plain_loss = token_loss.sum() / (targets != -100).sum()  # what the log reports, whatever the weights
        loss = plain_loss
        if fim is not None:
            middle, first = psm_middle_masks(batch)
            if args.fim_middle_weight != 1.0:
                weight = (targets != -100).float() + middle.float() * (args.fim_middle_weight - 1.0)
                loss = (token_loss * weight).sum() / weight.sum()
            tl = token_loss.detach()
            window_fim[0] += float(tl[middle].sum()); window_fim[1] += int(middle.sum())
            window_fim[2] += float(tl[first].sum()); window_fim[3] += int(first.sum())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        step += 1
        window_tokens += tokens_per_step
        window_loss += plain_loss.item()
        window_n += 1
        if step % args.log_every == 0 or step == total_steps:
            now = time.time()
            rec = {"step": step, "tokens": step * tokens_per_step, "loss": round(window_loss / window_n, 4),
                   "lr": lr, "grad_norm": round(float(gnorm), 3),
                   "tokens_per_s": round(window_tokens / (now - window_t), 1), "elapsed_s": round(now - start, 1)}
            if window_fim[1]:
                rec.update(psm_middle_loss=round(window_fim[0] / window_fim[1], 4), psm_middles=window_fim[3],
                           psm_first_loss=round(window_fim[2] / max(1, window_fim[3]), 4))
            window_fim = [0.0, 0, 0.0, 0]
            log.write(json.dumps(rec) + "\n")
            log.flush()
            print(json.dumps(rec), flush=True)
            window_t, window_tokens, window_loss, window_n = now, 0, 0.0, 0
        if time.time() - last_ckpt > args.ckpt_minutes * 60:
            checkpoint()
            last_ckpt = time.time()

    checkpoint()
    total = time.time() - start
    final = os.path.join(args.out, "final")
    save_hf(model, final, args.data)
    summary = {"stop_reason": stop_reason, "steps": step, "tokens_seen": step * tokens_per_step,
               "train_seconds": round(total, 1), "mean_tokens_per_s": round(step * tokens_per_step / total, 1),
               "n_params": n_params}
    with open(os.path.join(final, "train_summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
