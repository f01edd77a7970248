#!/usr/bin/env python3
"""Compare mq's named intermediate tensors with transformers', tap by tap, and name the first divergence.

mq writes its taps with `mq run --model DIR --prompt-ids 1,2,3 --dump-activations OUT` into
OUT/activations.safetensors: F32 tensors [tokens, width] named (global layer numbers N)

    embed              token (+ position) embedding, the input of layer 0
    layer.N.attn_out   attention output after its output projection, before the residual add
    layer.N.block_out  residual stream after layer N
    final_norm         ln_f of every prompt row
    logits             [tokens, vocab]

with __metadata__ {"order": "embed,layer.0.attn_out,...", "prompt_ids": "1,2,3", ...}.

This script runs transformers (float32 from the checkpoint as stored, eager attention, one CPU thread,
no KV cache) on the same prompt (the dump's prompt_ids unless --prompt-ids is given) and collects the
same taps: embed = hidden_states[0]; layer.N.attn_out = the output of block N's attention module (a
forward hook on `attn` / `self_attention`); layer.N.block_out = the output of block N (a hook; note that
transformers' hidden_states[N + 1] is the same tensor for N < L - 1, but hidden_states[L] is already
after ln_f); final_norm = hidden_states[L] (checked equal to ln_f's output); logits = out.logits.
It prints max |mq - transformers| per tap in mq's order and names the first tap over --tolerance.
Exit status 0 when all taps agree, 1 on a divergence, 2 on a usage or run error.

Handles model_type gpt_bigcode, falcon (and RefinedWeb*) and plain gpt2 (not SantaCoder's original
multi-query gpt2 layout, which transformers cannot load).

--save-reference FILE writes transformers' taps in mq's format instead of (or besides) comparing; the
Swift test Tests/MQModelTests/ActivationTapsTests.swift reads such a file (Tests/Fixtures/activations/).

Usage (from the repository root; needs torch and transformers in /work/venv):
  .build/debug/mq run --model Tests/Fixtures/models/mqa --prompt-ids 17,4,300,42 --dump-activations /tmp/taps
  /work/venv/bin/python tools/compare_activations.py --model Tests/Fixtures/models/mqa --dump /tmp/taps
  /work/venv/bin/python tools/compare_activations.py --model Tests/Fixtures/models/mqa --prompt-ids 17,4,300,42 \
      --save-reference Tests/Fixtures/activations/mqa.safetensors
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

DEFAULT_TOLERANCE = 1e-4
DUMP_FILE = "activations.safetensors"


class ToolError(Exception):
    """A usage or run error: exit status 2."""


def parse_ids(text: str) -> list[int]:
    ids = [int(x) for x in text.replace(",", " ").split()]
    if not ids:
        raise argparse.ArgumentTypeError("--prompt-ids is empty")
    return ids


def read_dump(path: Path) -> tuple[dict[str, np.ndarray], list[str], dict[str, str]]:
    """Tensors, their recorded order, and the metadata of an mq activations file (or a folder holding one)."""
    if path.is_dir():
        path = path / DUMP_FILE
    if not path.exists():
        raise ToolError(f"{path} not found (write it with `mq run ... --dump-activations DIR`)")
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    order = [n for n in meta.get("order", "").split(",") if n in tensors]
    order += sorted(n for n in tensors if n not in order)
    return tensors, order, meta


def transformers_taps(model_dir: Path, ids: list[int]) -> tuple[dict[str, np.ndarray], list[str], str]:
    """transformers' taps for one prompt, in mq's names and order, and its version string."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    config = json.loads((model_dir / "config.json").read_text())
    kind = config.get("model_type")
    if kind == "gpt2" and config.get("attention_head_type", "multihead") == "multiquery":
        raise ToolError("SantaCoder's original multi-query gpt2 layout cannot be loaded by transformers")
    if kind not in ("gpt_bigcode", "gpt2", "falcon", "RefinedWeb", "RefinedWebModel"):
        raise ToolError(f"model_type {kind!r} is not handled (gpt_bigcode, gpt2, falcon)")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    body = model.transformer
    blocks = list(body.h)
    captured: dict[str, np.ndarray] = {}

    def first(output):
        return output[0] if isinstance(output, (tuple, list)) else output

    def hook(name):
        def f(_module, _inputs, output):
            captured[name] = first(output)[0].detach().float().numpy().copy()
        return f

    handles = []
    for n, block in enumerate(blocks):
        attn = getattr(block, "attn", None) or getattr(block, "self_attention")
        handles.append(attn.register_forward_hook(hook(f"layer.{n}.attn_out")))
        handles.append(block.register_forward_hook(hook(f"layer.{n}.block_out")))
    handles.append(body.ln_f.register_forward_hook(hook("final_norm_hook")))
    with torch.no_grad():
        out = model(torch.tensor([ids], dtype=torch.long), use_cache=False, output_hidden_states=True)
    for h in handles:
        h.remove()
    hs = [h[0].float().numpy() for h in out.hidden_states]
    if len(hs) != len(blocks) + 1:
        raise ToolError(f"expected {len(blocks) + 1} hidden states, got {len(hs)}")
    if not np.array_equal(hs[-1], captured["final_norm_hook"]):
        raise ToolError("hidden_states[-1] is not ln_f's output: this transformers version maps differently")
    for n in range(len(blocks) - 1):
        if not np.array_equal(hs[n + 1], captured[f"layer.{n}.block_out"]):
            raise ToolError(f"hidden_states[{n + 1}] differs from block {n}'s output")
    taps = {"embed": hs[0]}
    order = ["embed"]
    for n in range(len(blocks)):
        for part in ("attn_out", "block_out"):
            name = f"layer.{n}.{part}"
            taps[name] = captured[name]
            order.append(name)
    taps["final_norm"] = hs[-1]
    taps["logits"] = out.logits[0].float().numpy()
    order += ["final_norm", "logits"]
    return taps, order, f"transformers {transformers.__version__}, torch {torch.__version__}"


def compare(mq: dict[str, np.ndarray], order: list[str], ref: dict[str, np.ndarray], tol: float) -> str | None:
    """Prints max |difference| per tap in `order`; returns the first tap over `tol` (or of another shape)."""
    first = None
    width = max(len(n) for n in order)
    for name in order:
        if name not in ref:
            print(f"  {name:<{width}}  (not in the reference)")
            continue
        a, b = mq[name], ref[name]
        if a.shape != b.shape:
            print(f"  {name:<{width}}  shape {list(a.shape)} vs reference {list(b.shape)}")
            first = first or name
            continue
        d = np.abs(a.astype(np.float64) - b.astype(np.float64))
        worst = float(np.nanmax(d)) if np.isfinite(d).all() else float("inf")
        at = np.unravel_index(int(np.argmax(np.nan_to_num(d, nan=np.inf))), d.shape)
        over = worst > tol
        print(f"  {name:<{width}}  max |diff| {worst:.3g} at {list(map(int, at))}" + ("   <-- over tolerance" if over else ""))
        if over and first is None:
            first = name
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="checkpoint folder (config.json + safetensors)")
    parser.add_argument("--dump", type=Path, help="mq's --dump-activations folder (or its activations.safetensors)")
    parser.add_argument("--prompt-ids", type=parse_ids, help="default: the prompt_ids recorded in the dump")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE, help="max |difference| per tap")
    parser.add_argument("--save-reference", type=Path, metavar="FILE", help="write transformers' taps in mq's format")
    args = parser.parse_args(argv)
    try:
        if not (args.model / "config.json").exists():
            raise ToolError(f"{args.model}/config.json not found")
        mq = order = None
        ids = args.prompt_ids
        if args.dump:
            mq, order, meta = read_dump(args.dump)
            recorded = [int(x) for x in meta.get("prompt_ids", "").split(",") if x]
            if ids is None:
                ids = recorded
            elif recorded and recorded != ids:
                raise ToolError(f"--prompt-ids {ids} differ from the dump's prompt_ids {recorded}")
        if not ids:
            raise ToolError("no prompt: pass --prompt-ids or a --dump that records prompt_ids")
        if not args.dump and not args.save_reference:
            raise ToolError("pass --dump DIR (compare) and/or --save-reference FILE")
        ref, ref_order, version = transformers_taps(args.model, ids)
        if args.save_reference:
            args.save_reference.parent.mkdir(parents=True, exist_ok=True)
            meta = {"format": "mq-activations", "order": ",".join(ref_order), "prompt_ids": ",".join(map(str, ids)),
                    "model": args.model.name, "source": version}
            save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in ref.items()}, str(args.save_reference), metadata=meta)
            print(f"wrote {len(ref)} transformers taps to {args.save_reference}")
        if mq is None:
            return 0
        print(f"model {args.model}; prompt ids {ids}; {version}; tolerance {args.tolerance:g}")
        first = compare(mq, order, ref, args.tolerance)
        if first:
            print(f"FIRST DIVERGENCE: {first}")
            return 1
        print("PASS: every tap within tolerance")
        return 0
    except ToolError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
