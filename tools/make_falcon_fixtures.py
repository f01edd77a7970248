#!/usr/bin/env python3
"""Golden fixtures for mq's Falcon engine, produced with Hugging Face transformers (FalconForCausalLM).

Writes tiny random Falcon checkpoints with the Falcon-style tokenizer of the tokenizer fixtures and the
reference outputs transformers computes for them, plus a rotary-embedding table for the kernel tests:

    Tests/Fixtures/models/
      falcon-mqa/         Falcon-7B style: new_decoder_architecture false, multi_query true (1 KV head;
                          the saved num_kv_heads says 4 and must be ignored), parallel_attn true with one
                          input_layernorm, no biases, tied head, F32, 3 layers, hidden 64, 4 heads of 16
      falcon-grouped/     Falcon-40B style: new_decoder_architecture true, num_kv_heads 2 of 8 heads (head
                          dim 8), ln_attn + ln_mlp, query_key_value grouped [q0 q1 q2 q3 k v] per KV head,
                          no biases, tied head, stored BF16 (as Falcon-40B ships), 2 layers
      falcon-sequential/  parallel_attn false (input_layernorm → attention, post_attention_layernorm → MLP),
                          multi_query false (one KV head per head, rows [q k v] per head), biases, untied
                          lm_head, ffn_hidden_size 96, rope_theta 500000, F32, 2 layers
      falcon-grouped-shared-ln/  Falcon2-11B style: new_decoder_architecture true, num_kv_heads 2 of 4 heads,
                          num_ln_in_parallel_attn 1 (one input_layernorm), F32, 2 layers
    Tests/Fixtures/kernels/rotary.json
                          transformers' FalconRotaryEmbedding inv_freq and cos/sin at a few positions for
                          several (head_dim, rope_theta)

Each model folder holds config.json, generation_config.json, model.safetensors, tokenizer.json (a copy of
Tests/Fixtures/tokenizers/falcon.json: Punctuation + ByteLevel + Digits + Split pipeline, >>TITLE<< and the
other Falcon specials at ids 0..10, <|endoftext|> = 11 = bos = eos, 2000 tokens) and reference.json, in
the schema of tools/make_fixtures.py:

    {"model": str, "tolerance_note": str,
     "cases": [{"prompt_text": str | null, "prompt_ids": [int],
                "logits": [[float] * vocab] * len(prompt_ids),   # every prompt position
                "greedy_ids": [int] * 12, "greedy_logprobs": [float] * 12}]}

The reference is computed in float32 from the folder as saved (BF16 weights upcast exactly), eager
attention, one CPU thread, no KV cache for the greedy loop, cross-checked against generate() with the cache.
Weights are re-drawn like make_fixtures.py does (matrices std 2/sqrt(fan_in), biases std 0.1, LayerNorm
weights 1 + N(0, 0.2), embeddings and lm_head std 0.3) so that logits spread over several units and a
model that ignores a norm, a bias or the rotation fails its test.

Usage (from the repository root):
    /work/venv/bin/python tools/make_falcon_fixtures.py
    # or only a random checkpoint of any size, for checks against transformers on unseen shapes:
    /work/venv/bin/python tools/make_falcon_fixtures.py --random /tmp/falcon-unseen --hidden 256 --heads 16 \
        --kv-heads 4 --new-decoder true --layers 2 --dtype bf16
Deterministic: running it twice gives byte-identical files on the same library versions (tools/requirements.txt).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
import transformers
from tokenizers import Tokenizer
from transformers import FalconConfig, FalconForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fixtures import GREEDY_TOKENS, f32, greedy, prompt_logits  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
TOKENIZER = REPO_ROOT / "Tests/Fixtures/tokenizers/falcon.json"
SEED = 4321
EOS_ID = 11  # <|endoftext|>, bos and eos of every Falcon model
SPECIAL_IDS = range(0, 12)
HIDDEN = 64
MAX_POSITIONS = 128
# Stricter than make_fixtures.py's 1e-3: a greedy step closer than this is a coin toss for an engine
# that differs from transformers only in float32 summation order.
MIN_MARGIN = 5e-3


@dataclasses.dataclass(frozen=True)
class Spec:
    name: str
    config: dict  # FalconConfig keyword arguments beyond the common ones
    dtype: torch.dtype
    description: str
    seed: int  # chosen so that every greedy step has a top-1/top-2 gap >= MIN_MARGIN


SPECS = [
    Spec(
        "falcon-mqa",
        dict(num_attention_heads=4, num_hidden_layers=3, new_decoder_architecture=False, multi_query=True,
             parallel_attn=True, bias=False, tie_word_embeddings=True),
        torch.float32,
        "Falcon-7B style (multi-query, parallel attention, one layer norm)",
        SEED,
    ),
    Spec(
        "falcon-grouped",
        dict(num_attention_heads=8, num_kv_heads=2, num_hidden_layers=2, new_decoder_architecture=True,
             parallel_attn=True, bias=False, tie_word_embeddings=True),
        torch.bfloat16,
        "Falcon-40B style (2 KV groups of 4 heads, ln_attn + ln_mlp)",
        SEED + 4,
    ),
    Spec(
        "falcon-sequential",
        dict(num_attention_heads=4, num_hidden_layers=2, new_decoder_architecture=False, multi_query=False,
             parallel_attn=False, bias=True, tie_word_embeddings=False, ffn_hidden_size=96,
             rope_parameters={"rope_type": "default", "rope_theta": 500000.0}),
        torch.float32,
        "non-parallel attention, one KV head per head, biases, untied head, rope_theta 500000",
        SEED + 2,
    ),
    Spec(
        "falcon-grouped-shared-ln",
        dict(num_attention_heads=4, num_kv_heads=2, num_hidden_layers=2, new_decoder_architecture=True,
             num_ln_in_parallel_attn=1, parallel_attn=True, bias=False, tie_word_embeddings=True),
        torch.float32,
        "Falcon2-11B style (new decoder, 2 KV groups, one shared layer norm)",
        SEED + 3,
    ),
]

# (head_dim, rope_theta) pairs for the rotary table fixture: the fixtures' own, Falcon-7B/40B's, Falcon2's.
ROTARY_CASES = [(16, 10000.0), (8, 10000.0), (16, 500000.0), (64, 10000.0), (128, 500042.0)]
ROTARY_POSITIONS = [0, 1, 2, 7, 100, 1000, 2047, 4095]


def make_config(vocab_size: int, spec: Spec, hidden: int = HIDDEN, positions: int = MAX_POSITIONS) -> FalconConfig:
    return FalconConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        max_position_embeddings=positions,
        layer_norm_epsilon=1e-5,
        bos_token_id=EOS_ID,
        eos_token_id=EOS_ID,
        hidden_dropout=0.0,
        attention_dropout=0.0,
        alibi=False,
        **spec.config,
    )


def randomize_(model: FalconForCausalLM, generator: torch.Generator) -> None:
    """Re-draw every parameter (transformers' std 0.02 init gives nearly flat logits)."""
    norm_suffixes = ("input_layernorm.weight", "post_attention_layernorm.weight", "ln_attn.weight",
                     "ln_mlp.weight", "ln_f.weight")
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name == "lm_head.weight" and model.config.tie_word_embeddings:
                continue  # shares storage with transformer.word_embeddings.weight
            shape = tuple(param.shape)
            if name.endswith(norm_suffixes):
                value = 1.0 + 0.2 * torch.randn(shape, generator=generator)
            elif name.endswith(".bias"):
                value = 0.1 * torch.randn(shape, generator=generator)
            elif name in ("transformer.word_embeddings.weight", "lm_head.weight"):
                value = 0.3 * torch.randn(shape, generator=generator)
            else:  # Linear weight [out, in]
                value = torch.randn(shape, generator=generator) * (2.0 / math.sqrt(shape[1]))
            param.copy_(value.to(param.dtype))


@torch.no_grad()
def greedy_with_generate(model: FalconForCausalLM, ids: list[int], n: int) -> list[int]:
    out = model.generate(
        torch.tensor([ids], dtype=torch.long),
        attention_mask=torch.ones((1, len(ids)), dtype=torch.long),
        do_sample=False,
        max_new_tokens=n,
        eos_token_id=None,
        pad_token_id=EOS_ID,
    )
    return out[0, len(ids):].tolist()


def prompt_cases(tokenizer: Tokenizer, vocab_size: int) -> list[tuple[str | None, list[int]]]:
    text = ">>QUESTION<<What is 2024 + 17?\n>>ANSWER<<"
    text_ids = tokenizer.encode(text).ids
    if not 5 <= len(text_ids) <= 24 or text_ids[0] != 6:
        raise RuntimeError(f"text prompt encodes to {text_ids}; expected 5..24 tokens starting with >>QUESTION<< (6)")
    rng = np.random.default_rng(SEED + 1)
    random_ids = [int(i) for i in rng.integers(len(SPECIAL_IDS), vocab_size, size=16)]
    random_ids[5] = 0  # >>TITLE<<
    random_ids[11] = EOS_ID
    return [(None, [int(rng.integers(len(SPECIAL_IDS), vocab_size))]), (text, text_ids), (None, random_ids)]


TOLERANCE_NOTE = (
    "{description}. Computed by transformers {tf} / torch {torch} (FalconForCausalLM) in float32 with eager "
    "attention on one CPU thread, from the checkpoint as stored. A float32 engine should match logits to about "
    "1e-4 absolute, greedy_ids exactly and greedy_logprobs to about 1e-4; recomputing in float64 moves the "
    "prompt logits by at most {f64:.2g}. Smallest top-1/top-2 logit gap over all greedy steps: {margin:.3g}. "
    "greedy_ids ignore EOS."
)


def check_saved(spec: Spec, folder: Path) -> None:
    from safetensors import safe_open

    files = sorted(p.name for p in folder.glob("*.safetensors"))
    if files != ["model.safetensors"]:
        raise RuntimeError(f"{folder}: expected one model.safetensors, found {files}")
    want = {torch.float32: "F32", torch.bfloat16: "BF16"}[spec.dtype]
    with safe_open(folder / "model.safetensors", framework="pt") as st:
        names = set(st.keys())
        for key in names:
            got = str(st.get_slice(key).get_dtype())
            if got != want:
                raise RuntimeError(f"{folder}: {key} stored as {got}, expected {want}")
    tied = spec.config["tie_word_embeddings"]
    if ("lm_head.weight" in names) == tied:
        raise RuntimeError(f"{folder}: lm_head.weight present={'lm_head.weight' in names} but tie={tied}")
    has_bias = any(k.endswith(".bias") and "layernorm" not in k and ".ln_" not in k for k in names)
    if has_bias != spec.config["bias"]:
        raise RuntimeError(f"{folder}: linear biases present={has_bias}, config bias={spec.config['bias']}")


def write_model(spec: Spec, tokenizer: Tokenizer, out_root: Path) -> dict:
    vocab_size = tokenizer.get_vocab_size()
    config = make_config(vocab_size, spec)
    torch.manual_seed(spec.seed)
    model = FalconForCausalLM(config)
    randomize_(model, torch.Generator().manual_seed(spec.seed))
    model.eval()
    folder = out_root / spec.name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    model.to(spec.dtype).save_pretrained(folder)
    shutil.copyfile(TOKENIZER, folder / "tokenizer.json")
    check_saved(spec, folder)

    reference = FalconForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    float64 = FalconForCausalLM.from_pretrained(folder, dtype=torch.float64, attn_implementation="eager").eval()
    cases, min_margin, f64_dev = [], math.inf, 0.0
    for prompt_text, ids in prompt_cases(tokenizer, vocab_size):
        logits = prompt_logits(reference, ids)
        with torch.no_grad():
            logits64 = float64(torch.tensor([ids]), use_cache=False).logits[0].numpy()
        f64_dev = max(f64_dev, float(np.abs(logits64 - logits.astype(np.float64)).max()))
        greedy_ids, greedy_logprobs, margin = greedy(reference, ids, GREEDY_TOKENS)
        if margin < MIN_MARGIN:
            raise RuntimeError(f"{spec.name}: greedy margin {margin} below {MIN_MARGIN}; change its seed")
        cached = greedy_with_generate(reference, ids, GREEDY_TOKENS)
        if cached != greedy_ids:
            raise RuntimeError(f"{spec.name}: generate() with cache gave {cached}, full forwards {greedy_ids}")
        if int(np.argmax(logits[-1])) != greedy_ids[0]:
            raise RuntimeError(f"{spec.name}: prompt logits disagree with the first greedy step")
        min_margin = min(min_margin, margin)
        cases.append({
            "prompt_text": prompt_text,
            "prompt_ids": ids,
            "logits": [[f32(v) for v in row] for row in logits.tolist()],
            "greedy_ids": greedy_ids,
            "greedy_logprobs": [f32(v) for v in greedy_logprobs],
        })
    ref = {
        "model": spec.name,
        "tolerance_note": TOLERANCE_NOTE.format(description=spec.description, tf=transformers.__version__,
                                                torch=torch.__version__, f64=f64_dev, margin=min_margin),
        "cases": cases,
    }
    (folder / "reference.json").write_text(json.dumps(ref, separators=(",", ":")) + "\n", encoding="utf-8")
    spread = float(np.ptp(np.array(cases[2]["logits"])))
    return {"min_margin": min_margin, "spread": spread, "cases": cases}


def write_rotary(path: Path) -> None:
    """transformers' own rotary module, so the Swift table is checked against the code it must match."""
    from transformers.models.falcon.modeling_falcon import FalconRotaryEmbedding

    out = []
    for head_dim, theta in ROTARY_CASES:
        config = FalconConfig(hidden_size=head_dim * 2, num_attention_heads=2, max_position_embeddings=4096,
                              rope_parameters={"rope_type": "default", "rope_theta": theta})
        rope = FalconRotaryEmbedding(config)
        x = torch.zeros(1, dtype=torch.float32)
        cos, sin = rope(x, torch.tensor([ROTARY_POSITIONS]))
        half = head_dim // 2
        # cos/sin come back as cat(freqs, freqs): the second half repeats the first.
        if not torch.equal(cos[0, :, :half], cos[0, :, half:]):
            raise RuntimeError("transformers' cos is not two equal halves; the NeoX layout assumption is wrong")
        out.append({
            "head_dim": head_dim,
            "theta": theta,
            "inv_freq": [f32(v) for v in rope.inv_freq.tolist()],
            "positions": ROTARY_POSITIONS,
            "cos": [[f32(v) for v in row] for row in cos[0, :, :half].tolist()],
            "sin": [[f32(v) for v in row] for row in sin[0, :, :half].tolist()],
        })
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"source": f"transformers {transformers.__version__} FalconRotaryEmbedding",
                                "cases": out}, separators=(",", ":")) + "\n", encoding="utf-8")


def parse_bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, found {text!r}")


def write_random(args: argparse.Namespace, tokenizer: Tokenizer) -> None:
    """One random checkpoint (no reference.json) with the shape given on the command line."""
    dtypes = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
    kwargs = dict(num_attention_heads=args.heads, num_hidden_layers=args.layers,
                  new_decoder_architecture=args.new_decoder, multi_query=args.multi_query,
                  parallel_attn=args.parallel, bias=args.bias, tie_word_embeddings=args.tie,
                  rope_parameters={"rope_type": "default", "rope_theta": args.theta})
    if args.kv_heads is not None:
        kwargs["num_kv_heads"] = args.kv_heads
    if args.ffn is not None:
        kwargs["ffn_hidden_size"] = args.ffn
    config = make_config(tokenizer.get_vocab_size(), Spec("random", kwargs, dtypes[args.dtype], "random", args.seed),
                         hidden=args.hidden, positions=args.positions)
    torch.manual_seed(args.seed)
    model = FalconForCausalLM(config)
    randomize_(model, torch.Generator().manual_seed(args.seed))
    if args.random.exists():
        shutil.rmtree(args.random)
    model.eval().to(dtypes[args.dtype]).save_pretrained(args.random)
    shutil.copyfile(TOKENIZER, args.random / "tokenizer.json")
    print(f"{args.random}: {sum(p.numel() for p in model.parameters())} parameters, {args.dtype}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "Tests/Fixtures/models")
    parser.add_argument("--rotary-out", type=Path, default=REPO_ROOT / "Tests/Fixtures/kernels/rotary.json")
    parser.add_argument("--random", type=Path, metavar="OUTDIR", help="write only one random checkpoint there")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=None, help="num_kv_heads (used with --new-decoder true)")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--new-decoder", type=parse_bool, default=False)
    parser.add_argument("--multi-query", type=parse_bool, default=True)
    parser.add_argument("--parallel", type=parse_bool, default=True)
    parser.add_argument("--bias", type=parse_bool, default=False)
    parser.add_argument("--tie", type=parse_bool, default=True)
    parser.add_argument("--ffn", type=int, default=None, help="ffn_hidden_size (default 4 * hidden)")
    parser.add_argument("--theta", type=float, default=10000.0)
    parser.add_argument("--positions", type=int, default=256)
    parser.add_argument("--dtype", choices=["f32", "f16", "bf16"], default="f32")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    transformers.logging.set_verbosity_error()

    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    for i in SPECIAL_IDS:
        if tokenizer.id_to_token(i) is None:
            raise RuntimeError(f"{TOKENIZER}: no token with id {i}")
    if tokenizer.id_to_token(EOS_ID) != "<|endoftext|>" or tokenizer.id_to_token(0) != ">>TITLE<<":
        raise RuntimeError(f"{TOKENIZER}: Falcon specials not where expected")
    if args.random:
        write_random(args, tokenizer)
        return 0
    for spec in SPECS:
        s = write_model(spec, tokenizer, args.out)
        lines = "; ".join(f"T={len(c['prompt_ids'])} greedy={c['greedy_ids']}" for c in s["cases"])
        print(f"{spec.name}: min greedy margin {s['min_margin']:.3g}, logit spread {s['spread']:.3g}; {lines}")
    write_rotary(args.rotary_out)
    print(f"versions: torch {torch.__version__}, transformers {transformers.__version__}, numpy {np.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
