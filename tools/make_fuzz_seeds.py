#!/usr/bin/env python3
"""Write the seed corpora of the file-format fuzz targets from the committed test fixtures.

Usage:  python3 tools/make_fuzz_seeds.py [--out Fuzz/Corpus]   (standard library only; run from the
        repository root; tools/fuzz.sh --write-seeds calls it)

  config-json/         every distinct config.json of Tests/Fixtures/models
  safetensors-header/  small whole safetensors files: each fixture checkpoint's header with its tensors
                       shrunk to a few elements (real names, dtypes and layouts, data zero-filled), plus
                       hand-made ones for every dtype, __metadata__ and an empty header
  tokenizer-json/      Tests/Fixtures/tokenizers/starcoder.json cut to a small vocabulary (fast to load),
                       then that base with each pipeline patch of variants.json applied (normalizers,
                       pre-tokenizers, decoders, post-processors, BPE options), and the whole-tokenizer
                       variants cut the same way

Seeds are small on purpose: the fuzzer mutates them, and a small input is a fast input.
"""
import argparse
import hashlib
import json
import os
import struct

MODELS = "Tests/Fixtures/models"
TOKENIZERS = "Tests/Fixtures/tokenizers"
DTYPE_SIZES = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2,
               "I16": 2, "U16": 2, "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
KEEP_VOCAB = 300   # tokens kept from the base vocabulary (the 256 byte symbols and the first merges)


def write(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def safetensors(entries, metadata=None):
    """A whole file: {name: (dtype, shape)} laid out in order, data zero-filled."""
    header, offset = {}, 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, (dtype, shape) in entries.items():
        count = 1
        for d in shape:
            count *= d
        size = count * DTYPE_SIZES[dtype]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    body = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(body)) + body + bytes(offset)


def safetensors_seeds(out):
    directory = os.path.join(out, "safetensors-header")
    for model in sorted(os.listdir(MODELS)):
        for file in sorted(f for f in os.listdir(os.path.join(MODELS, model)) if f.endswith(".safetensors")):
            with open(os.path.join(MODELS, model, file), "rb") as f:
                (n,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(n))
            metadata = header.pop("__metadata__", None)
            # At most 12 tensors, each shrunk to at most 3 elements per dimension.
            entries = {name: (v["dtype"], [min(d, 3) for d in v["shape"]])
                       for name, v in sorted(header.items())[:12]}
            write(directory, f"{model}-{file.replace('.safetensors', '')}", safetensors(entries, metadata))
    write(directory, "all-dtypes", safetensors({f"t.{d.lower()}": (d, [2, 1]) for d in DTYPE_SIZES}))
    write(directory, "scalar-and-empty", safetensors({"scalar": ("F32", []), "empty": ("F16", [0, 4])},
                                                     metadata={"format": "pt"}))
    write(directory, "no-tensors", safetensors({}))


def config_seeds(out):
    seen = set()
    for model in sorted(os.listdir(MODELS)):
        with open(os.path.join(MODELS, model, "config.json"), "rb") as f:
            data = f.read()
        if hashlib.sha256(data).digest() not in seen:
            seen.add(hashlib.sha256(data).digest())
            write(os.path.join(out, "config-json"), model, data)


def shrink(tokenizer):
    """Keeps the first KEEP_VOCAB ids and the merges whose parts and result stay in the vocabulary."""
    model = tokenizer["model"]
    vocab = {t: i for t, i in model["vocab"].items() if i < KEEP_VOCAB}
    merges = []
    for merge in model["merges"]:
        a, b = merge.split(" ", 1) if isinstance(merge, str) else merge
        if a in vocab and b in vocab and a + b in vocab:
            merges.append(merge)
    model["vocab"], model["merges"] = vocab, merges
    tokenizer["added_tokens"] = [t for t in tokenizer.get("added_tokens") or [] if t["id"] < KEEP_VOCAB][:6]
    return tokenizer


def tokenizer_seeds(out):
    directory = os.path.join(out, "tokenizer-json")
    with open(os.path.join(TOKENIZERS, "starcoder.json")) as f:
        base = shrink(json.load(f))
    dump = lambda t: json.dumps(t, ensure_ascii=False, separators=(",", ":")).encode()
    write(directory, "starcoder-small", dump(base))
    for name in ["falcon.json", "added.json", "starcoder_pairs.json"]:
        with open(os.path.join(TOKENIZERS, name)) as f:
            write(directory, name.replace(".json", "") + "-small", dump(shrink(json.load(f))))
    with open(os.path.join(TOKENIZERS, "variants.json")) as f:
        variants = json.load(f)["variants"]
    for variant in variants:
        if "patch" in variant:
            tokenizer = json.loads(json.dumps(base))
            tokenizer.update(variant["patch"])
        else:
            tokenizer = shrink(variant["tokenizer"])
        write(directory, variant["name"], dump(tokenizer))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="Fuzz/Corpus")
    args = parser.parse_args()
    safetensors_seeds(args.out)
    config_seeds(args.out)
    tokenizer_seeds(args.out)


if __name__ == "__main__":
    main()
