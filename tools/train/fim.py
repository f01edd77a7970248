"""Fill-in-the-middle (FIM) data transformation, StarCoder's recipe (Bavarian et al. 2022, "Efficient
Training of Language Models to Fill in the Middle"; as implemented in bigcode's Megatron-LM for
StarCoder and SantaCoder), applied to each training window as it is drawn.

A window of the training stream is context + 1 tokens taken at a random offset; <|endoftext|> (id 0)
separates documents, so a window holds pieces of one or more documents. Each piece between
separators is transformed independently:

  * with probability fim_rate (0.5) it becomes a FIM example, else it stays left-to-right;
  * the piece is decoded to text and cut at two character positions drawn uniformly from
    [0, len(text)] (sorted): prefix | middle | suffix. Prefix, middle and suffix are tokenized
    separately (character level: a cut may fall inside what would otherwise be one token);
  * with probability spm_rate (0.5) the order is SPM, else PSM:
      PSM: <fim_prefix> prefix <fim_suffix> suffix <fim_middle> middle
      SPM: <fim_prefix> <fim_suffix> suffix <fim_middle> prefix middle   (bigcode's "SPM variant 2")
  * the piece keeps its length in tokens: the suffix is cut at its end, or <fim_pad> is appended
    after the suffix when the piece got shorter (if the suffix is too short to cut, the piece
    stays left-to-right, as in bigcode's implementation).
The separators stay where they were, so after a FIM piece's middle the model learns to produce
<|endoftext|>. The trainer drops <fim_pad> targets from the loss.

Two options (train.py --fim-line-rate, --fim-max-lines, --fim-end-eos; off by default, so phases 4
and 5 are reproduced draw for draw), added for phase 6 after phases 4-5 had not learned FIM:
  * line_rate: this fraction of the FIM pieces cut their middle at line boundaries instead of two
    random characters: 1 to max_lines whole lines (the count drawn from a geometric distribution,
    p = 0.6), the first of them not blank (the others may be), never the piece's first line (a
    window may begin mid-line).
    The middle ends where its last line ends (the suffix begins with that line's "\n"); it begins,
    with equal probability, at the "\n" before its first line (the middle is "\n" + indentation +
    code, evaluate_fim.py's masked line) or after that line's indentation (the prefix ends in
    "\n" + indentation, like an editor's cursor on an indented empty line: mq's quick start
    `--prompt 'def add(a, b):\n    ' --suffix '\n    return c'`).
    Random character spans average a third of the piece (about 170 of 512 tokens) and the middle
    starts at an arbitrary character; editors and the FIM score ask for a line or a few.
  * end_eos: a FIM piece that runs to the end of the window (no <|endoftext|> after it: most
    pieces, since a file averages about 4,300 tokens and a window holds 512) gets <|endoftext|>
    right after its middle, its suffix cut by one more token. Without it only the few pieces that
    end a document teach the model to end the middle, which is what mq relies on to stop a
    --suffix request.

One more option (train.py --fim-chunk-rate), added for phase 7 after phase 6 still had not learned FIM:
  * chunk_rate: this fraction of the windows are cut into functions before the transformation. The
    window's text is split at the lines that start a definition (`def`, `async def`, `class`, or a
    decorator line not preceded by another), neighbours are merged until each chunk is at least
    min_chunk_chars long, and every chunk becomes its own piece: a FIM example with probability
    fim_rate (then with <|endoftext|> after its middle), else left as it is. A window of a long
    file made one FIM example in phases 4-6 (about 20 middle tokens per 512); cut into functions
    it makes several, each with a short prefix and suffix, the case of an editor and of mq's quick
    start. The transformed chunks are laid end to end and the window is cut (or padded with
    <fim_pad>) to its length.

Token ids are those of the default tokenizer: <|endoftext|> 0, <fim_prefix> 1, <fim_middle> 2,
<fim_suffix> 3, <fim_pad> 4 (prepare.py's SPECIAL_TOKENS order).
"""
import numpy as np

EOS_ID, FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, FIM_PAD = 0, 1, 2, 3, 4


def fim_prompt(prefix, suffix, spm=False):
    """The inference prompt in the tokenizer's spelling; the model then writes the middle and
    <|endoftext|>."""
    if spm:
        return f"<fim_prefix><fim_suffix>{suffix}<fim_middle>{prefix}"
    return f"<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>"


def line_cuts(text, rng, max_lines):
    """(lo, hi) character cuts whose middle is 1..max_lines whole lines (module docstring), or None
    when the piece has no line after its first that is not blank."""
    lines = text.split("\n")
    offsets = [0]
    for line in lines[:-1]:
        offsets.append(offsets[-1] + len(line) + 1)
    cands = [j for j in range(1, len(lines)) if lines[j].strip()]
    if not cands:
        return None
    j = cands[rng.integers(len(cands))]
    last = min(j + int(rng.geometric(0.6)) - 1, j + max_lines - 1, len(lines) - 1)
    hi = offsets[last] + len(lines[last])
    if rng.binomial(1, 0.5):
        lo = offsets[j] - 1                                             # "\n" + indentation + code
    else:
        lo = offsets[j] + len(lines[j]) - len(lines[j].lstrip(" \t"))  # code only
    return lo, hi


def permute_piece(ids, rng, tok, fim_rate, spm_rate, line_rate=0.0, max_lines=4, eos_after=False):
    """One document piece (no separators) -> same-length token list, FIM-transformed or not.
    eos_after: a FIM piece ends in <|endoftext|> after its middle (counted in its length)."""
    if len(ids) == 0 or not rng.binomial(1, fim_rate):
        return ids
    text = tok.decode(list(map(int, ids)), skip_special_tokens=False)
    cuts = line_cuts(text, rng, max_lines) if line_rate > 0 and rng.binomial(1, line_rate) else None
    lo, hi = cuts if cuts is not None else sorted(rng.integers(0, len(text) + 1, size=2))
    prefix, middle, suffix = (e.ids for e in tok.encode_batch([text[:lo], text[lo:hi], text[hi:]]))
    spm = bool(rng.binomial(1, spm_rate))
    end = [EOS_ID] if eos_after else []
    diff = len(prefix) + len(middle) + len(suffix) + 3 + len(end) - len(ids)
    if diff > 0:
        if len(suffix) <= diff:
            return ids
        suffix = suffix[:len(suffix) - diff]
    elif diff < 0:
        suffix = suffix + [FIM_PAD] * (-diff)
    if spm:
        return [FIM_PREFIX, FIM_SUFFIX] + suffix + [FIM_MIDDLE] + prefix + middle + end
    return [FIM_PREFIX] + prefix + [FIM_SUFFIX] + suffix + [FIM_MIDDLE] + middle + end


def document_pieces(row):
    """The document pieces of a window, in order, as (token list, ended): ended when <|endoftext|>
    follows the piece (every piece but the last)."""
    piece = []
    for t in row.tolist():
        if t == EOS_ID:
            yield piece, True
            piece = []
        else:
            piece.append(t)
    yield piece, False


def permute_window(row, rng, tok, fim_rate=0.5, spm_rate=0.5, line_rate=0.0, max_lines=4, end_eos=False):
    """A window (1-D int array) -> the same-length window with each document piece transformed.
    end_eos: the window's last piece, when it is not followed by <|endoftext|>, gets one after its
    middle if it becomes a FIM example."""
    out = []
    for piece, ended in document_pieces(row):
        out += permute_piece(piece, rng, tok, fim_rate, spm_rate, line_rate, max_lines,
                             eos_after=end_eos and not ended) + ([EOS_ID] if ended else [])
    assert len(out) == len(row), (len(out), len(row))
    return np.asarray(out, dtype=np.int64)


DEFINITION_STARTS = ("def ", "async def ", "class ", "@")


def function_chunks(text, min_chars):
    """text -> list of consecutive strings joining to text, each starting at a definition line
    (except the first) and at least min_chars long (except possibly the last)."""
    lines = text.split("\n")
    starts, prev_decorator = [], False
    pos = 0
    for j, line in enumerate(lines):
        code = line.lstrip(" \t")
        is_def = code.startswith(DEFINITION_STARTS)
        if j > 0 and is_def and not prev_decorator:
            starts.append(pos)
        prev_decorator = code.startswith("@")
        pos += len(line) + 1
    chunks, begin = [], 0
    for s in starts:
        if s - begin >= min_chars:
            chunks.append(text[begin:s])
            begin = s
    chunks.append(text[begin:])
    if len(chunks) > 1 and len(chunks[-1]) < min_chars:
        last = chunks.pop()
        chunks[-1] += last
    return chunks


def chunk_window(row, rng, tok, fim_rate=0.9, spm_rate=0.2, line_rate=0.8, max_lines=3, min_chunk_chars=120):
    """A window (1-D int array) -> same-length window whose document pieces are cut into function
    chunks (function_chunks), each a FIM example (with <|endoftext|> after its middle) with
    probability fim_rate. Separators stay; the end is cut or padded with <fim_pad>."""
    out = []
    for piece, ended in document_pieces(row):
        if piece:
            text = tok.decode(list(map(int, piece)), skip_special_tokens=False)
            for chunk in function_chunks(text, min_chunk_chars):
                out += permute_piece(tok.encode(chunk).ids, rng, tok, fim_rate, spm_rate, line_rate, max_lines,
                                     eos_after=True)
        if ended:
            out.append(EOS_ID)
    out = out[:len(row)] + [FIM_PAD] * max(0, len(row) - len(out))
    return np.asarray(out, dtype=np.int64)
