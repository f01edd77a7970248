#!/usr/bin/env python3
"""Random-weight checkpoints with the shapes of real models, for benchmarking mq.

Writes a Hugging Face model folder (config.json, generation_config.json, model.safetensors and, unless
--no-tokenizer, a tokenizer.json) straight from numpy, tensor by tensor, without building a torch model:
a 164M-parameter checkpoint takes seconds and little memory.

Shapes:
  tiny_starcoder      bigcode/tiny_starcoder_py: GPTBigCode, 20 layers, n_embd 768, 12 heads,
                      multi_query (1 KV head of 64), n_inner 3072, vocab 49152, n_positions 8192
  tiny_starcoder_mha  the same with multi_query false (12 KV heads): the multi-head twin
  falcon7b_layer      tiiuae/falcon-7b shapes (hidden 4544, 71 heads of 64, 1 KV head, ffn 18176,
                      vocab 65024, parallel attention, no biases); 1 layer unless --layers

Usage (from the repository root; models/bench/ is gitignored):
  /work/venv/bin/python tools/make_bench_checkpoint.py --shape tiny_starcoder --out models/bench/tiny_starcoder
  /work/venv/bin/python tools/make_bench_checkpoint.py --shape tiny_starcoder_mha --dtype f16 \
      --out models/bench/tiny_starcoder_mha_f16
  /work/venv/bin/python tools/make_bench_checkpoint.py --shape falcon7b_layer --dtype bf16 --layers 2 \
      --out models/bench/falcon7b_2layers
  add --verify to load the result with transformers and check every name and shape (needs torch).

Values: matrices and embeddings N(0, 0.02), biases N(0, 0.02), LayerNorm weights 1 + N(0, 0.02), so no
activation overflows in F16. The tokenizer is copied from Tests/Fixtures/models/mqa (512 tokens): it
cannot decode ids >= 512, so benchmark with --prompt-ids and look at token ids, not text.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURE_TOKENIZER = REPO_ROOT / "Tests" / "Fixtures" / "models" / "mqa" / "tokenizer.json"
WEIGHT_STD = 0.02
CHUNK_ELEMENTS = 1 << 24  # random numbers are drawn and converted 64 MiB (f32) at a time
SAFETENSORS_DTYPE = {"f32": "F32", "f16": "F16", "bf16": "BF16"}
CONFIG_DTYPE = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}
BYTES_PER_ELEMENT = {"f32": 4, "f16": 2, "bf16": 2}


@dataclasses.dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]
    kind: str  # "matrix" | "bias" | "norm_weight"


# ---------------------------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------------------------


def gpt_bigcode_shape(multi_query: bool) -> dict:
    return {
        "activation_function": "gelu_pytorch_tanh",
        "architectures": ["GPTBigCodeForCausalLM"],
        "attention_softmax_in_fp32": True,
        "attn_pdrop": 0.1,
        "bos_token_id": 0,
        "embd_pdrop": 0.1,
        "eos_token_id": 0,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt_bigcode",
        "multi_query": multi_query,
        "n_embd": 768,
        "n_head": 12,
        "n_inner": 3072,
        "n_layer": 20,
        "n_positions": 8192,
        "resid_pdrop": 0.1,
        "scale_attention_softmax_in_fp32": True,
        "scale_attn_weights": True,
        "use_cache": True,
        "vocab_size": 49152,
    }


def gpt_bigcode_tensors(config: dict) -> list[Tensor]:
    # V = vocab, P = positions, E = n_embd, I = n_inner, hd = head dim; nn.Linear weights are [out, in].
    v, p, e = config["vocab_size"], config["n_positions"], config["n_embd"]
    inner = config["n_inner"] or 4 * e
    head_dim = e // config["n_head"]
    qkv = e + 2 * head_dim if config["multi_query"] else 3 * e  # MQA: [q (E) | k (hd) | v (hd)]
    tensors = [Tensor("transformer.wte.weight", (v, e), "matrix"), Tensor("transformer.wpe.weight", (p, e), "matrix")]
    for i in range(config["n_layer"]):
        h = f"transformer.h.{i}"
        tensors += [
            Tensor(f"{h}.ln_1.weight", (e,), "norm_weight"),
            Tensor(f"{h}.ln_1.bias", (e,), "bias"),
            Tensor(f"{h}.attn.c_attn.weight", (qkv, e), "matrix"),
            Tensor(f"{h}.attn.c_attn.bias", (qkv,), "bias"),
            Tensor(f"{h}.attn.c_proj.weight", (e, e), "matrix"),
            Tensor(f"{h}.attn.c_proj.bias", (e,), "bias"),
            Tensor(f"{h}.ln_2.weight", (e,), "norm_weight"),
            Tensor(f"{h}.ln_2.bias", (e,), "bias"),
            Tensor(f"{h}.mlp.c_fc.weight", (inner, e), "matrix"),
            Tensor(f"{h}.mlp.c_fc.bias", (inner,), "bias"),
            Tensor(f"{h}.mlp.c_proj.weight", (e, inner), "matrix"),
            Tensor(f"{h}.mlp.c_proj.bias", (e,), "bias"),
        ]
    tensors += [Tensor("transformer.ln_f.weight", (e,), "norm_weight"), Tensor("transformer.ln_f.bias", (e,), "bias")]
    return tensors  # lm_head is tied to wte (tie_word_embeddings defaults to true), as in tiny_starcoder_py


def falcon7b_shape() -> dict:
    return {
        "alibi": False,
        "apply_residual_connection_post_layernorm": False,
        "architectures": ["FalconForCausalLM"],
        "attention_dropout": 0.0,
        "bias": False,
        "bos_token_id": 11,
        "eos_token_id": 11,
        "hidden_dropout": 0.0,
        "hidden_size": 4544,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "falcon",
        "multi_query": True,
        "new_decoder_architecture": False,
        "num_attention_heads": 71,
        "num_hidden_layers": 1,
        "parallel_attn": True,
        "use_cache": True,
        "vocab_size": 65024,
    }


def falcon_tensors(config: dict) -> list[Tensor]:
    # V = vocab, E = hidden, F = 4E (ffn), hd = 64; query_key_value is [q heads | k (hd) | v (hd)] rows.
    v, e = config["vocab_size"], config["hidden_size"]
    head_dim = e // config["num_attention_heads"]
    tensors = [Tensor("transformer.word_embeddings.weight", (v, e), "matrix")]
    for i in range(config["num_hidden_layers"]):
        h = f"transformer.h.{i}"
        tensors += [
            Tensor(f"{h}.input_layernorm.weight", (e,), "norm_weight"),
            Tensor(f"{h}.input_layernorm.bias", (e,), "bias"),
            Tensor(f"{h}.self_attention.query_key_value.weight", (e + 2 * head_dim, e), "matrix"),
            Tensor(f"{h}.self_attention.dense.weight", (e, e), "matrix"),
            Tensor(f"{h}.mlp.dense_h_to_4h.weight", (4 * e, e), "matrix"),
            Tensor(f"{h}.mlp.dense_4h_to_h.weight", (e, 4 * e), "matrix"),
        ]
    tensors += [Tensor("transformer.ln_f.weight", (e,), "norm_weight"), Tensor("transformer.ln_f.bias", (e,), "bias")]
    return tensors  # lm_head tied to word_embeddings (FalconConfig.tie_word_embeddings defaults to true)


SHAPES = {
    "tiny_starcoder": (lambda: gpt_bigcode_shape(True), gpt_bigcode_tensors, "n_layer"),
    "tiny_starcoder_mha": (lambda: gpt_bigcode_shape(False), gpt_bigcode_tensors, "n_layer"),
    "falcon7b_layer": (falcon7b_shape, falcon_tensors, "num_hidden_layers"),
}

# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def float32_to_bf16_bits(values: np.ndarray) -> np.ndarray:
    """Round-to-nearest-even float32 -> bfloat16, as uint16 bit patterns (numpy has no bfloat16)."""
    bits = values.astype(np.float32).view(np.uint32)
    rounding = np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))
    return ((bits + rounding) >> np.uint32(16)).astype(np.uint16)  # inputs are small normals: no NaN/inf


def encode(values: np.ndarray, dtype: str) -> bytes:
    if dtype == "f32":
        return values.astype("<f4").tobytes()
    if dtype == "f16":
        return values.astype("<f2").tobytes()
    return float32_to_bf16_bits(values).astype("<u2").tobytes()


def safetensors_header(tensors: list[Tensor], dtype: str) -> bytes:
    """The JSON header, padded with spaces to a multiple of 8 bytes as the format recommends."""
    header: dict = {"__metadata__": {"format": "pt"}}
    offset = 0
    for t in tensors:
        size = int(np.prod(t.shape)) * BYTES_PER_ELEMENT[dtype]
        header[t.name] = {"dtype": SAFETENSORS_DTYPE[dtype], "shape": list(t.shape), "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * ((8 - (8 + len(raw)) % 8) % 8)
    return len(raw).to_bytes(8, "little") + raw


def write_safetensors(path: Path, tensors: list[Tensor], dtype: str, seed: int) -> int:
    rng = np.random.default_rng(seed)
    written = 0
    with open(path, "wb") as f:
        f.write(safetensors_header(tensors, dtype))
        for t in tensors:
            remaining = int(np.prod(t.shape))
            while remaining > 0:
                n = min(remaining, CHUNK_ELEMENTS)
                values = rng.standard_normal(n, dtype=np.float32) * np.float32(WEIGHT_STD)
                if t.kind == "norm_weight":
                    values += np.float32(1.0)
                f.write(encode(values, dtype))
                remaining -= n
                written += n
    return written


def verify_with_transformers(out: Path, tensors: list[Tensor]) -> None:
    """Load the folder with transformers on the meta device and compare every name and shape."""
    import torch
    from safetensors import safe_open
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(out)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if config.tie_word_embeddings:
        expected.pop("lm_head.weight", None)
    with safe_open(out / "model.safetensors", framework="np") as st:
        stored = {k: tuple(st.get_slice(k).get_shape()) for k in st.keys()}
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    wrong = sorted(k for k in set(expected) & set(stored) if expected[k] != stored[k])
    if missing or unexpected or wrong:
        raise SystemExit(f"verify FAILED for {out}: missing {missing}, unexpected {unexpected}, wrong shape {wrong}")
    print(f"verify: {len(stored)} tensors match {type(model).__name__} names and shapes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", required=True, choices=sorted(SHAPES))
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--dtype", default="f32", choices=sorted(SAFETENSORS_DTYPE))
    parser.add_argument("--layers", type=int, help="number of layers (default: the real model's; 1 for falcon7b_layer)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-tokenizer", action="store_true", help="do not copy the fixture tokenizer.json")
    parser.add_argument("--verify", action="store_true", help="check names and shapes against transformers")
    args = parser.parse_args(argv)

    make_config, make_tensors, layer_key = SHAPES[args.shape]
    config = make_config()
    if args.layers is not None:
        if args.layers < 1:
            parser.error("--layers must be >= 1")
        config[layer_key] = args.layers
    config["torch_dtype"] = CONFIG_DTYPE[args.dtype]  # the key Hub checkpoints of these models carry
    tensors = make_tensors(config)

    if args.out.exists():
        for stale in ("model.safetensors", "model.safetensors.index.json"):
            (args.out / stale).unlink(missing_ok=True)
        for shard in args.out.glob("model-*-of-*.safetensors"):
            shard.unlink()
    args.out.mkdir(parents=True, exist_ok=True)

    start = time.monotonic()
    n = write_safetensors(args.out / "model.safetensors", tensors, args.dtype, args.seed)
    (args.out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    generation = {"bos_token_id": config["bos_token_id"], "eos_token_id": config["eos_token_id"]}
    (args.out / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n")
    if args.no_tokenizer:
        (args.out / "tokenizer.json").unlink(missing_ok=True)
    else:
        if not FIXTURE_TOKENIZER.exists():
            raise SystemExit(f"{FIXTURE_TOKENIZER} missing: run tools/make_fixtures.py first or pass --no-tokenizer")
        shutil.copyfile(FIXTURE_TOKENIZER, args.out / "tokenizer.json")
    size = (args.out / "model.safetensors").stat().st_size
    print(
        f"{args.out}: {args.shape}, {config[layer_key]} layers, {n / 1e6:.1f}M parameters, {args.dtype}, "
        f"{size / 2**20:.0f} MiB in {time.monotonic() - start:.1f}s"
    )
    if args.verify:
        verify_with_transformers(args.out, tensors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
