#!/usr/bin/env python3
"""Golden fixtures for mq's GPTBigCode engine, produced with Hugging Face transformers.

Writes four tiny random GPTBigCode checkpoints, a StarCoder-style byte-level BPE tokenizer and the
reference outputs transformers computes for them:

    Tests/Fixtures/models/
      mqa/              multi_query=true,  F32, one model.safetensors, tied head (no lm_head in file)
      mha/              multi_query=false, F32, untied head (lm_head.weight stored), n_inner=96
      mqa-sharded-f16/  multi_query=true,  F16, several shards + model.safetensors.index.json
      mha-bf16/         multi_query=false, BF16, n_inner=160
    each with config.json, generation_config.json, tokenizer.json and reference.json.

reference.json is computed in float32 from the checkpoint *as saved* (the folder is reloaded with
dtype=float32, so the F16/BF16 rounding of the weights is part of the reference), eval mode, no grad,
eager attention, one CPU thread. Schema:

    {"model": str, "tolerance_note": str,
     "cases": [{"prompt_text": str | null, "prompt_ids": [int],
                "logits": [[float] * vocab] * len(prompt_ids),   # every prompt position
                "greedy_ids": [int] * 12, "greedy_logprobs": [float] * 12}]}

greedy_ids come from a manual argmax loop over full forwards (no KV cache, no EOS stop, so id 0 may
appear); greedy_logprobs[i] is the natural-log softmax (temperature 1) of greedy_ids[i]. The loop is
cross-checked against model.generate(do_sample=False) with the KV cache.

Usage (from the repository root):
    /work/venv/bin/python tools/make_fixtures.py --out Tests/Fixtures/models
Everything is seeded; running it twice gives byte-identical files on the same library versions.
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
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import GPTBigCodeConfig, GPTBigCodeForCausalLM

SEED = 1234
VOCAB_SIZE = 512  # 5 special tokens + 256 byte symbols + 251 merges
SPECIAL_TOKENS = ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>"]
EOS_ID = 0
GREEDY_TOKENS = 12
N_EMBD, N_HEAD, N_LAYER, N_POSITIONS = 64, 4, 3, 128
# A greedy step whose best and second-best logits are closer than this would make the fixture
# fragile (an engine within float32 rounding could legitimately pick the other token), so the
# generator refuses to write such a case.
MIN_GREEDY_MARGIN = 1e-3


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    multi_query: bool
    dtype: torch.dtype  # storage dtype of the saved checkpoint
    n_inner: int | None  # None -> 4 * n_embd, as in the config of the real StarCoder models
    tie_word_embeddings: bool
    max_shard_size: str | None  # None -> a single model.safetensors
    legacy_merges: bool  # write tokenizer merges as "a b" strings (older tokenizers, StarCoder hub files)


MODEL_SPECS = [
    ModelSpec("mqa", True, torch.float32, None, True, None, False),
    ModelSpec("mha", False, torch.float32, 96, False, None, True),
    ModelSpec("mqa-sharded-f16", True, torch.float16, None, True, "150KB", False),
    ModelSpec("mha-bf16", False, torch.bfloat16, 160, True, None, False),
]

# ---------------------------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------------------------

# Inline so the tokenizer does not depend on which Python stdlib happens to be installed.
CORPUS = r'''
import os
import sys
from collections import defaultdict, OrderedDict
from typing import Any, Dict, List, Optional, Tuple


def fibonacci(n: int) -> int:
    """Return the n-th Fibonacci number."""
    if n < 2:
        return n
    a, b = 0, 1
    for _ in range(n - 1):
        a, b = b, a + b
    return b


def read_lines(path: str) -> List[str]:
    with open(path, "r", encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle]


class Counter(dict):
    """Count hashable items; a small cousin of collections.Counter."""

    def __init__(self, iterable=None):
        super().__init__()
        if iterable is not None:
            self.update(iterable)

    def update(self, iterable):
        for item in iterable:
            self[item] = self.get(item, 0) + 1

    def most_common(self, n=None):
        items = sorted(self.items(), key=lambda kv: kv[1], reverse=True)
        return items if n is None else items[:n]


def parse_args(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    result: Dict[str, Any] = {}
    for arg in argv or sys.argv[1:]:
        if arg.startswith("--") and "=" in arg:
            key, value = arg[2:].split("=", 1)
            result[key] = value
        elif arg.startswith("--"):
            result[arg[2:]] = True
    return result


def quicksort(values):
    if len(values) <= 1:
        return values
    pivot = values[len(values) // 2]
    left = [x for x in values if x < pivot]
    middle = [x for x in values if x == pivot]
    right = [x for x in values if x > pivot]
    return quicksort(left) + middle + quicksort(right)


class LinkedList:
    def __init__(self):
        self.head = None
        self.size = 0

    def append(self, value):
        node = {"value": value, "next": None}
        if self.head is None:
            self.head = node
        else:
            current = self.head
            while current["next"] is not None:
                current = current["next"]
            current["next"] = node
        self.size += 1

    def __len__(self):
        return self.size

    def __iter__(self):
        current = self.head
        while current is not None:
            yield current["value"]
            current = current["next"]


def main():
    args = parse_args()
    numbers = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4, 3, 3]
    print("sorted:", quicksort(numbers))
    print("fib(20) =", fibonacci(20))
    counts = Counter("hello world, hello python")
    print(counts.most_common(3))
    if args.get("verbose"):
        for key, value in sorted(os.environ.items()):
            print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

The quick brown fox jumps over the lazy dog. A tokenizer splits text into pieces that a model
can count; byte-level BPE starts from the 256 byte values and merges the most frequent pairs.
Numbers such as 2024, 3.14159 and 1e-5 are split into single digits first. Café, naïve, 東京 and
emoji like 🙂 are encoded as UTF-8 bytes, so nothing is ever unknown.
'''


def train_tokenizer() -> Tokenizer:
    """StarCoder-style byte-level BPE: no normalizer, digits split one by one, ByteLevel everywhere."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = None
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=True)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=2,
        show_progress=False,
        special_tokens=SPECIAL_TOKENS,  # ids 0..4 in this order
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte is encodable
    )
    # Several shuffled-order copies give pair counts with fewer ties without needing more text.
    lines = CORPUS.strip("\n").split("\n")
    rng = np.random.default_rng(SEED)
    documents = ["\n".join(lines)] + ["\n".join(lines[i] for i in rng.permutation(len(lines))) for _ in range(3)]
    tokenizer.train_from_iterator(documents, trainer=trainer)
    for i, token in enumerate(SPECIAL_TOKENS):
        if tokenizer.token_to_id(token) != i:
            raise RuntimeError(f"special token {token!r} got id {tokenizer.token_to_id(token)}, expected {i}")
    return tokenizer


def tokenizer_json(tokenizer: Tokenizer, legacy_merges: bool) -> str:
    data = json.loads(tokenizer.to_str())
    # The Python binding of decoders.ByteLevel takes no options and always writes
    # add_prefix_space=true; StarCoder's file says false (decoding ignores it either way).
    data["decoder"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    if legacy_merges:
        # Older tokenizers (and the StarCoder files on the Hub) store each merge as one "a b"
        # string; current ones write ["a", "b"]. The Swift loader must read both.
        data["model"]["merges"] = [" ".join(pair) for pair in data["model"]["merges"]]
    text = json.dumps(data, ensure_ascii=False, indent=2)
    reloaded = Tokenizer.from_str(text)
    probe = "def f(x):\n    return x * 2024  # café 🙂"
    if reloaded.encode(probe).ids != tokenizer.encode(probe).ids:
        raise RuntimeError("tokenizer.json does not round-trip")
    return text


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------


def make_config(
    vocab_size: int,
    n_embd: int,
    n_head: int,
    n_layer: int,
    n_positions: int,
    multi_query: bool,
    n_inner: int | None,
    tie_word_embeddings: bool,
) -> GPTBigCodeConfig:
    return GPTBigCodeConfig(
        vocab_size=vocab_size,
        n_positions=n_positions,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        n_inner=n_inner,
        activation_function="gelu_pytorch_tanh",
        multi_query=multi_query,
        tie_word_embeddings=tie_word_embeddings,
        layer_norm_epsilon=1e-5,
        bos_token_id=EOS_ID,
        eos_token_id=EOS_ID,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )


def randomize_(model: GPTBigCodeForCausalLM, generator: torch.Generator) -> None:
    """Re-draw every parameter so that each one matters and the logits are far from flat.

    transformers' own init (std 0.02, LayerNorm 1/0, zero biases) gives logits near zero and would
    not notice an engine that ignores biases or LayerNorm parameters. Here every matrix gets std
    about 1/sqrt(fan_in) (unit-scale activations), every bias and LayerNorm parameter is non-trivial,
    and the embedding scale gives logits with a spread of a few units.
    """
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name == "lm_head.weight" and model.config.tie_word_embeddings:
                continue  # shares storage with transformer.wte.weight
            shape = tuple(param.shape)
            if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
                value = 1.0 + 0.2 * torch.randn(shape, generator=generator)
            elif name.endswith(".bias"):
                value = 0.1 * torch.randn(shape, generator=generator)
            elif name == "transformer.wte.weight":
                value = 0.3 * torch.randn(shape, generator=generator)
            elif name == "transformer.wpe.weight":
                value = 0.5 * torch.randn(shape, generator=generator)
            elif name == "lm_head.weight":
                value = 0.3 * torch.randn(shape, generator=generator)
            else:  # nn.Linear weight [out, in]
                fan_in = shape[1]
                value = torch.randn(shape, generator=generator) * (2.0 / math.sqrt(fan_in))
            param.copy_(value.to(param.dtype))


def build_random_model(config: GPTBigCodeConfig, seed: int) -> GPTBigCodeForCausalLM:
    torch.manual_seed(seed)
    model = GPTBigCodeForCausalLM(config)
    generator = torch.Generator().manual_seed(seed)
    randomize_(model, generator)
    model.eval()
    return model


def load_float32_eager(model_dir: Path) -> GPTBigCodeForCausalLM:
    """The reference model: the folder as saved, upcast to float32, eager attention."""
    model = GPTBigCodeForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    return model


@torch.no_grad()
def prompt_logits(model: GPTBigCodeForCausalLM, ids: list[int]) -> np.ndarray:
    """Logits at every prompt position, float32 [T, V]."""
    out = model(torch.tensor([ids], dtype=torch.long), use_cache=False)
    return out.logits[0].float().numpy()


@torch.no_grad()
def greedy(model: GPTBigCodeForCausalLM, ids: list[int], n: int) -> tuple[list[int], list[float], float]:
    """n argmax steps with a full forward each (no cache, no EOS stop).

    Returns (ids, natural-log probabilities of the chosen ids, smallest top-1/top-2 logit margin).
    """
    context = list(ids)
    chosen: list[int] = []
    logprobs: list[float] = []
    min_margin = math.inf
    for _ in range(n):
        logits = model(torch.tensor([context], dtype=torch.long), use_cache=False).logits[0, -1].float()
        top2 = torch.topk(logits, 2).values
        min_margin = min(min_margin, float(top2[0] - top2[1]))
        token = int(torch.argmax(logits))
        chosen.append(token)
        logprobs.append(float(torch.log_softmax(logits, dim=-1)[token]))
        context.append(token)
    return chosen, logprobs, min_margin


@torch.no_grad()
def greedy_with_generate(model: GPTBigCodeForCausalLM, ids: list[int], n: int) -> list[int]:
    """The same greedy decode through transformers' generate() and its KV cache, EOS disabled."""
    out = model.generate(
        torch.tensor([ids], dtype=torch.long),
        attention_mask=torch.ones((1, len(ids)), dtype=torch.long),
        do_sample=False,
        max_new_tokens=n,
        eos_token_id=None,
        pad_token_id=EOS_ID,
    )
    return out[0, len(ids):].tolist()


def f32(x: float) -> float:
    """Shortest decimal that still round-trips the float32 value (at most 9 significant digits)."""
    return float(f"{float(np.float32(x)):.9g}")


def prompt_cases(tokenizer: Tokenizer, vocab_size: int) -> list[tuple[str | None, list[int]]]:
    text = "def fibonacci(n):\n    return n if n < 2 else 2024"
    text_ids = tokenizer.encode(text).ids
    if not 5 <= len(text_ids) <= 20:
        raise RuntimeError(f"text prompt encodes to {len(text_ids)} tokens, expected 5..20")
    rng = np.random.default_rng(SEED + 1)
    # Random ids, including a special token in the middle, exercise embedding rows a text never hits.
    random_ids = [int(i) for i in rng.integers(5, vocab_size, size=16)]
    random_ids[7] = 1  # <fim_prefix>
    return [
        (None, [int(rng.integers(5, vocab_size))]),
        (text, text_ids),
        (None, random_ids),
    ]


TOLERANCE_NOTE = (
    "Computed by transformers {tf} / torch {torch} in float32 with eager attention on one CPU thread, "
    "from the checkpoint as stored (F16/BF16 weights upcast exactly to float32). A float32 engine should "
    "match logits to about 1e-4 absolute (float32 summation order differs), greedy_ids exactly and "
    "greedy_logprobs to about 1e-4; recomputing this model in float64 moves the prompt logits by at most "
    "{f64:.2g}. Smallest top-1/top-2 logit gap over all greedy steps of this model: {margin:.3g}. "
    "greedy_ids ignore EOS (id 0 may appear)."
)


def write_model(spec: ModelSpec, tokenizer: Tokenizer, out_root: Path, seed: int) -> dict:
    vocab_size = tokenizer.get_vocab_size()
    config = make_config(
        vocab_size, N_EMBD, N_HEAD, N_LAYER, N_POSITIONS, spec.multi_query, spec.n_inner, spec.tie_word_embeddings
    )
    model = build_random_model(config, seed)
    folder = out_root / spec.name
    if folder.exists():
        shutil.rmtree(folder)  # stale shards from an earlier run must not survive
    folder.mkdir(parents=True)
    model = model.to(spec.dtype)
    save_kwargs = {"max_shard_size": spec.max_shard_size} if spec.max_shard_size else {}
    model.save_pretrained(folder, **save_kwargs)
    (folder / "tokenizer.json").write_text(tokenizer_json(tokenizer, spec.legacy_merges) + "\n", encoding="utf-8")

    check_saved_files(spec, folder)

    reference_model = load_float32_eager(folder)
    float64_model = GPTBigCodeForCausalLM.from_pretrained(folder, dtype=torch.float64, attn_implementation="eager")
    float64_model.eval()
    cases = []
    min_margin = math.inf
    float64_deviation = 0.0
    for prompt_text, ids in prompt_cases(tokenizer, vocab_size):
        logits = prompt_logits(reference_model, ids)
        with torch.no_grad():
            logits64 = float64_model(torch.tensor([ids], dtype=torch.long), use_cache=False).logits[0].numpy()
        float64_deviation = max(float64_deviation, float(np.abs(logits64 - logits.astype(np.float64)).max()))
        greedy_ids, greedy_logprobs, margin = greedy(reference_model, ids, GREEDY_TOKENS)
        if margin < MIN_GREEDY_MARGIN:
            raise RuntimeError(f"{spec.name}: greedy margin {margin} below {MIN_GREEDY_MARGIN}; change SEED")
        cached = greedy_with_generate(reference_model, ids, GREEDY_TOKENS)
        if cached != greedy_ids:
            raise RuntimeError(f"{spec.name}: generate() with cache gave {cached}, full forwards {greedy_ids}")
        # The first greedy step and the last prompt position are the same computation.
        if int(np.argmax(logits[-1])) != greedy_ids[0]:
            raise RuntimeError(f"{spec.name}: prompt logits disagree with first greedy step")
        min_margin = min(min_margin, margin)
        cases.append(
            {
                "prompt_text": prompt_text,
                "prompt_ids": ids,
                "logits": [[f32(v) for v in row] for row in logits.tolist()],
                "greedy_ids": greedy_ids,
                "greedy_logprobs": [f32(v) for v in greedy_logprobs],
            }
        )
    reference = {
        "model": spec.name,
        "tolerance_note": TOLERANCE_NOTE.format(
            tf=transformers.__version__, torch=torch.__version__, f64=float64_deviation, margin=min_margin
        ),
        "cases": cases,
    }
    (folder / "reference.json").write_text(json.dumps(reference, separators=(",", ":")) + "\n", encoding="utf-8")
    return {"name": spec.name, "min_margin": min_margin, "cases": cases}


def check_saved_files(spec: ModelSpec, folder: Path) -> None:
    """Fail loudly if transformers saved something other than what the fixture promises."""
    from safetensors import safe_open

    files = sorted(folder.glob("*.safetensors"))
    if spec.max_shard_size:
        if len(files) < 2 or not (folder / "model.safetensors.index.json").exists():
            raise RuntimeError(f"{folder}: expected >= 2 shards and an index, found {[f.name for f in files]}")
    elif [f.name for f in files] != ["model.safetensors"]:
        raise RuntimeError(f"{folder}: expected one model.safetensors, found {[f.name for f in files]}")
    names: set[str] = set()
    want_dtype = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}[spec.dtype]
    for f in files:
        with safe_open(f, framework="pt") as st:
            for key in st.keys():
                names.add(key)
                got = str(st.get_slice(key).get_dtype())
                if got != want_dtype:
                    raise RuntimeError(f"{f}: tensor {key} stored as {got}, expected {want_dtype}")
    if ("lm_head.weight" in names) == spec.tie_word_embeddings:
        raise RuntimeError(f"{folder}: lm_head.weight present={('lm_head.weight' in names)} but tie={spec.tie_word_embeddings}")
    if not (folder / "generation_config.json").exists():
        raise RuntimeError(f"{folder}: transformers did not write generation_config.json")
    generation = json.loads((folder / "generation_config.json").read_text())
    if generation.get("eos_token_id") != EOS_ID:
        raise RuntimeError(f"{folder}/generation_config.json: eos_token_id {generation.get('eos_token_id')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("Tests/Fixtures/models"))
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)

    torch.set_num_threads(1)  # same float32 summation order on every run
    torch.use_deterministic_algorithms(True)
    transformers.logging.set_verbosity_error()

    tokenizer = train_tokenizer()
    args.out.mkdir(parents=True, exist_ok=True)
    for index, spec in enumerate(MODEL_SPECS):
        summary = write_model(spec, tokenizer, args.out, args.seed + index)
        case_lines = "; ".join(f"T={len(c['prompt_ids'])} greedy={c['greedy_ids']}" for c in summary["cases"])
        print(f"{spec.name}: min greedy margin {summary['min_margin']:.3g}; {case_lines}")
    print(
        f"versions: torch {torch.__version__}, transformers {transformers.__version__}, "
        f"tokenizers {__import__('tokenizers').__version__}, safetensors {__import__('safetensors').__version__}, "
        f"numpy {np.__version__}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
