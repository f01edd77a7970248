#!/usr/bin/env python3
"""Add the Python sources of permissively licensed PyPI packages to the stdlib training split.

The stdlib corpus (prepare.py) is 2.4M tokens: after 12 passes a 5.4M-parameter model mostly
memorises it. This script widens the TRAINING data only; the tokenizer (trained on the stdlib train
split) and the held-out split (stdlib files) stay exactly as prepare.py made them, so held-out
perplexity and the FIM score stay comparable with the earlier phases.

What it does, deterministically:
  1. Downloads the wheels pinned in packages.txt (`pip download --no-deps`), unless --wheels
     already holds them, and checks each wheel's licence metadata against the licence named in
     packages.txt (a mismatch is an error: the list is the licence record).
  2. Keeps the `.py` members that pass prepare.py's filters (directories named test/tests/... are
     skipped, files over 256 KiB dropped, UTF-8 only) and two more for generated data: no line over
     1,000 characters, mean line length at most 80.
  3. Drops exact duplicates (sha256 of the text) of each other and of any stdlib file, and every
     file that shares 5 or more long lines (at least 40 characters after stripping), and at least
     10% of its long lines, with the held-out stdlib files (vendored copies of stdlib modules would
     leak the FIM score's functions into training).
  4. Encodes the files with the stdlib tokenizer, each followed by <|endoftext|>, and writes
     train.bin = the stdlib train stream followed by the package stream; heldout.bin, tokenizer.json
     are copied from --base; manifest.json records packages, versions, licences and counts.

Tried on 2026-12-02 (not shipped): models/default (phase 9) continued for 10,149,888 tokens on the
stdlib + packages stream (78 min, peak LR 8e-4, phase 9's FIM recipe), then 6,205,440 tokens on that
stream plus synth.py's functions (19.2% of it; 40 min, peak LR 5e-4 annealed). Against phase 9, on
the stdlib held-out split (tools/train/evaluate_fim.py): perplexity per token 23.002 / 21.838 in
256 / 512-token windows (phase 9: 20.365 / 19.705); FIM exact lines 10/300 (11/300), left to right
5/300 (7/300); edit similarity FIM 25.2 (26.6), left to right 23.2 (28.1); first middle token
1.884 nats after the FIM prompt (2.021), 1.250 after the prefix alone (1.249). The card's probes
still got lines unrelated to the names around the gap (a docstring, `Return the add_numbers(a, b)`, between
`def add(a, b):` and `return c`): the model did not learn to condition its first middle token on
the suffix (its top first tokens stayed the usual first tokens of a function body). So phase 9
stays the default model; what limits FIM here is the jump from <fim_middle> back to the end of the
prefix in a 4-layer, 5.4M-parameter model, not the amount of code it has seen.

Usage:
  /work/venv/bin/python tools/train/prepare_packages.py [--base models/train-work/data] \
      [--wheels models/train-work/wheels] [--out models/train-work/data-pkgs]
"""
import argparse
import email.parser
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prepare import EXCLUDED_DIRS, MAX_FILE_BYTES, gather, is_heldout, stdlib_of  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_LINE_CHARS = 1000
MAX_MEAN_LINE_CHARS = 80
LONG_LINE = 40
OVERLAP_LINES, OVERLAP_FRACTION = 5, 0.10


def read_list(path):
    """[(name, version, licence)] from lines 'name==version  licence' (# comments)."""
    out = []
    for line in open(path):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec, licence = line.split(None, 1)
        name, version = spec.split("==")
        out.append((name, version, licence.strip()))
    return out


def normal(name):
    return name.lower().replace("-", "_").replace(".", "_")


def wheel_for(wheels, name, version):
    hits = [f for f in sorted(os.listdir(wheels))
            if f.endswith(".whl") and normal(f.split("-")[0]) == normal(name) and f.split("-")[1] == version]
    if len(hits) != 1:
        raise SystemExit(f"prepare_packages: expected one wheel of {name}=={version} in {wheels}, found {hits}")
    return os.path.join(wheels, hits[0])


def wheel_licence(zf):
    """The licence fields of a wheel's METADATA: License-Expression, License, licence classifiers."""
    meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
    msg = email.parser.Parser().parsestr(zf.read(meta).decode("utf-8", "replace"))
    fields = [msg.get("License-Expression") or "", (msg.get("License") or "").split("\n")[0]]
    fields += [c for c in msg.get_all("Classifier") or [] if c.startswith("License ::")]
    return " | ".join(f for f in fields if f)


def py_members(zf):
    """Sorted (member, text) of the .py files that pass the filters."""
    out = []
    for info in sorted(zf.infolist(), key=lambda i: i.filename):
        path = info.filename
        parts = path.split("/")
        if not path.endswith(".py") or any(p in EXCLUDED_DIRS for p in parts[:-1]) or ".data" in parts[0]:
            continue
        if info.file_size > MAX_FILE_BYTES or parts[-1].startswith("_sysconfigdata"):
            continue
        try:
            text = zf.read(info).decode("utf-8")
        except UnicodeDecodeError:
            continue
        lines = text.split("\n")
        if not text.strip() or max(len(l) for l in lines) > MAX_LINE_CHARS:
            continue
        if sum(len(l) for l in lines) / len(lines) > MAX_MEAN_LINE_CHARS:
            continue
        out.append((path, text))
    return out


def extend_data(base_dir, out_dir, extra, entry, value):
    """Write the data folder out_dir: base_dir's train.bin followed by the uint16 ids `extra`, its
    held-out split and tokenizer, and its manifest with manifest[entry] = value and the new stream's
    token count (and the stdlib split's, kept from the first extension). Returns the base's length."""
    base = np.fromfile(os.path.join(base_dir, "train.bin"), dtype=np.uint16)
    os.makedirs(out_dir, exist_ok=True)
    np.concatenate([base, np.asarray(extra, dtype=np.uint16)]).tofile(os.path.join(out_dir, "train.bin"))
    for name in ("heldout.bin", "tokenizer.json"):
        shutil.copy(os.path.join(base_dir, name), os.path.join(out_dir, name))
    with open(os.path.join(base_dir, "manifest.json")) as f:
        manifest = json.load(f)
    manifest[entry] = value
    manifest.setdefault("stdlib_train_tokens", int(len(base)))
    manifest["train_tokens"] = int(len(base) + len(extra))
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    return len(base)


def long_lines(text):
    return {l.strip() for l in text.split("\n") if len(l.strip()) >= LONG_LINE}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", default=os.path.join(HERE, "packages.txt"))
    ap.add_argument("--base", default="models/train-work/data", help="prepare.py's output")
    ap.add_argument("--wheels", default="models/train-work/wheels")
    ap.add_argument("--out", default="models/train-work/data-pkgs")
    ap.add_argument("--python", default="/usr/bin/python3", help="interpreter whose stdlib prepare.py read")
    args = ap.parse_args()

    packages = read_list(args.list)
    os.makedirs(args.wheels, exist_ok=True)
    missing = [f"{n}=={v}" for n, v, _ in packages
               if not any(normal(f.split("-")[0]) == normal(n) and f.split("-")[1] == v
                          for f in os.listdir(args.wheels) if f.endswith(".whl"))]
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.11", "--platform", "manylinux2014_x86_64",
                        "--platform", "manylinux_2_17_x86_64", "--platform", "any", "-d", args.wheels, *missing],
                       check=True)

    root, _ = stdlib_of(args.python)
    stdlib = gather(root)
    held_lines = set()
    seen = set()
    for rel, text in stdlib:
        seen.add(hashlib.sha256(text.encode()).hexdigest())
        if is_heldout(rel):
            held_lines |= long_lines(text)

    files, record = [], []
    for name, version, licence in packages:
        with zipfile.ZipFile(wheel_for(args.wheels, name, version)) as zf:
            meta = wheel_licence(zf)
            if not any(word.lower() in meta.lower() for word in licence.split("/")):
                raise SystemExit(f"prepare_packages: {name}=={version}: packages.txt says {licence!r}, "
                                 f"its METADATA says {meta!r}")
            kept, dup, overlap, nbytes = 0, 0, 0, 0
            for path, text in py_members(zf):
                digest = hashlib.sha256(text.encode()).hexdigest()
                if digest in seen:
                    dup += 1
                    continue
                seen.add(digest)
                mine = long_lines(text)
                common = len(mine & held_lines)
                if common >= OVERLAP_LINES and common >= OVERLAP_FRACTION * len(mine):
                    overlap += 1
                    continue
                files.append(text)
                kept += 1
                nbytes += len(text.encode())
        record.append({"name": name, "version": version, "licence": licence, "metadata_licence": meta,
                       "files": kept, "bytes": nbytes, "duplicates_dropped": dup, "heldout_overlap_dropped": overlap})
        print(f"{name}=={version}: {kept} files, {nbytes} bytes ({dup} duplicates, {overlap} overlapping held-out)")

    tok = Tokenizer.from_file(os.path.join(args.base, "tokenizer.json"))
    ids = []
    for enc in tok.encode_batch(files):
        ids.extend(enc.ids)
        ids.append(0)
    pkg = np.asarray(ids, dtype=np.uint16)
    nbytes = sum(r["bytes"] for r in record)
    packages = {
        "list": os.path.relpath(args.list), "filters": {
            "as_stdlib": "prepare.py's directory, size and UTF-8 filters",
            "max_line_chars": MAX_LINE_CHARS, "max_mean_line_chars": MAX_MEAN_LINE_CHARS,
            "duplicates": "sha256 of the text, against each other and every stdlib file",
            "heldout_overlap": f"dropped when >= {OVERLAP_LINES} and >= {OVERLAP_FRACTION:.0%} of its lines of "
                               f">= {LONG_LINE} characters (stripped) occur in held-out stdlib files"},
        "files": len(files), "bytes": nbytes, "tokens": int(len(pkg)), "per_package": record}
    base = extend_data(args.base, args.out, pkg, "packages", packages)
    print(f"packages: {len(files)} files, {nbytes} bytes, {len(pkg)} tokens; "
          f"train.bin {base + len(pkg)} tokens (stdlib {base})")


if __name__ == "__main__":
    sys.exit(main())
