#!/usr/bin/env python3
"""Converts a multi-query GPTBigCode checkpoint into SantaCoder's original GPT-2 layout.

SantaCoder (bigcode/santacoder) and its fine-tunes were first published as `GPT2LMHeadCustomModel`
(remote code modeling_gpt2_mq.py, `model_type: gpt2`, `attention_head_type: multiquery`). That layout
differs from GPTBigCode only in storage:
  * every matrix is a GPT-2 Conv1D weight stored [in, out], the transpose of nn.Linear's [out, in];
  * attention is either one `attn.c_attn` ([E, E + 2D], columns [Q | K | V]) or, as in the first
    upload and Megatron-LM's converter, `attn.q_attn` ([E, E]) plus `attn.kv_attn` ([E, 2D], columns [K | V]);
  * the config uses GPT-2's keys (n_embd, n_head, n_layer, n_positions, n_inner, activation_function,
    scale_attn_weights, ...) with attention_head_type "multiquery" and SantaCoder's auto_map.
The computation is the same, so the converted folder reuses the original's reference.json: a correct
loader must reproduce the original's logits and greedy tokens. transformers does not ship this class,
which is why the reference comes from the original rather than from running the converted files.

Writes, from Tests/Fixtures/models/mqa by default:
    Tests/Fixtures/models/santacoder-fused/   attn.c_attn, explicit n_inner, activation gelu_fast
    Tests/Fixtures/models/santacoder-split/   attn.q_attn + attn.kv_attn, n_inner null
each with config.json, model.safetensors (F32; the head stays tied to transformer.wte, so no
lm_head.weight), generation_config.json, tokenizer.json (copied) and reference.json (the original's
cases, with "model" renamed and "converted_from" added).

Usage (from the repository root):
    /work/venv/bin/python tools/convert_santacoder_layout.py [--source Tests/Fixtures/models/mqa] [--out Tests/Fixtures/models]
Deterministic; fails if the source is not a multi-query GPTBigCode checkpoint or if a converted tensor
does not transpose back to its original exactly.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

REPO_ROOT = Path(__file__).resolve().parent.parent


def load_source(folder: Path) -> tuple[dict, dict[str, np.ndarray]]:
    config = json.loads((folder / "config.json").read_text())
    if config.get("model_type") != "gpt_bigcode" or not config.get("multi_query", True):
        raise SystemExit(f"{folder}: expected a multi_query gpt_bigcode checkpoint")
    index = folder / "model.safetensors.index.json"
    files = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists() else ["model.safetensors"]
    tensors: dict[str, np.ndarray] = {}
    for f in files:
        tensors.update(load_file(folder / f))
    if any(t.dtype != np.float32 for t in tensors.values()):
        raise SystemExit(f"{folder}: expected F32 tensors (numpy cannot hold BF16; convert an F32 fixture)")
    return config, tensors


def conv1d(linear_weight: np.ndarray) -> np.ndarray:
    """nn.Linear [out, in] → GPT-2 Conv1D [in, out]."""
    return np.ascontiguousarray(linear_weight.T)


def convert(config: dict, tensors: dict[str, np.ndarray], split: bool) -> tuple[dict, dict[str, np.ndarray]]:
    e, heads, layers = config["n_embd"], config["n_head"], config["n_layer"]
    d = e // heads
    out: dict[str, np.ndarray] = {}
    for name in ("transformer.wte.weight", "transformer.wpe.weight", "transformer.ln_f.weight", "transformer.ln_f.bias"):
        out[name] = tensors[name]
    if "lm_head.weight" in tensors and not config.get("tie_word_embeddings", True):
        out["lm_head.weight"] = tensors["lm_head.weight"]
    for i in range(layers):
        p = f"transformer.h.{i}."
        for n in ("ln_1.weight", "ln_1.bias", "ln_2.weight", "ln_2.bias", "attn.c_proj.bias", "mlp.c_fc.bias", "mlp.c_proj.bias"):
            out[p + n] = tensors[p + n]
        for n in ("attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"):
            out[p + n] = conv1d(tensors[p + n])
        w, b = tensors[p + "attn.c_attn.weight"], tensors[p + "attn.c_attn.bias"]  # rows [Q (E) | K (D) | V (D)]
        if w.shape != (e + 2 * d, e):
            raise SystemExit(f"{p}attn.c_attn.weight has shape {w.shape}, expected {(e + 2 * d, e)}")
        if split:
            out[p + "attn.q_attn.weight"] = conv1d(w[:e])
            out[p + "attn.q_attn.bias"] = np.ascontiguousarray(b[:e])
            out[p + "attn.kv_attn.weight"] = conv1d(w[e:])
            out[p + "attn.kv_attn.bias"] = np.ascontiguousarray(b[e:])
        else:
            out[p + "attn.c_attn.weight"] = conv1d(w)
            out[p + "attn.c_attn.bias"] = b
    new_config = {
        "activation_function": "gelu_fast" if not split else config.get("activation_function", "gelu_pytorch_tanh"),
        "architectures": ["GPT2LMHeadCustomModel"],
        "attention_head_type": "multiquery",
        "attn_pdrop": config.get("attn_pdrop", 0.0),
        "auto_map": {
            "AutoConfig": "configuration_gpt2_mq.GPT2CustomConfig",
            "AutoModelForCausalLM": "modeling_gpt2_mq.GPT2LMHeadCustomModel",
        },
        "bos_token_id": config["bos_token_id"],
        "embd_pdrop": config.get("embd_pdrop", 0.0),
        "eos_token_id": config["eos_token_id"],
        "initializer_range": config.get("initializer_range", 0.02),
        "layer_norm_epsilon": config["layer_norm_epsilon"],
        "model_type": "gpt2",
        "n_embd": e,
        "n_head": heads,
        # SantaCoder wrote n_inner out (8192); null means 4 * n_embd, as in GPT-2.
        "n_inner": None if split else (config.get("n_inner") or 4 * e),
        "n_layer": layers,
        "n_positions": config["n_positions"],
        "reorder_and_upcast_attn": False,
        "resid_pdrop": config.get("resid_pdrop", 0.0),
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": config.get("scale_attn_weights", True),
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": config["vocab_size"],
    }
    if config.get("tie_word_embeddings", True) is False:
        new_config["tie_word_embeddings"] = False
    return new_config, out


def verify(original: dict[str, np.ndarray], converted: dict[str, np.ndarray]) -> None:
    """Every original tensor must be recoverable exactly from the converted ones."""
    for name, t in original.items():
        if name.endswith("attn.c_attn.weight"):
            p = name[: -len("c_attn.weight")]
            back = converted[p + "c_attn.weight"].T if p + "c_attn.weight" in converted else np.concatenate(
                [converted[p + "q_attn.weight"].T, converted[p + "kv_attn.weight"].T])
        elif name.endswith("attn.c_attn.bias"):
            p = name[: -len("c_attn.bias")]
            back = converted[p + "c_attn.bias"] if p + "c_attn.bias" in converted else np.concatenate(
                [converted[p + "q_attn.bias"], converted[p + "kv_attn.bias"]])
        elif name.endswith(("c_proj.weight", "c_fc.weight")):
            back = converted[name].T
        elif name == "lm_head.weight" and name not in converted:
            continue  # tied
        else:
            back = converted[name]
        if back.shape != t.shape or not np.array_equal(back, t):
            raise SystemExit(f"conversion of {name} does not round-trip")


def write(source: Path, out: Path, split: bool) -> None:
    config, tensors = load_source(source)
    new_config, new_tensors = convert(config, tensors, split)
    verify(tensors, new_tensors)
    name = "santacoder-split" if split else "santacoder-fused"
    folder = out / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(new_config, indent=2, sort_keys=True) + "\n")
    save_file(dict(sorted(new_tensors.items())), folder / "model.safetensors", metadata={"format": "pt"})
    for f in ("generation_config.json", "tokenizer.json"):
        shutil.copyfile(source / f, folder / f)
    reference = json.loads((source / "reference.json").read_text())
    reference = {"model": name, "converted_from": source.name,
                 **{k: v for k, v in reference.items() if k != "model"}}
    (folder / "reference.json").write_text(json.dumps(reference, separators=(",", ":")) + "\n", encoding="utf-8")
    layout = "q_attn + kv_attn" if split else "c_attn"
    print(f"{folder}: {len(new_tensors)} tensors ({layout}), reference from {source}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=REPO_ROOT / "Tests/Fixtures/models/mqa")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "Tests/Fixtures/models")
    args = parser.parse_args(argv)
    for split in (False, True):
        write(args.source, args.out, split)
    return 0


if __name__ == "__main__":
    sys.exit(main())
