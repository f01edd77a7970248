"""Tests of fim.py's FIM transformation, on the shipped tokenizer (models/default/tokenizer.json is
the training tokenizer) and fixed Python text as documents.

  /work/venv/bin/python -m pytest tools/train/test_fim.py
"""
import hashlib
import os
import sys

import numpy as np
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fim import (EOS_ID, FIM_MIDDLE, FIM_PAD, FIM_PREFIX, FIM_SUFFIX, chunk_window, fim_prompt,  # noqa: E402
                 function_chunks, permute_window)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOK = Tokenizer.from_file(os.path.join(ROOT, "models/default/tokenizer.json"))
# Two documents of fixed Python text: a 512-token window starting inside the first holds its end, a
# separator and the second's start.
def document(name, n):
    return "".join(f"def {name}_{k}(a, b):\n    \"\"\"Return combination {k} of a and b.\"\"\"\n    if a > {k}:\n"
                   f"        total = a * b + {k}\n        return total\n    return a - b\n\n\n" for k in range(n))


DOCS = [document("first", 60), document("second", 60)]
STREAM = np.asarray(TOK.encode(DOCS[0]).ids + [EOS_ID] + TOK.encode(DOCS[1]).ids, dtype=np.int64)
EOS_AT = len(TOK.encode(DOCS[0]).ids)


def windows(n=40, context=512):
    rng = np.random.default_rng(0)
    return [STREAM[s:s + context + 1] for s in rng.integers(EOS_AT - context, EOS_AT, size=n // 2)] + \
           [STREAM[s:s + context + 1] for s in rng.integers(0, EOS_AT - context - 1, size=n - n // 2)]


def parts(out):
    """(prefix, suffix, middle) texts of a PSM window's single FIM piece, and what follows the middle."""
    out = list(out)
    p, s, m = out.index(FIM_PREFIX), out.index(FIM_SUFFIX), out.index(FIM_MIDDLE)
    end = out.index(EOS_ID, m) if EOS_ID in out[m:] else len(out)
    suffix = [t for t in out[s + 1:m] if t != FIM_PAD]
    return TOK.decode(out[p + 1:s]), TOK.decode(suffix), TOK.decode(out[m + 1:end]), end


def test_lengths_kept_and_sentinels_in_order():
    for i, w in enumerate(windows()):
        rng = np.random.default_rng(i)
        out = permute_window(w, rng, TOK, fim_rate=1.0, spm_rate=0.5, line_rate=0.5, end_eos=True)
        assert len(out) == len(w)
        if FIM_PREFIX in out:
            assert list(out).count(FIM_MIDDLE) == list(out).count(FIM_PREFIX)


def test_line_middles_are_whole_lines_and_psm_reassembles():
    seen_newline_start = seen_indent_start = 0
    for i, w in enumerate(windows(80)):
        if EOS_ID in w:
            continue  # one piece per window here
        rng = np.random.default_rng(100 + i)
        out = permute_window(w, rng, TOK, fim_rate=1.0, spm_rate=0.0, line_rate=1.0, max_lines=3)
        if FIM_PREFIX not in out:
            continue  # suffix too short to absorb the sentinels: left to right, as bigcode does
        prefix, suffix, middle, _ = parts(out)
        original = TOK.decode(list(w))
        assert original.startswith(prefix + middle)  # the suffix may have been cut at its end
        first = middle[1:] if middle.startswith("\n") else middle
        assert first.split("\n")[0].strip()  # the first line is not blank (later ones may be)
        assert suffix == "" or suffix.startswith("\n")
        assert first.count("\n") <= 2  # at most 3 lines
        if middle.startswith("\n"):
            seen_newline_start += 1
        else:
            assert prefix.endswith("\n" + prefix.split("\n")[-1]) and prefix.split("\n")[-1].strip() == ""
            seen_indent_start += 1
    assert seen_newline_start > 3 and seen_indent_start > 3


def test_end_eos_closes_a_middle_cut_by_the_window_end():
    closed = 0
    for i, w in enumerate(windows()):
        if EOS_ID in w:
            continue
        out = permute_window(w, np.random.default_rng(200 + i), TOK, fim_rate=1.0, spm_rate=0.0, end_eos=True)
        if FIM_PREFIX in out:
            assert out[-1] == EOS_ID
            closed += 1
        plain = permute_window(w, np.random.default_rng(200 + i), TOK, fim_rate=1.0, spm_rate=0.0)
        assert EOS_ID not in plain
    assert closed > 5


def test_defaults_reproduce_phases_4_and_5_draw_for_draw():
    # sha256 of the windows produced by fim.py before --fim-line-rate/--fim-end-eos existed (same calls)
    h = hashlib.sha256()
    for i, w in enumerate(windows()):
        h.update(permute_window(w, np.random.default_rng(300 + i), TOK, 0.5, 0.5).tobytes())
    assert h.hexdigest() == GOLDEN


def test_prompt_matches_the_training_layout():
    prefix, suffix = "def add(a, b):\n    ", "\n    return c"
    ids = TOK.encode(fim_prompt(prefix, suffix)).ids
    assert ids == [FIM_PREFIX] + TOK.encode(prefix).ids + [FIM_SUFFIX] + TOK.encode(suffix).ids + [FIM_MIDDLE]


def test_function_chunks_split_at_definitions_and_rejoin():
    text = DOCS[0][:3000]
    chunks = function_chunks(text, 120)
    assert "".join(chunks) == text
    assert len(chunks) > 5
    for c in chunks[1:]:
        assert c.startswith("def ")
    for c in chunks[:-1]:
        assert len(c) >= 120
    decorated = "x = 1\n" * 30 + "@property\ndef f(self):\n    return 1\n" * 5
    for c in function_chunks(decorated, 10)[1:]:
        assert c.startswith("@property\ndef f")  # a decorator stays with its def


def test_chunked_windows_hold_several_psm_examples_each_ended():
    examples = 0
    for i, w in enumerate(windows()):
        out = list(chunk_window(w, np.random.default_rng(400 + i), TOK, fim_rate=1.0, spm_rate=0.0, line_rate=1.0))
        assert len(out) == len(w)
        n = out.count(FIM_PREFIX)
        assert out.count(FIM_MIDDLE) <= n and out.count(FIM_SUFFIX) <= n
        examples += n
        # every complete example: <fim_prefix> P <fim_suffix> S <fim_middle> M <|endoftext|>
        for p in [k for k, t in enumerate(out) if t == FIM_PREFIX]:
            try:
                s, m, e = out.index(FIM_SUFFIX, p), out.index(FIM_MIDDLE, p), out.index(EOS_ID, p)
            except ValueError:
                continue  # cut by the window's end
            assert p < s < m < e
            middle = TOK.decode(out[m + 1:e])
            assert middle.strip() and middle.count("\n") <= 3
    assert examples >= 3 * len(windows())  # several per window (the documents' functions are short)


GOLDEN = "10f2da1fdd969106801ccb33e15821cc5666009e08b6966398632c87bedfd2e2"
