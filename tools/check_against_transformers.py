#!/usr/bin/env python3
"""Compare mq's greedy decoding with Hugging Face transformers on a checkpoint mq has never seen.

Check mode: transformers decodes greedily in float32 (eager attention, one full forward per token,
no EOS stop), then `mq run --model DIR --prompt-ids 1,2,3 --max-tokens N --temperature 0 --json` runs
and its JSON line {"token_ids":[...],"logprobs":[...],"text":...,"finish_reason":...} is compared:
token ids must be equal and log probabilities within --tolerance (1e-3). Prints PASS or FAIL with the
worst difference; exit status 0 on PASS, 1 on FAIL, 2 on a usage or run error.

Make mode: --make-random OUTDIR writes a random GPTBigCode checkpoint of any size (transformers
save_pretrained, same well-conditioned init as the fixtures, tokenizer padded to the vocab size).

Usage (from the repository root):
  /work/venv/bin/python tools/check_against_transformers.py --make-random /tmp/unseen \
      --n-embd 96 --n-head 6 --n-layer 2 --multi-query false --n-inner 200 --dtype bf16
  /work/venv/bin/python tools/check_against_transformers.py --model /tmp/unseen --mq .build/release/mq \
      --prompt-ids 17,4,300,42 --max-tokens 16
  /work/venv/bin/python tools/check_against_transformers.py --model /tmp/unseen --transformers-only
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import transformers
from tokenizers import AddedToken, Tokenizer
from transformers import GPTBigCodeConfig, GPTBigCodeForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures  # noqa: E402  (same directory: shares the init and the greedy loop)

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURE_TOKENIZER = REPO_ROOT / "Tests" / "Fixtures" / "models" / "mqa" / "tokenizer.json"
DEFAULT_TOLERANCE = 1e-3
DEFAULT_MAX_TOKENS = 16
DEFAULT_PROMPT_LENGTH = 8
MQ_TIMEOUT_SECONDS = 600
MQ_CANDIDATES = [".build/release/mq", ".build/debug/mq"]  # relative to the repository root


class ToolError(Exception):
    """A usage or run error (bad folder, missing binary, mq crashed): exit status 2, not a FAIL."""


def parse_bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def parse_ids(text: str) -> list[int]:
    try:
        ids = [int(x) for x in text.replace(",", " ").split()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--prompt-ids: {e}") from None
    if not ids:
        raise argparse.ArgumentTypeError("--prompt-ids is empty")
    return ids


# ---------------------------------------------------------------------------------------------
# --make-random
# ---------------------------------------------------------------------------------------------

TORCH_DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


def make_random(args: argparse.Namespace) -> int:
    out: Path = args.make_random
    base = Tokenizer.from_file(str(FIXTURE_TOKENIZER))
    base_size = base.get_vocab_size()
    vocab = args.vocab_size or base_size
    if vocab < base_size:
        raise ToolError(f"--vocab-size {vocab} is smaller than the fixture tokenizer ({base_size} tokens)")
    if args.n_embd % args.n_head:
        raise ToolError(f"--n-embd {args.n_embd} is not divisible by --n-head {args.n_head}")
    # Extra ids get added special tokens so tokenizer and model agree on the vocabulary size and
    # every id the model can emit decodes to something.
    base.add_special_tokens([AddedToken(f"<|extra_{i}|>", special=True, normalized=False) for i in range(base_size, vocab)])
    if base.get_vocab_size() != vocab:
        raise ToolError(f"padding the tokenizer gave {base.get_vocab_size()} tokens, wanted {vocab}")

    config = make_fixtures.make_config(
        vocab, args.n_embd, args.n_head, args.n_layer, args.n_positions, args.multi_query, args.n_inner, args.tie
    )
    model = make_fixtures.build_random_model(config, args.seed).to(TORCH_DTYPES[args.dtype])
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    kwargs = {"max_shard_size": args.max_shard_size} if args.max_shard_size else {}
    model.save_pretrained(out, **kwargs)
    base.save(str(out / "tokenizer.json"))
    files = sorted(p.name for p in out.iterdir())
    print(
        f"wrote {out}: vocab {vocab}, n_embd {args.n_embd}, n_head {args.n_head}, n_layer {args.n_layer}, "
        f"multi_query {args.multi_query}, n_inner {args.n_inner}, {args.dtype}; files {files}"
    )
    return 0


# ---------------------------------------------------------------------------------------------
# Check
# ---------------------------------------------------------------------------------------------


def transformers_greedy(model_dir: Path, prompt: list[int], n: int) -> tuple[list[int], list[float], list[float], int | None]:
    """Greedy ids, their log probabilities, the top-1/top-2 logit gap per step, and the EOS id."""
    model = make_fixtures.load_float32_eager(model_dir)
    vocab = model.config.vocab_size
    bad = [i for i in prompt if not 0 <= i < vocab]
    if bad:
        raise ToolError(f"prompt ids {bad} outside the vocabulary (size {vocab}) of {model_dir}")
    if len(prompt) + n > model.config.n_positions:
        raise ToolError(f"prompt {len(prompt)} + {n} tokens exceeds n_positions {model.config.n_positions}")
    ids, logprobs, margins = [], [], []
    for _ in range(n):
        step_ids, step_logprobs, margin = make_fixtures.greedy(model, prompt + ids, 1)
        ids += step_ids
        logprobs += step_logprobs
        margins.append(margin)
    eos = model.config.eos_token_id
    return ids, logprobs, margins, eos if isinstance(eos, int) else None


def find_mq(explicit: str | None) -> Path:
    if explicit:
        path = Path(explicit)
    elif os.environ.get("MQ_BIN"):
        path = Path(os.environ["MQ_BIN"])
    else:
        found = [REPO_ROOT / c for c in MQ_CANDIDATES if (REPO_ROOT / c).exists()]
        if not found:
            raise ToolError(f"no mq binary: pass --mq PATH or set MQ_BIN (looked in {MQ_CANDIDATES})")
        path = found[0]
    if not path.exists():
        raise ToolError(f"mq binary {path} does not exist (build it with `swift build -c release`)")
    return path


def run_mq(mq: Path, model_dir: Path, prompt: list[int], n: int, extra: list[str]) -> dict:
    command = [
        str(mq), "run", "--model", str(model_dir), "--prompt-ids", ",".join(map(str, prompt)),
        "--max-tokens", str(n), "--temperature", "0", "--json", *extra,
    ]
    print("running:", " ".join(command))
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=MQ_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise ToolError(f"mq did not finish within {MQ_TIMEOUT_SECONDS}s") from None
    if done.returncode != 0:
        raise ToolError(f"mq exited with status {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}")
    # The result is the last line of stdout that parses as a JSON object; logs may precede it.
    for line in reversed(done.stdout.strip().splitlines()):
        try:
            result = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(result, dict):
            for key in ("token_ids", "logprobs", "finish_reason"):
                if key not in result:
                    raise ToolError(f"mq JSON lacks {key!r}: {line}")
            return result
    raise ToolError(f"mq printed no JSON object\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}")


def compare(
    ref_ids: list[int], ref_logprobs: list[float], margins: list[float], eos: int | None, got: dict, n: int, tol: float
) -> bool:
    got_ids = [int(x) for x in got["token_ids"]]
    got_logprobs = [float(x) for x in got["logprobs"]]
    reason = got["finish_reason"]
    problems: list[str] = []
    if len(got_logprobs) != len(got_ids):
        problems.append(f"mq gave {len(got_ids)} token_ids but {len(got_logprobs)} logprobs")

    # transformers never stops; mq may stop at EOS (with or without emitting it) or a stop string.
    if reason == "length" and len(got_ids) != n:
        problems.append(f"finish_reason length but {len(got_ids)} tokens, expected {n}")
    if reason == "eos":
        k = len(got_ids)
        emitted_eos = k > 0 and got_ids[-1] == eos
        if not emitted_eos and not (k < n and ref_ids[k] == eos):
            problems.append(f"finish_reason eos after {k} tokens, but transformers' token {k} is not EOS {eos}")
    if len(got_ids) > n:
        problems.append(f"mq gave {len(got_ids)} tokens, more than --max-tokens {n}")

    first_diff = next((i for i, (a, b) in enumerate(zip(ref_ids, got_ids)) if a != b), None)
    if first_diff is not None:
        note = f" (transformers' top-2 logit gap there is only {margins[first_diff]:.2g})" if margins[first_diff] < tol else ""
        problems.append(
            f"first differing token at step {first_diff}: transformers {ref_ids[first_diff]}, mq {got_ids[first_diff]}{note}"
        )

    common = len(got_ids) if first_diff is None else first_diff
    common = min(common, len(got_logprobs))
    diffs = [abs(ref_logprobs[i] - got_logprobs[i]) for i in range(common)]
    worst = max(diffs, default=0.0)
    worst_at = diffs.index(worst) if diffs else None
    if any(not math.isfinite(x) for x in got_logprobs[:common]):
        problems.append("mq logprobs contain a non-finite value")
    elif worst > tol:
        problems.append(f"logprob difference {worst:.3g} at step {worst_at} exceeds {tol:g}")

    print(f"transformers ids: {ref_ids}")
    print(f"mq ids:           {got_ids} (finish_reason {reason})")
    print(f"worst |logprob difference| over {common} matching steps: {worst:.3g}" + (f" at step {worst_at}" if diffs else ""))
    if problems:
        print("FAIL")
        for p in problems:
            print("  -", p)
        return False
    print(f"PASS: {len(got_ids)} tokens equal, logprobs within {tol:g}")
    return True


def check(args: argparse.Namespace) -> int:
    model_dir: Path = args.model
    if not (model_dir / "config.json").exists():
        raise ToolError(f"{model_dir}/config.json not found")
    config = json.loads((model_dir / "config.json").read_text())
    if config.get("model_type") != "gpt_bigcode":
        raise ToolError(f"{model_dir}: model_type {config.get('model_type')!r}; this checker handles gpt_bigcode")
    prompt = args.prompt_ids
    if prompt is None:
        rng = np.random.default_rng(args.seed)
        prompt = [int(i) for i in rng.integers(5, config["vocab_size"], size=DEFAULT_PROMPT_LENGTH)]
    n = args.max_tokens

    ref_ids, ref_logprobs, margins, eos = transformers_greedy(model_dir, prompt, n)
    print(f"model {model_dir}; prompt ids {prompt}; transformers {transformers.__version__}, torch {torch.__version__}")
    if min(margins) < args.tolerance:
        print(f"warning: transformers' smallest top-2 logit gap is {min(margins):.2g}: a near-tie, ids may legitimately differ")
    if args.transformers_only:
        print(json.dumps({"token_ids": ref_ids, "logprobs": ref_logprobs, "min_top2_gap": min(margins)}))
        return 0
    got = run_mq(find_mq(args.mq), model_dir, prompt, n, args.mq_arg)
    return 0 if compare(ref_ids, ref_logprobs, margins, eos, got, n, args.tolerance) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="checkpoint folder to check")
    parser.add_argument("--mq", help="mq binary (default: $MQ_BIN, then .build/release/mq, .build/debug/mq)")
    parser.add_argument("--prompt-ids", type=parse_ids, help="e.g. 17,4,300 (default: 8 seeded random ids)")
    parser.add_argument("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS)
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE, help="max |logprob difference|")
    parser.add_argument("--transformers-only", action="store_true", help="print transformers' result, skip mq")
    parser.add_argument("--mq-arg", action="append", default=[], help="extra argument for `mq run` (repeatable)")
    parser.add_argument("--make-random", type=Path, metavar="OUTDIR", help="write a random checkpoint instead")
    parser.add_argument("--n-embd", type=int, default=96)
    parser.add_argument("--n-head", type=int, default=6)
    parser.add_argument("--n-layer", type=int, default=2)
    parser.add_argument("--multi-query", type=parse_bool, default=True)
    parser.add_argument("--n-inner", type=int, default=None, help="default: 4 * n_embd (written as null)")
    parser.add_argument("--n-positions", type=int, default=256)
    parser.add_argument("--vocab-size", type=int, default=None, help="default: the fixture tokenizer's 512")
    parser.add_argument("--tie", type=parse_bool, default=True, help="tie lm_head to wte")
    parser.add_argument("--dtype", choices=sorted(TORCH_DTYPES), default="f32", help="storage dtype")
    parser.add_argument("--max-shard-size", default=None, help='e.g. "200KB" to write several shards')
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    if not args.make_random and not args.model:
        parser.error("pass --model DIR (check) or --make-random OUTDIR")
    if args.max_tokens < 1:
        parser.error("--max-tokens must be >= 1")
    try:
        return make_random(args) if args.make_random else check(args)
    except ToolError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
