#!/usr/bin/env python3
"""Gather the Python standard library sources, split them by file, train the BPE tokenizer.

What it does, deterministically:
  1. Asks a Python interpreter (default: Debian's system `/usr/bin/python3`) for its stdlib
     directory via `sysconfig.get_paths()['stdlib']` and walks it in sorted path order.
  2. Keeps files that pass the filters below (stated in FILTERS and recorded in manifest.json).
  3. Splits by file: a file is held out when sha256(relative path) mod 10 == 0 (about 10%).
     Hashing the path (not the content) keeps the split stable across patch releases.
  4. Trains a byte-level BPE tokenizer, StarCoder style, on the TRAIN split only.
  5. Encodes both splits to uint16 token streams: each file is followed by <|endoftext|> (id 0),
     and the stream starts with <|endoftext|> so the first real token has a context to be
     predicted from.

Outputs (in --out, default models/train-work/data):
  tokenizer.json, train.bin, heldout.bin (uint16 little-endian token ids), manifest.json
  (interpreter, Python version, filters, file and byte counts per split, file lists, token counts).

Usage:
  /work/venv/bin/python tools/train/prepare.py [--python /usr/bin/python3] [--vocab-size 8192]
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

SPECIAL_TOKENS = ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>"]
EXCLUDED_DIRS = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"}
MAX_FILE_BYTES = 256 * 1024  # drops pydoc_data/topics.py (750 KB of help prose stored as a string)
HELDOUT_MODULUS = 10
FILTERS = {
    "extension": ".py",
    "excluded_directory_names": sorted(EXCLUDED_DIRS),
    "excluded_file_prefixes": ["_sysconfigdata"],  # machine-generated build configuration
    "max_file_bytes": MAX_FILE_BYTES,
    "encoding": "must decode as UTF-8",
    "split": f"held out when int(sha256(relative_path).hexdigest(), 16) % {HELDOUT_MODULUS} == 0",
}


def stdlib_of(python):
    code = "import sysconfig, sys; print(sysconfig.get_paths()['stdlib']); print(sys.version.split()[0])"
    out = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True).stdout.split("\n")
    return out[0].strip(), out[1].strip()


def gather(root):
    """Sorted list of (relative_path, text) passing FILTERS."""
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS)
        for name in sorted(filenames):
            if not name.endswith(".py") or name.startswith("_sysconfigdata"):
                continue
            path = os.path.join(dirpath, name)
            if os.path.islink(path) or os.path.getsize(path) > MAX_FILE_BYTES:
                continue
            with open(path, "rb") as f:
                raw = f.read()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                continue
            files.append((os.path.relpath(path, root), text))
    files.sort(key=lambda item: item[0])
    return files


def is_heldout(relpath):
    return int(hashlib.sha256(relpath.encode("utf-8")).hexdigest(), 16) % HELDOUT_MODULUS == 0


def build_tokenizer(texts, vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,  # ids 0..4 in this order; <|endoftext|> is 0
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return tok


def encode_stream(tok, texts):
    ids = [0]
    for enc in tok.encode_batch(texts):
        ids.extend(enc.ids)
        ids.append(0)
    arr = np.asarray(ids, dtype=np.uint16)
    assert arr.max() < 65536
    return arr


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", default="/usr/bin/python3", help="interpreter whose stdlib is the corpus")
    ap.add_argument("--vocab-size", type=int, default=8192)
    ap.add_argument("--out", default="models/train-work/data")
    args = ap.parse_args()

    root, version = stdlib_of(args.python)
    files = gather(root)
    train = [(p, t) for p, t in files if not is_heldout(p)]
    held = [(p, t) for p, t in files if is_heldout(p)]
    print(f"python {version} stdlib {root}: {len(files)} files, {len(train)} train, {len(held)} held out")

    tok = build_tokenizer([t for _, t in train], args.vocab_size)
    for i, s in enumerate(SPECIAL_TOKENS):
        assert tok.token_to_id(s) == i, f"special token {s} expected at id {i}"
    os.makedirs(args.out, exist_ok=True)
    tok.save(os.path.join(args.out, "tokenizer.json"))

    manifest = {
        "interpreter": args.python, "python_version": version, "stdlib": root,
        "licence": "Python Software Foundation License (PSF-2.0); see LICENSE.txt in the stdlib directory",
        "filters": FILTERS, "vocab_size": tok.get_vocab_size(), "special_tokens": SPECIAL_TOKENS,
    }
    for name, split in (("train", train), ("heldout", held)):
        ids = encode_stream(tok, [t for _, t in split])
        ids.tofile(os.path.join(args.out, f"{name}.bin"))
        nbytes = sum(len(t.encode("utf-8")) for _, t in split)
        manifest[name] = {
            "files": len(split), "bytes": nbytes, "tokens": int(len(ids)),
            "bytes_per_token": round(nbytes / (len(ids) - 1 - len(split)), 3),
            "paths": [p for p, _ in split],
        }
        print(f"{name}: {len(split)} files, {nbytes} bytes, {len(ids)} tokens "
              f"({manifest[name]['bytes_per_token']} bytes/token excluding <|endoftext|>)")
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
