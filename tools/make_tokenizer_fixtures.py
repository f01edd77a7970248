#!/usr/bin/env python3
"""Build the MQTokenizer test fixtures with Hugging Face `tokenizers` (the reference implementation).

Usage:  /work/venv/bin/python tools/make_tokenizer_fixtures.py [--out Tests/Fixtures/tokenizers]

Writes, into the output folder:
  starcoder.json            StarCoder-style tokenizer.json (Digits(individual) + ByteLevel, merges as "a b")
  starcoder_pairs.json      the same vocabulary with merges as [a, b] pairs, ignore_merges: true and a few
                            vocabulary entries that merges cannot reach (so ignore_merges matters)
  falcon.json               Falcon-style tokenizer.json (Punctuation + ByteLevel + Digits + Split[0-9]{3})
  added.json                StarCoder vocabulary + NFKC normalizer + added tokens with lstrip/rstrip/
                            single_word/normalized/special variations
  <name>.cases.json         {"vocab_size", "probes", "cases": [{"text", "ids", "decoded", "decoded_skip"}],
                             "decode_cases": [{"ids", "decoded", "decoded_skip"}], "sample": {...}}
  variants.json             other pipelines (pre-tokenizers, normalizers, decoders, post-processors, BPE
                            options), each a patch over starcoder.json or a whole tokenizer, with cases
  regex.json                Split(Regex, Isolated) pieces from Oniguruma for many patterns and texts
                            (checks MQTokenizer's regex engine)
  sample_code.py            ~100 KB of generated Python-like code (deterministic), for throughput and a
                            long-text check

The BPE vocabularies are trained on this interpreter's standard-library *.py files in sorted order, so
the output is deterministic for a given Python and tokenizers version (both recorded in the files).
Every expected value comes from `tokenizers`; nothing is computed by hand.
"""
import argparse
import json
import os
import random
import sys
import sysconfig

import tokenizers
from tokenizers import (AddedToken, Regex, Tokenizer, decoders, models, normalizers,
                        pre_tokenizers, processors, trainers)

STARCODER_SPECIALS = ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>",
                      "<filename>", "<gh_stars>"]
FALCON_SPECIALS = [">>TITLE<<", ">>ABSTRACT<<", ">>INTRODUCTION<<", ">>SUMMARY<<", ">>COMMENT<<",
                   ">>ANSWER<<", ">>QUESTION<<", ">>DOMAIN<<", ">>PREFIX<<", ">>SUFFIX<<", ">>MIDDLE<<",
                   "<|endoftext|>"]
VOCAB_SIZE = 2000
TRAIN_BYTES = 3_000_000

# Texts every tokenizer is checked on: code, scripts, combining marks, emoji sequences, digits,
# whitespace runs, CR/LF forms, controls, partial special tokens.
COMMON_TEXTS = [
    "",
    " ",
    "a",
    "Hello, world!",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "class Foo(Base):\n\tdef __init__(self, x: int = 42) -> None:\n\t\tself.x = x  # comment\n",
    "    return self._foo_bar_baz(*args, **kwargs)",
    "fn main() { println!(\"{}\", 1_000_000u64); }",
    "#include <stdio.h>\nint main(void){return 0;}\r\n",
    "SELECT * FROM t WHERE id IN (1, 2, 3);",
    "x = {'a': [1, 2.5e-10, -3], \"b\": None}",
    "It's we're they've I'm you'll he'd 'S 'T ''s",
    "'s't're've'm'll'd",
    " 's",
    "café naïve résumé Ünïcödé",
    "cafe\u0301 e\u0301\u0302 a\u0308\u0323 \u0301start",
    "日本語のテキスト、中文字符。한국어",
    "مرحبا بالعالم שלום עולם",
    "emoji: 😀 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷🇯🇵 ❤️ 1️⃣",
    "0123456789 12345678901234567890 3.14159 1e10 -42 +7 1,000,000",
    "٣٤٥ ①② ½ Ⅻ ²³ １２３ β² µ",
    "a    b\t\tc \t d     ",
    "line1\r\nline2\rline3\n\nline4\r\n\r\n",
    "trailing spaces   ",
    "   leading spaces",
    "\n",
    "\r\n",
    "\r",
    " \n \n ",
    "  x",
    "x  ",
    " \t x",
    "\t\n\r\x0b\x0c",
    "\u00a0nbsp\u2009thin\u3000ideographic\u2028ls\u0085nel\u1680ogham",
    "zero\u200bwidth\u200cjoiner\u200dx\u00adsoft",
    "!!!???...---===>>><<<",
    "$100 + 5% ^ ~x | y `code` <tag> @decorator #hash «quotes» “smart” — dash",
    "email@example.com https://example.com/path?q=1&r=2#frag",
    "\x00\x01\x1f\x7f control \x80\x9f",
    "\ufeffBOM and \ufffd replacement and \U0001F600 and \U0010FFFF",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛 math",
    "Ελληνικά Русский текст ΣΑΣ",
    "ﬁne ﬂow ﬀ ÅΩK ℌ ㍿ ⅷ",
    "<fim_pre <|endoftext <fim_prefix <|endoftext|",
    "a" * 120,
    "x" + "ab" * 200 + " " + "ü" * 300,
    "import os\nimport sys\n\n\nif __name__ == \"__main__\":\n    sys.exit(main())\n",
]


def stdlib_training_text():
    root = sysconfig.get_paths()["stdlib"]
    names = sorted(n for n in os.listdir(root) if n.endswith(".py"))
    chunks, total = [], 0
    for name in names:
        with open(os.path.join(root, name), encoding="utf-8", errors="replace") as f:
            text = f.read()
        chunks.append(text)
        total += len(text)
        if total >= TRAIN_BYTES:
            break
    return chunks


def sample_code(target_bytes=100_000):
    """Deterministic Python-like source: functions, classes, numbers, strings with unicode."""
    rng = random.Random(20240601)
    words = ["value", "index", "count", "result", "buffer", "token", "layer", "weight", "cache", "shape",
             "stream", "offset", "width", "height", "name", "path", "config", "model", "batch", "score"]
    unicode_bits = ["naïve", "東京", "Ω", "🙂", "€", "straße", "Ελλάδα", "ready ✓"]
    out = ["# Generated sample for MQTokenizer throughput and long-text checks.\n",
           "import math\nimport os\nfrom typing import Dict, List, Optional\n\n\n"]
    size = sum(len(s) for s in out)
    n = 0
    while size < target_bytes:
        n += 1
        a, b, c = rng.sample(words, 3)
        num = rng.choice([str(rng.randint(0, 10**rng.randint(1, 12))), f"{rng.random():.6f}", "0x%X" % rng.randint(0, 65535)])
        if rng.random() < 0.3:
            block = (f"class {a.title()}{b.title()}{n}:\n"
                     f"    \"\"\"Holds the {a} and {b} for {c} ({rng.choice(unicode_bits)}).\"\"\"\n\n"
                     f"    def __init__(self, {a}: int = {num}, {b}: Optional[str] = None) -> None:\n"
                     f"        self.{a} = {a}\n        self.{b} = {b} or \"{rng.choice(unicode_bits)}\"\n\n"
                     f"    def {c}(self) -> Dict[str, int]:\n"
                     f"        return {{\"{a}\": self.{a} * {rng.randint(2, 99)}, \"{c}\": len(self.{b})}}\n\n\n")
        else:
            block = (f"def {a}_{b}_{n}({a}, {b}={num}):\n"
                     f"    # compute {c} from {a} and {b}\n"
                     f"    {c} = [{a} * i + {b} for i in range({rng.randint(1, 1000)})]\n"
                     f"    if len({c}) > {rng.randint(0, 50)}:\n"
                     f"        return math.fsum({c}) / {rng.randint(1, 9)}.0\n"
                     f"\telse:\n\t\treturn {rng.choice(['None', 'True', repr(rng.choice(unicode_bits))])}\n\n\n")
        out.append(block)
        size += len(block)
    return "".join(out)


def byte_level_bpe(pre_tokenizer, specials, training):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(training, trainer=trainer)
    return tok


def write_json(path, obj, indent=None):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=indent, separators=(",", ":") if indent is None else None)
        f.write("\n")


def case_list(tok, texts):
    cases = []
    for text in texts:
        ids = tok.encode(text).ids
        cases.append({"text": text, "ids": ids,
                      "decoded": tok.decode(ids, skip_special_tokens=False),
                      "decoded_skip": tok.decode(ids, skip_special_tokens=True)})
    return cases


def decode_cases(tok, extra_id_lists):
    """Arbitrary id lists, mostly byte tokens that do not form valid UTF-8 (lossy decoding)."""
    def byte_token(b):
        ch = BYTES_TO_UNICODE[b]
        return tok.token_to_id(ch)
    lists = [
        [0xE9], [0x80], [0xFF], [0xC0, 0xAF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
        [0xF0, 0x9F, 0x98], [0xF0, 0x9F, 0x98, 0x80], [0xE2, 0x82], [0xE2, 0x82, 0xAC, 0xE2],
        [0x61, 0xF0, 0x9F, 0x62, 0x63], [0xC3], [0xC3, 0xA9, 0xA9], [0xF5, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80],
        [0xE1, 0x80, 0x41, 0xE1], [0xEF, 0xBF, 0xBD], [0xF3, 0xA0, 0x80, 0x80, 0xF3],
    ]
    out = []
    for bl in lists:
        ids = [byte_token(b) for b in bl]
        out.append(ids)
    out.extend(extra_id_lists)
    cases = []
    for ids in out:
        cases.append({"ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False),
                      "decoded_skip": tok.decode(ids, skip_special_tokens=True)})
    return cases


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTES_TO_UNICODE = bytes_to_unicode()


def probes(tok, tokens, ids):
    return {"token_to_id": {t: tok.token_to_id(t) for t in tokens},
            "id_to_token": [[i, tok.id_to_token(i)] for i in ids]}


def merges_as_strings(tj):
    tj["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in tj["model"]["merges"]]
    return tj


def load(tj):
    return Tokenizer.from_str(json.dumps(tj))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "tokenizers"))
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    meta = {"python": sys.version.split()[0], "tokenizers": tokenizers.__version__}
    training = stdlib_training_text()
    sample = sample_code()
    with open(os.path.join(out, "sample_code.py"), "w", encoding="utf-8", newline="") as f:
        f.write(sample)

    # (a) StarCoder: Sequence[Digits(individual), ByteLevel(no prefix space)], ByteLevel post-processor/decoder.
    star = byte_level_bpe(pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                   pre_tokenizers.ByteLevel(add_prefix_space=False)]),
                          STARCODER_SPECIALS, training)
    star_json = merges_as_strings(json.loads(star.to_str()))
    # StarCoder's file spells these out with add_prefix_space false (it does not change ids or text).
    star_json["post_processor"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True}
    star_json["decoder"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    star = load(star_json)
    write_json(os.path.join(out, "starcoder.json"), star_json)
    star_texts = COMMON_TEXTS + [
        "<fim_prefix>def f():<fim_suffix>\n    return 1\n<fim_middle>",
        "<|endoftext|><|endoftext|>",
        "a<filename>b.py\n<gh_stars>100\n",
        " <fim_pad> ",
        "<|endoftext|>",
        "<fim_prefix><fim_prefix",
        "<<|endoftext|>>",
        "<fim_prefix >< fim_prefix>",
    ]
    vocab_ids = [0, 6, 7, 255, 256, 500, VOCAB_SIZE - 1, VOCAB_SIZE, 10**6]
    star_cases = {"meta": meta, "vocab_size": star.get_vocab_size(with_added_tokens=True),
                  "probes": probes(star, STARCODER_SPECIALS + ["Ġ", "def", "Ġreturn", "not-a-token", "é"], vocab_ids),
                  "cases": case_list(star, star_texts),
                  "decode_cases": decode_cases(star, [[0, 1, 2], [1, 99999, 2], [], [6, 0xFFFFFFFF // 2]]),
                  "sample": {"file": "sample_code.py", "ids": star.encode(sample).ids}}
    write_json(os.path.join(out, "starcoder.cases.json"), star_cases)

    # (b) Same vocabulary, merges as [a, b] pairs, ignore_merges, plus whole words merges cannot build.
    pairs_json = json.loads(star.to_str())
    pairs_json["model"]["merges"] = [m.split(" ") if isinstance(m, str) else m for m in pairs_json["model"]["merges"]]
    pairs_json["model"]["ignore_merges"] = True
    vocab = pairs_json["model"]["vocab"]
    next_id = max(vocab.values()) + 1
    for word in ["Ġunreachableword", "ĠHello", "world", "ĠÃ©tÃ©", "fib", "Ġfib", "Ġ__init__"]:
        if word not in vocab:
            vocab[word] = next_id
            next_id += 1
    pairs = load(pairs_json)
    write_json(os.path.join(out, "starcoder_pairs.json"), pairs_json)
    pairs_texts = star_texts + ["unreachableword Hello world été fib __init__ x unreachableword"]
    write_json(os.path.join(out, "starcoder_pairs.cases.json"),
               {"meta": meta, "vocab_size": pairs.get_vocab_size(with_added_tokens=True),
                "probes": probes(pairs, ["ĠHello", "world", "Ġunreachableword"], [next_id - 1, next_id]),
                "cases": case_list(pairs, pairs_texts), "decode_cases": []})

    # (c) Falcon: Punctuation(Contiguous), ByteLevel(regex), Digits(grouped), Split([0-9]{3}, Isolated).
    falcon = byte_level_bpe(pre_tokenizers.Sequence([
        pre_tokenizers.Punctuation("contiguous"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        pre_tokenizers.Digits(individual_digits=False),
        pre_tokenizers.Split(Regex("[0-9][0-9][0-9]"), "isolated")]), FALCON_SPECIALS, training)
    falcon_json = json.loads(falcon.to_str())
    falcon_json["post_processor"] = None
    falcon = load(falcon_json)
    write_json(os.path.join(out, "falcon.json"), falcon_json)
    falcon_texts = COMMON_TEXTS + [
        ">>TITLE<<Hello>>ABSTRACT<<world",
        ">>>QUESTION<<< and > >SUMMARY< <",
        ">>COMMENT<<>>ANSWER<<x<|endoftext|>",
        ">>INTRODUCTION<< >>DOMAIN<<\n>>PREFIX<<a>>SUFFIX<<b>>MIDDLE<<",
        "phone 555-123-4567, year 2024, pi 3.14159265358979, id 0000123",
        "β² Î² ½¾ x²+y³",
    ]
    write_json(os.path.join(out, "falcon.cases.json"),
               {"meta": meta, "vocab_size": falcon.get_vocab_size(with_added_tokens=True),
                "probes": probes(falcon, FALCON_SPECIALS + ["Ġ", "123", "not-a-token"], vocab_ids),
                "cases": case_list(falcon, falcon_texts),
                "decode_cases": decode_cases(falcon, [[0, 11, 5], [11, 99999]]),
                "sample": {"file": "sample_code.py", "ids": falcon.encode(sample).ids}})

    # (d) Added tokens: lstrip / rstrip / single_word / normalized / special, over an NFKC normalizer.
    added = load(json.loads(star.to_str()))
    added.normalizer = normalizers.NFKC()
    added.add_special_tokens([
        AddedToken("<mask>", lstrip=True, rstrip=True, special=True),
        AddedToken("[L]", lstrip=True, special=True),
        AddedToken("<a>", special=True),
        AddedToken("<a><b>", special=True),
        AddedToken("é", special=True, normalized=False),
    ])
    added.add_tokens([
        AddedToken("[R]", rstrip=True, normalized=False),
        AddedToken("word", single_word=True),
        AddedToken("<sw>", single_word=True, lstrip=True, rstrip=True, normalized=False),
        AddedToken("ﬁne", normalized=True),
        AddedToken("ﬂat", normalized=False),
        AddedToken("hello world", normalized=True),
        AddedToken("def", normalized=False),
        AddedToken("\t\t", normalized=False),
        AddedToken("Ω x", normalized=True),
        AddedToken("日本", normalized=False, single_word=True),
    ])
    added_json = json.loads(added.to_str())
    added = load(added_json)
    write_json(os.path.join(out, "added.json"), added_json)
    added_texts = COMMON_TEXTS + [
        "x <mask> y", "x<mask>y", "a   <mask>   b", "<mask><mask>", "  <mask>", "<mask>  ",
        "a [L] b", "a  \t[L]", "[L][L]  [L]", "a [R]  b", "[R]\n\nx", "a [L] [R] b",
        "word words sword word_ word1 (word) wordé éword", " word ", "word",
        "<sw> x<sw> <sw>x  <sw>  ", "x <sw> y",
        "<a><b> <a> <a><b><c> <a<b>", "é e\u0301 café",
        "ﬁne fine FINE ﬂat flat", "hello world hello  world", "def define undef def",
        "\t\t\t x\t\t", "Ω x \u2126 x", "日本 日本語 x日本 日本",
        "<|endoftext|> <fim_prefix>x",
    ]
    write_json(os.path.join(out, "added.cases.json"),
               {"meta": meta, "vocab_size": added.get_vocab_size(with_added_tokens=True),
                "probes": probes(added, ["<mask>", "ﬁne", "fine", "def", "word", "é"], [VOCAB_SIZE, VOCAB_SIZE + 5, VOCAB_SIZE + 20]),
                "cases": case_list(added, added_texts),
                "decode_cases": decode_cases(added, [[added.token_to_id("é")], [added.token_to_id("hello world"), added.token_to_id("<mask>")]])})

    # (e) Variants of the pipeline over the StarCoder vocabulary.
    bl_plain = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
    bl_regex = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}

    def seq(*pts):
        return {"type": "Sequence", "pretokenizers": list(pts)}

    def split(pattern, behavior, invert=False):
        return {"type": "Split", "pattern": pattern, "behavior": behavior, "invert": invert}

    llama3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
    patches = [
        ("gpt2_prefix_space", {"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}}),
        ("seq_digits_prefix_space", {"pre_tokenizer": seq({"type": "Digits", "individual_digits": True},
                                                          {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True})}),
        ("bytelevel_no_regex", {"pre_tokenizer": bl_plain}),
        ("digits_grouped", {"pre_tokenizer": seq({"type": "Digits", "individual_digits": False}, bl_regex)}),
        ("llama3_split", {"pre_tokenizer": seq(split({"Regex": llama3}, "Isolated"), bl_plain)}),
        ("whitespace", {"pre_tokenizer": seq({"type": "Whitespace"}, bl_plain)}),
        ("whitespace_split", {"pre_tokenizer": seq({"type": "WhitespaceSplit"}, bl_plain)}),
        ("no_pre_tokenizer", {"pre_tokenizer": None}),
    ]
    for behavior in ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"]:
        patches.append((f"split_string_{behavior}", {"pre_tokenizer": seq(split({"String": " "}, behavior), bl_plain)}))
        patches.append((f"split_regex_invert_{behavior}", {"pre_tokenizer": seq(split({"Regex": r"\p{L}+|\d"}, behavior, True), bl_plain)}))
        patches.append((f"punctuation_{behavior}", {"pre_tokenizer": seq({"type": "Punctuation", "behavior": behavior}, bl_regex)}))
    patches.append(("split_string_multi", {"pre_tokenizer": seq(split({"String": "::"}, "MergedWithNext"), split({"String": "."}, "Contiguous"), bl_plain)}))
    patches.append(("split_regex_special_chars", {"pre_tokenizer": seq(split({"String": "(*)"}, "Isolated"), bl_regex)}))
    for name, norm in [("NFC", {"type": "NFC"}), ("NFD", {"type": "NFD"}), ("NFKC", {"type": "NFKC"}),
                       ("NFKD", {"type": "NFKD"}), ("Lowercase", {"type": "Lowercase"}),
                       ("Sequence_NFD_Lowercase", {"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "Lowercase"}]})]:
        patches.append((f"normalizer_{name}", {"normalizer": norm}))
    patches.append(("decoder_null", {"decoder": None}))
    patches.append(("decoder_sequence", {"decoder": {"type": "Sequence", "decoders": [{"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}, {"type": "Fuse"}]}}))
    patches.append(("template_processing", {"post_processor": json.loads(processors.TemplateProcessing(
        single="<fim_prefix> $A <|endoftext|>", pair="$A $B", special_tokens=[("<fim_prefix>", 1), ("<|endoftext|>", 0)]).__getstate__())}))
    patches.append(("post_sequence", {"post_processor": {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True},
        json.loads(processors.TemplateProcessing(single="$A:0 <|endoftext|>:1", special_tokens=[("<|endoftext|>", 0)]).__getstate__())]}}))
    patches.append(("roberta_processing", {"post_processor": {"type": "RobertaProcessing", "sep": ["<fim_suffix>", 3], "cls": ["<fim_prefix>", 1], "trim_offsets": True, "add_prefix_space": False}}))
    patches.append(("bert_processing", {"post_processor": {"type": "BertProcessing", "sep": ["<fim_suffix>", 3], "cls": ["<fim_prefix>", 1]}}))

    variant_texts = COMMON_TEXTS + ["a::b.c...d::::e", "f(*) g(*)(*) (*", "<|endoftext|> x <fim_pad>",
                                    "ＡＢＣ ﬁ Ⅻ İstanbul ΣΑΣ ẞ Ǆ", "x" * 300]
    variants = []
    for name, patch in patches:
        tj = json.loads(star.to_str())
        tj.update(patch)
        tok = load(tj)
        variants.append({"name": name, "patch": patch, "cases": case_list(tok, variant_texts)})

    # Whole tokenizers for BPE options the byte-level vocabularies do not use.
    char_tok = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    char_tok.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.Lowercase()])
    char_tok.pre_tokenizer = pre_tokenizers.Whitespace()
    # ASCII-only training text keeps the alphabet (and so the vocabulary) deterministic; everything
    # else is unknown to this model, which is what these variants test.
    ascii_training = ["".join(ch for ch in t if " " <= ch <= "~" or ch == "\n") for t in training[:40]]
    char_tok.train_from_iterator(ascii_training, trainer=trainers.BpeTrainer(
        vocab_size=400, special_tokens=["[UNK]", "[CLS]", "[SEP]"], continuing_subword_prefix="##",
        end_of_word_suffix="</w>", show_progress=False))
    char_json = json.loads(char_tok.to_str())
    # The trainer numbers the "##x" tokens in hash order; renumber (specials keep 0-2) so the
    # file is the same on every run.
    char_vocab = char_json["model"]["vocab"]
    order = sorted(char_vocab, key=lambda t: (char_vocab[t] > 2, len(t), t))
    char_json["model"]["vocab"] = {t: i for i, t in enumerate(order)}
    for name, fuse in [("char_bpe_unk", False), ("char_bpe_fuse_unk", True)]:
        tj = json.loads(json.dumps(char_json))
        tj["model"]["fuse_unk"] = fuse
        tok = load(tj)
        variants.append({"name": name, "tokenizer": tj, "cases": case_list(tok, variant_texts)})
    # byte_fallback: a small vocabulary plus the <0xXX> tokens.
    fb_json = json.loads(json.dumps(char_json))
    fb_json["normalizer"] = None
    fb_json["pre_tokenizer"] = {"type": "WhitespaceSplit"}
    fb_json["model"]["unk_token"] = None
    fb_json["model"]["continuing_subword_prefix"] = None
    fb_json["model"]["end_of_word_suffix"] = None
    fb_json["model"]["byte_fallback"] = True
    fb_vocab = {t: i for i, t in enumerate(["a", "b", "c", "d", "e", "ab", "abc", "é"])}
    fb_json["model"]["vocab"] = dict(fb_vocab, **{"<0x%02X>" % b: 8 + b for b in range(256)})
    fb_json["model"]["merges"] = [["a", "b"], ["ab", "c"]]
    fb_json["added_tokens"] = []
    fb_json["decoder"] = None
    tok = load(fb_json)
    variants.append({"name": "byte_fallback", "tokenizer": fb_json, "cases": case_list(tok, variant_texts)})

    write_json(os.path.join(out, "variants.json"), {"meta": meta, "base": "starcoder.json", "variants": variants})

    # (f) Split regexes through Oniguruma (tokenizers' SysRegex): pieces per pattern and text.
    regex_texts = [t for t in COMMON_TEXTS if len(t) < 100] + [
        "abcABC aBc xyz", "aaa bbb aab", "foo.bar(baz) == 42;", "CamelCaseWord snake_case_word",
        "a\nb\n\nc\n", "x1 y22 z333 w4444", "中文字符 and 日本語", "ab ab\tab\nab"]
    regex_patterns = [
        r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
        llama3,
        r"[0-9][0-9][0-9]",
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        r"\s+", r"\S+", r"\w+", r"\W", r"\d+", r"\D+", r"\h+", r"(?i)ab", r"(?i:AB)c", r"a*", r"a+?", r"a{2}",
        r"a{1,2}", r"a{,2}", r"\d{2,}?", r"\b\w", r"\B.", r"^.", r".$", r"\A.|.\z", r"(?<=a)b", r"(?<!a)b", r"x(?=y)|\p{Lu}",
        r"(?!a)\w", r"\p{Lu}\p{Ll}+", r"[\u4e00-\u9fa5]+", r"[^a-z\s]+", r"[a-c\d]+", r"[\p{L}&&[^a]]", r".", r".+",
        r"(?m:.+)", r"(?:ab|a)(?:bc|c)?", r"(?>a+)b|a", r"a++", r"\x41|\x{3042}|\t", r"[\]\[-]", r"[-a]", r"\p{^L}+",
        r"\P{N}", r"\p{Han}+", r"(a|b)*c", r"(\s|\w)+?!",
    ]
    regex_cases = []
    for pattern in regex_patterns:
        pre = pre_tokenizers.Split(Regex(pattern), "isolated")
        regex_cases.append({"pattern": pattern, "cases": [
            {"text": t, "pieces": [p for p, _ in pre.pre_tokenize_str(t)]} for t in regex_texts]})
    write_json(os.path.join(out, "regex.json"), {"meta": meta, "patterns": regex_cases})
    total = sum(os.path.getsize(os.path.join(out, n)) for n in os.listdir(out))
    print(f"wrote {out} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
