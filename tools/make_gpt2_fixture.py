#!/usr/bin/env python3
"""Golden fixture for mq's GPT-2 layout loader (Sources/MQModel/GPT2.swift), from transformers' GPT2LMHeadModel.

SantaCoder's original multi-query layout has no class in transformers, so its fixtures
(tools/convert_santacoder_layout.py) borrow the reference of the GPTBigCode checkpoint they were
converted from. This fixture checks the same loader against transformers directly, on plain multi-head
GPT-2: Conv1D weights stored [in, out], c_attn columns [Q | K | V], tensor names without the
"transformer." prefix as in OpenAI's own files, and scale_attn_by_inverse_layer_idx true (attention
scores also divided by layer + 1), which SantaCoder's config carries as false.

Writes Tests/Fixtures/models/gpt2-mha/ (config.json, generation_config.json, model.safetensors,
tokenizer.json copied from Tests/Fixtures/models/mqa, reference.json in the schema of make_fixtures.py):
vocab 512, n_embd 64, n_head 4, n_layer 2, n_positions 128, n_inner 96, activation gelu_new, F32, tied head.

Usage (from the repository root):
    /work/venv/bin/python tools/make_gpt2_fixture.py
Deterministic on the versions pinned in tools/requirements.txt.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
import transformers
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer
from transformers import GPT2Config, GPT2LMHeadModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fixtures import GREEDY_TOKENS, f32, greedy, prompt_cases, prompt_logits  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
TOKENIZER_SOURCE = REPO_ROOT / "Tests/Fixtures/models/mqa/tokenizer.json"
SEED = 2718
MIN_MARGIN = 5e-3
EOS_ID = 0


def randomize_(model: GPT2LMHeadModel, generator: torch.Generator) -> None:
    """Re-draw every parameter as make_fixtures.py does (Conv1D weights are [in, out]: fan_in = shape[0])."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name == "lm_head.weight":
                continue  # tied to transformer.wte.weight
            shape = tuple(param.shape)
            if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
                value = 1.0 + 0.2 * torch.randn(shape, generator=generator)
            elif name.endswith(".bias"):
                value = 0.1 * torch.randn(shape, generator=generator)
            elif name == "transformer.wte.weight":
                value = 0.3 * torch.randn(shape, generator=generator)
            elif name == "transformer.wpe.weight":
                value = 0.5 * torch.randn(shape, generator=generator)
            else:
                value = torch.randn(shape, generator=generator) * (2.0 / math.sqrt(shape[0]))
            param.copy_(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "Tests/Fixtures/models/gpt2-mha")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    transformers.logging.set_verbosity_error()

    tokenizer = Tokenizer.from_file(str(TOKENIZER_SOURCE))
    config = GPT2Config(
        vocab_size=tokenizer.get_vocab_size(), n_positions=128, n_embd=64, n_layer=2, n_head=4, n_inner=96,
        activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, layer_norm_epsilon=1e-5,
        scale_attn_by_inverse_layer_idx=True, bos_token_id=EOS_ID, eos_token_id=EOS_ID,
    )
    torch.manual_seed(SEED)
    model = GPT2LMHeadModel(config)
    randomize_(model, torch.Generator().manual_seed(SEED))
    model.eval()

    folder = args.out
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    model.save_pretrained(folder)
    # OpenAI's GPT-2 files name tensors without the "transformer." prefix; store them that way.
    tensors = load_file(folder / "model.safetensors")
    if "lm_head.weight" in tensors:
        raise RuntimeError("transformers stored lm_head.weight although the head is tied")
    renamed = {k.removeprefix("transformer."): v.contiguous() for k, v in sorted(tensors.items())}
    if any(k.startswith("transformer.") for k in renamed) or "wte.weight" not in renamed:
        raise RuntimeError(f"unexpected tensor names: {sorted(tensors)[:5]}")
    save_file(renamed, folder / "model.safetensors", metadata={"format": "pt"})
    shutil.copyfile(TOKENIZER_SOURCE, folder / "tokenizer.json")

    # The reference loads the renamed file, so transformers itself vouches for the prefix-less names.
    reference = GPT2LMHeadModel.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    for name, param in model.state_dict().items():
        if not torch.equal(param, reference.state_dict()[name]):
            raise RuntimeError(f"{name} did not survive the renaming")
    cases, min_margin = [], math.inf
    for prompt_text, ids in prompt_cases(tokenizer, config.vocab_size):
        logits = prompt_logits(reference, ids)
        greedy_ids, greedy_logprobs, margin = greedy(reference, ids, GREEDY_TOKENS)
        if margin < MIN_MARGIN:
            raise RuntimeError(f"greedy margin {margin} below {MIN_MARGIN}; change SEED")
        min_margin = min(min_margin, margin)
        cases.append({"prompt_text": prompt_text, "prompt_ids": ids,
                      "logits": [[f32(v) for v in row] for row in logits.tolist()],
                      "greedy_ids": greedy_ids, "greedy_logprobs": [f32(v) for v in greedy_logprobs]})
    note = (f"Plain multi-head GPT-2 (GPT2LMHeadModel, scale_attn_by_inverse_layer_idx true, tensor names without "
            f"'transformer.'), computed by transformers {transformers.__version__} / torch {torch.__version__} in "
            f"float32, eager attention, one CPU thread. Smallest top-1/top-2 greedy gap: {min_margin:.3g}.")
    ref = {"model": "gpt2-mha", "tolerance_note": note, "cases": cases}
    (folder / "reference.json").write_text(json.dumps(ref, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{folder}: min greedy margin {min_margin:.3g}, logit spread {float(np.ptp(np.array(cases[2]['logits']))):.3g}; "
          + "; ".join(f"T={len(c['prompt_ids'])} greedy={c['greedy_ids']}" for c in cases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
