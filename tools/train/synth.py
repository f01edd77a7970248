#!/usr/bin/env python3
"""Synthetic small Python functions whose bodies do what their names say, for the default model.

Why: the bundled model has 5.4M parameters. Real code (the stdlib and the PyPI packages of
prepare_packages.py) teaches it Python's surface, but a function's body rarely follows from its
name and arguments there (most begin with a docstring, call helpers defined elsewhere, and return
names assigned many lines up), so a fill-in-the-middle request such as an editor's cursor between
`def add(a, b):` and `return c` gets a plausible but unrelated line. Like the synthetic "textbook"
data of small code models (phi-1) and TinyStories, these functions are short, self-consistent and
varied: the name says the operation, the arguments are used, a result is named and returned or
printed. Mixed into the training stream as a minority (--base-data/--data-out) and never part of
the held-out split, so held-out perplexity and the FIM score (stdlib functions) stay measures of
real code.

The README's and model card's probe functions are never generated as written: the signature and
result name of each (e.g. `add(a, b)` returning `c`) are excluded, so a probe shows the model
carrying a pattern over to new names, not recalling a training line (it has seen `add(x, y)`
returning `z` and the like).

Tried on 2026-12-02 as a fifth of a continuation's stream, after the packages' sources; not shipped
(prepare_packages.py's docstring gives the measurements).

Output: a uint16 token stream like prepare.py's (files of 5-30 functions, each file followed by
<|endoftext|>), encoded with the stdlib tokenizer, plus a JSON summary.

Usage:
  /work/venv/bin/python tools/train/synth.py --functions 300000 --seed 0 \\
      --tokenizer models/train-work/data/tokenizer.json --out models/train-work/synth
"""
import argparse
import json
import os
import sys

import numpy as np
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prepare_packages import extend_data  # noqa: E402

# (name, params, result) of the probes in README.md, models/default/README.md and tests: never generated.
EXCLUDED = {("add", ("a", "b"), "c"), ("greet", ("name",), "message"), ("area", ("width", "height"), "result"),
            ("read_lines", ("path",), "lines"), ("multiply", ("x", "y"), "product"), ("is_even", ("n",), "result"),
            ("average", ("values",), "mean"), ("Point", ("x", "y"), None)}

BINARY = {"+": ["add", "plus", "sum_two", "combine", "add_numbers", "total_of"],
          "-": ["subtract", "minus", "difference", "take_away", "sub"],
          "*": ["multiply", "times", "product_of", "scale", "mul"],
          "/": ["divide", "ratio", "quotient", "div"],
          "//": ["floor_divide", "int_divide"],
          "%": ["modulo", "remainder", "mod"],
          "**": ["power", "raise_to", "pow_of"]}
BINARY_CALL = {"max({p}, {q})": ["maximum", "larger", "bigger", "max_of"],
               "min({p}, {q})": ["minimum", "smaller", "min_of"],
               "abs({p} - {q})": ["distance", "gap", "abs_difference"],
               "({p} + {q}) / 2": ["mean_of_two", "midpoint", "average_two"],
               "{p} == {q}": ["is_equal", "same", "equals"],
               "{p} > {q}": ["is_greater", "greater_than"],
               "{p} < {q}": ["is_less", "less_than"],
               "({p} ** 2 + {q} ** 2) ** 0.5": ["hypotenuse", "norm2"]}
NUM_PAIRS = [("a", "b"), ("x", "y"), ("m", "n"), ("p", "q"), ("left", "right"), ("first", "second"),
             ("value", "other"), ("i", "j"), ("u", "v"), ("num1", "num2"), ("lhs", "rhs"), ("x1", "x2")]
RESULTS = ["c", "z", "result", "total", "out", "res", "answer", "value", "r", "ret", "output", "s"]
UNARY_NUM = {"{p} * {p}": ["square", "squared"], "{p} ** 3": ["cube", "cubed"], "2 * {p}": ["double", "twice"],
             "{p} / 2": ["half", "halve"], "-{p}": ["negate", "negative_of"], "{p} + 1": ["increment", "inc", "next_number"],
             "{p} - 1": ["decrement", "dec", "previous_number"], "{p} % 2 == 0": ["is_even", "even"],
             "{p} % 2 == 1": ["is_odd", "odd"], "{p} > 0": ["is_positive", "positive"], "{p} < 0": ["is_negative"],
             "{p} == 0": ["is_zero"], "abs({p})": ["absolute", "magnitude"], "str({p})": ["to_string", "as_text"],
             "int({p})": ["to_int", "as_integer"], "float({p})": ["to_float"], "{p} * {p} * 3.14159": ["circle_area"],
             "{p} * 9 / 5 + 32": ["celsius_to_fahrenheit", "to_fahrenheit"], "({p} - 32) * 5 / 9": ["fahrenheit_to_celsius"]}
NUM_PARAMS = ["n", "x", "value", "number", "num", "k", "a", "t", "amount", "radius", "degrees", "size"]
UNARY_SEQ = {"{p}[0]": ["first", "head", "first_item"], "{p}[-1]": ["last", "last_item"], "{p}[::-1]": ["reverse", "reversed_copy"],
             "sorted({p})": ["sort", "sorted_copy", "in_order"], "sum({p})": ["total", "sum_all", "add_all"],
             "len({p})": ["count", "size", "length", "count_items"], "max({p})": ["largest", "biggest", "max_value"],
             "min({p})": ["smallest", "min_value"], "sum({p}) / len({p})": ["mean", "average", "average_of"],
             "set({p})": ["unique", "distinct"], "{p}[1:]": ["tail", "rest"], "list({p})": ["to_list", "as_list"],
             "[x * 2 for x in {p}]": ["doubled", "double_all"], "[x for x in {p} if x > 0]": ["positives", "keep_positive"],
             "len({p}) == 0": ["is_empty"]}
SEQ_PARAMS = ["items", "values", "numbers", "xs", "data", "seq", "nums", "scores", "elements", "lst", "arr", "prices"]
UNARY_STR = {"{p}.upper()": ["shout", "to_upper", "upper"], "{p}.lower()": ["to_lower", "lower", "whisper"],
             "{p}.strip()": ["strip", "clean", "trim"], "{p}.split()": ["words", "split_words", "tokenize"],
             "{p}.title()": ["title_case", "capitalize_words"], "{p}[::-1]": ["reverse_string", "backwards"],
             "len({p})": ["string_length", "char_count"], "{p}.replace(' ', '_')": ["snake", "underscore_spaces"],
             "{p}.startswith('#')": ["is_comment"], "{p} + '\\n'": ["with_newline"], "{p}.count('a')": ["count_a"]}
STR_PARAMS = ["s", "text", "name", "word", "line", "message", "title", "string", "label", "sentence"]
GREETINGS = [("greet", "Hello, "), ("welcome", "Welcome, "), ("say_hello", "Hi, "), ("farewell", "Goodbye, "),
             ("thank", "Thank you, "), ("salute", "Hey, ")]
SHAPES = [("area", ("width", "height"), "{0} * {1}"), ("rectangle_area", ("w", "h"), "{0} * {1}"),
          ("perimeter", ("width", "height"), "2 * ({0} + {1})"), ("triangle_area", ("base", "height"), "{0} * {1} / 2"),
          ("volume", ("length", "width", "height"), "{0} * {1} * {2}"), ("area", ("w", "h"), "{0} * {1}"),
          ("speed", ("distance", "time"), "{0} / {1}"), ("bmi", ("weight", "height"), "{0} / {1} ** 2"),
          ("price_with_tax", ("price", "rate"), "{0} * (1 + {1})"), ("discount", ("price", "percent"), "{0} * (1 - {1} / 100)"),
          ("interest", ("principal", "rate", "years"), "{0} * {1} * {2}"), ("area", ("length", "breadth"), "{0} * {1}")]
FILES = [("read_lines", "lines", "f.readlines()"), ("read_text", "text", "f.read()"), ("load", "content", "f.read()"),
         ("read_file", "data", "f.read()"), ("read_lines", "rows", "f.read().splitlines()"),
         ("count_lines", "n", "len(f.readlines())"), ("first_line", "line", "f.readline()"),
         ("read_words", "words", "f.read().split()")]
PATHS = ["path", "filename", "file_path", "name", "fname"]
CLASSES = [("Point", ("x", "y")), ("Vector", ("x", "y")), ("Pair", ("first", "second")), ("Size", ("width", "height")),
           ("User", ("name", "age")), ("Item", ("name", "price")), ("Color", ("red", "green", "blue")),
           ("Range", ("start", "stop")), ("Node", ("value", "next")), ("Book", ("title", "author")),
           ("Point3", ("x", "y", "z")), ("Account", ("owner", "balance"))]


def describe(name):
    return name.replace("_", " ")


def docstring(rng, text):
    return f'    """{text}"""\n' if rng.random() < 0.25 else ""


def hint(rng, params, kind):
    if rng.random() < 0.2:
        return ", ".join(f"{p}: {kind}" for p in params), f" -> {kind}"
    return ", ".join(params), ""


def body(rng, r, expr, params):
    """One of: name the result then return it, return it directly, or build it in two steps."""
    u = rng.random()
    if u < 0.6:
        return f"    {r} = {expr}\n    return {r}\n", r
    if u < 0.85:
        return f"    return {expr}\n", None
    return f"    {r} = {expr}\n    print({r})\n    return {r}\n", r


def binary(rng):
    if rng.random() < 0.6:
        op = list(BINARY)[rng.integers(len(BINARY))]
        name = BINARY[op][rng.integers(len(BINARY[op]))]
        p, q = NUM_PAIRS[rng.integers(len(NUM_PAIRS))]
        expr = f"{p} {op} {q}"
    else:
        tmpl = list(BINARY_CALL)[rng.integers(len(BINARY_CALL))]
        name = BINARY_CALL[tmpl][rng.integers(len(BINARY_CALL[tmpl]))]
        p, q = NUM_PAIRS[rng.integers(len(NUM_PAIRS))]
        expr = tmpl.format(p=p, q=q)
    r = RESULTS[rng.integers(len(RESULTS))]
    if r in (p, q):
        r = "result"
    args, ret = hint(rng, (p, q), "int" if rng.random() < 0.5 else "float")
    text, named = body(rng, r, expr, (p, q))
    return (name, (p, q), named), f"def {name}({args}){ret}:\n{docstring(rng, f'Return the {describe(name)} of {p} and {q}.')}{text}"


def unary(rng):
    table, params, kind = [(UNARY_NUM, NUM_PARAMS, "int"), (UNARY_SEQ, SEQ_PARAMS, "list"),
                           (UNARY_STR, STR_PARAMS, "str")][rng.integers(3)]
    tmpl = list(table)[rng.integers(len(table))]
    name = table[tmpl][rng.integers(len(table[tmpl]))]
    p = params[rng.integers(len(params))]
    r = RESULTS[rng.integers(len(RESULTS))]
    if r == p:
        r = "result"
    args, ret = hint(rng, (p,), kind)
    text, named = body(rng, r, tmpl.format(p=p), (p,))
    return (name, (p,), named), f"def {name}({args}){ret}:\n{docstring(rng, f'Return the {describe(name)} of {p}.')}{text}"


def greeting(rng):
    name, word = GREETINGS[rng.integers(len(GREETINGS))]
    p = ["name", "user", "person", "who", "friend"][rng.integers(5)]
    m = ["message", "text", "greeting", "line", "msg"][rng.integers(5)]
    expr = f'"{word}" + {p}' if rng.random() < 0.5 else f'f"{word}{{{p}}}!"'
    return (name, (p,), m), f"def {name}({p}):\n    {m} = {expr}\n    print({m})\n"


def shape(rng):
    name, ps, tmpl = SHAPES[rng.integers(len(SHAPES))]
    r = ["result", "area", "value", "total", "answer", "out"][rng.integers(6)]
    if r == name:
        r = "result"
    text, named = body(rng, r, tmpl.format(*ps), ps)
    return (name, ps, named), f"def {name}({', '.join(ps)}):\n{docstring(rng, f'Return the {describe(name)}.')}{text}"


def file_reader(rng):
    name, r, call = FILES[rng.integers(len(FILES))]
    p = PATHS[rng.integers(len(PATHS))]
    f = f"def {name}({p}):\n    with open({p}) as f:\n        {r} = {call}\n    return {r}\n"
    return (name, (p,), r), f


def loop(rng):
    p = SEQ_PARAMS[rng.integers(len(SEQ_PARAMS))]
    x = ["x", "item", "value", "n", "v"][rng.integers(5)]
    kind = rng.integers(4)
    if kind == 0:
        r = ["total", "s", "acc", "result"][rng.integers(4)]
        return (f"sum_{p}", (p,), r), f"def sum_{p}({p}):\n    {r} = 0\n    for {x} in {p}:\n        {r} += {x}\n    return {r}\n"
    if kind == 1:
        r = ["count", "n", "hits", "result"][rng.integers(4)]
        return (f"count_positive", (p,), r), (f"def count_positive({p}):\n    {r} = 0\n    for {x} in {p}:\n        if {x} > 0:\n"
                                             f"            {r} += 1\n    return {r}\n")
    if kind == 2:
        r = ["result", "out", "squares", "values"][rng.integers(4)]
        return (f"squares", (p,), r), (f"def squares({p}):\n    {r} = []\n    for {x} in {p}:\n        {r}.append({x} * {x})\n"
                                       f"    return {r}\n")
    r = ["best", "largest", "result", "top"][rng.integers(4)]
    return (f"find_max", (p,), r), (f"def find_max({p}):\n    {r} = {p}[0]\n    for {x} in {p}:\n        if {x} > {r}:\n"
                                    f"            {r} = {x}\n    return {r}\n")


def klass(rng):
    name, fields = CLASSES[rng.integers(len(CLASSES))]
    init = "".join(f"        self.{f} = {f}\n" for f in fields)
    shown = ", ".join(f"{{self.{f}}}" for f in fields)
    text = f"class {name}:\n    def __init__(self, {', '.join(fields)}):\n{init}"
    if rng.random() < 0.7:
        text += f"\n    def __repr__(self):\n        return f'{name}({shown})'\n"
    return (name, fields, None), text


FAMILIES = [(binary, 0.28), (unary, 0.3), (greeting, 0.06), (shape, 0.1), (file_reader, 0.08), (loop, 0.1), (klass, 0.08)]


def generate(n, seed):
    rng = np.random.default_rng(seed)
    fams, weights = zip(*FAMILIES)
    weights = np.asarray(weights) / sum(weights)
    funcs, skipped = [], 0
    while len(funcs) < n:
        key, text = fams[rng.choice(len(fams), p=weights)](rng)
        if key in EXCLUDED:
            skipped += 1
            continue
        funcs.append(text)
    files, i = [], 0
    while i < len(funcs):
        k = int(rng.integers(5, 31))
        files.append("\n\n".join(funcs[i:i + k]))
        i += k
    return files, skipped


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--functions", type=int, default=300000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tokenizer", default="models/train-work/data/tokenizer.json")
    ap.add_argument("--out", default="models/train-work/synth")
    ap.add_argument("--show", type=int, default=0, help="print this many generated files and exit")
    ap.add_argument("--base-data", default=None,
                    help="a data folder (prepare_packages.py's); with --data-out, write a copy whose train.bin "
                         "is the base stream followed by the synthetic one")
    ap.add_argument("--data-out", default=None)
    args = ap.parse_args()
    files, skipped = generate(args.functions, args.seed)
    if args.show:
        print("\n\n# ----\n\n".join(files[:args.show]))
        return
    tok = Tokenizer.from_file(args.tokenizer)
    ids = []
    for enc in tok.encode_batch(files):
        ids.extend(enc.ids)
        ids.append(0)
    os.makedirs(args.out, exist_ok=True)
    np.asarray(ids, dtype=np.uint16).tofile(os.path.join(args.out, "synth.bin"))
    summary = {"functions": args.functions, "seed": args.seed, "files": len(files), "tokens": len(ids),
               "bytes": sum(len(f.encode()) for f in files), "excluded_probe_draws": skipped,
               "excluded": sorted([list(k[:1]) + [list(k[1]), k[2]] for k in EXCLUDED], key=str)}
    with open(os.path.join(args.out, "synth.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps({k: v for k, v in summary.items() if k != "excluded"}))
    if args.base_data and args.data_out:
        base = extend_data(args.base_data, args.data_out, ids, "synthetic", dict(summary, generator="tools/train/synth.py"))
        print(f"{args.data_out}/train.bin: {base + len(ids)} tokens ({len(ids)} synthetic, "
              f"{len(ids) / (base + len(ids)):.1%})")


if __name__ == "__main__":
    sys.exit(main())
