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


def permute_piece(ids, rng, tok, fim_rate, spm_rate):
    """One document piece (no separators) -> same-length token list, FIM-transformed or not."""
    if len(ids) == 0 or not rng.binomial(1, fim_rate):
        return ids
    text = tok.decode(list(map(int, ids)), skip_special_tokens=False)
    lo, hi = sorted(rng.integers(0, len(text) + 1, size=2))
    prefix, middle, suffix = (e.ids for e in tok.encode_batch([text[:lo], text[lo:hi], text[hi:]]))
    spm = bool(rng.binomial(1, spm_rate))
    diff = len(prefix) + len(middle) + len(suffix) + 3 - len(ids)
    if diff > 0:
        if len(suffix) <= diff:
            return ids
        suffix = suffix[:len(suffix) - diff]
    elif diff < 0:
        suffix = suffix + [FIM_PAD] * (-diff)
    if spm:
        return [FIM_PREFIX, FIM_SUFFIX] + suffix + [FIM_MIDDLE] + prefix + middle
    return [FIM_PREFIX] + prefix + [FIM_SUFFIX] + suffix + [FIM_MIDDLE] + middle


def permute_window(row, rng, tok, fim_rate=0.5, spm_rate=0.5):
    """A window (1-D int array) -> the same-length window with each document piece transformed."""
    out, piece = [], []
    for t in row.tolist():
        if t == EOS_ID:
            out += permute_piece(piece, rng, tok, fim_rate, spm_rate) + [EOS_ID]
            piece = []
        else:
            piece.append(t)
    out += permute_piece(piece, rng, tok, fim_rate, spm_rate)
    assert len(out) == len(row), (len(out), len(row))
    return np.asarray(out, dtype=np.int64)
