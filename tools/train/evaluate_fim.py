#!/usr/bin/env python3
"""Held-out perplexity at several window lengths and the fill-in-the-middle (FIM) score of one model.

Perplexity: evaluate.py's left-to-right measurement (no FIM transformation: the plain held-out
token stream) in non-overlapping windows of each --contexts length (256 and 512 by default).

FIM score (held-out files only; they were never trained on):
  * every function (`def` or `async def`, methods and nested ones included) of the held-out files,
    parsed with `ast`, from its `def` line to its last line, original indentation kept;
  * kept when it has at least 3 lines and at most --max-function-tokens tokens (so prompt plus
    answer fit in 512 positions), and has a candidate line: a non-blank line other than the first
    (`def`) and the last;
  * one candidate line per function is drawn (numpy default_rng(--seed)), then --examples
    functions are drawn from those (same generator), in file and line order;
  * the masked line is the middle, cut at line breaks so that no prompt ends inside a token the
    tokenizer would have merged (the newline and the next line's indentation are one token):
    prefix = the function's lines before it joined by "\\n" (no newline at the end);
    middle = "\\n" + the line, with its indentation; suffix = "\\n" + the lines after it, each
    ending in "\\n";
  * FIM prompt: <fim_prefix>prefix<fim_suffix>suffix<fim_middle> (PSM, as mq builds it; --order spm:
    <fim_prefix><fim_suffix>suffix<fim_middle>prefix, the SPM order FIM training also uses);
    left-to-right prompt: prefix alone;
  * greedy decoding, at most 48 new tokens; the answer is the generated text up to <|endoftext|>
    or the first "\\n" after its first character; exact match when answer.rstrip() == middle.rstrip()
    (that is, a line break and then exactly the masked line, indentation included). Also counted:
    FIM answers the model closed with <|endoftext|> before starting another line (fim_ended).
  * likelihood, more sensitive than exact match for a small model: the teacher-forced negative
    log-likelihood (nats) of the masked line's tokens after the FIM prompt and after the prefix
    alone, per token and for its first token (the line break and indentation: does the model
    continue the prefix across the suffix?), and that of <|endoftext|> right after the line.
The FIM score is the fraction of exact matches with the FIM prompt; the left-to-right score (the
same lines, predicted without the suffix) is the baseline it must beat. Exact match of a whole line
is hard for a model this small, so each is also given as edit similarity, CodeXGLUE's second
line-completion metric: 100 * difflib.SequenceMatcher(None, answer.strip(), middle.strip()).ratio(),
averaged over the lines.

Usage:
  /work/venv/bin/python tools/train/evaluate_fim.py models/default [--json-out f]
"""
import argparse
import ast
import difflib
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import GPTBigCodeForCausalLM, StoppingCriteria, StoppingCriteriaList

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evaluate import evaluate  # noqa: E402
from fim import EOS_ID, fim_prompt  # noqa: E402
from prepare import gather, is_heldout, stdlib_of  # noqa: E402

MAX_NEW_TOKENS = 48


def fim_examples(tok, python, n, seed, max_function_tokens):
    root, _ = stdlib_of(python)
    rng = np.random.default_rng(seed)
    pool = []
    for rel, text in gather(root):
        if not is_heldout(rel):
            continue
        lines = text.split("\n")
        nodes = [n for n in ast.walk(ast.parse(text)) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for node in sorted(nodes, key=lambda n: n.lineno):
            body = lines[node.lineno - 1:node.end_lineno]
            cands = [i for i in range(1, len(body) - 1) if body[i].strip()]
            if len(body) < 3 or not cands or len(tok.encode("\n".join(body)).ids) > max_function_tokens:
                continue
            i = cands[rng.integers(len(cands))]
            pool.append({"file": rel, "line": node.lineno + i, "function": node.name,
                         "prefix": "\n".join(body[:i]), "middle": "\n" + body[i],
                         "suffix": "\n" + "".join(l + "\n" for l in body[i + 1:])})
    pick = sorted(rng.choice(len(pool), size=min(n, len(pool)), replace=False))
    return [pool[i] for i in pick], len(pool)


class StopAtNewline(StoppingCriteria):
    def __init__(self, tok, start):
        self.tok, self.start = tok, start

    def __call__(self, input_ids, scores, **kwargs):
        new = input_ids[0, self.start:].tolist()
        return EOS_ID in new or "\n" in self.tok.decode(new)[1:]


def complete_line(model, tok, prompt):
    ids = torch.tensor([tok.encode(prompt).ids])
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=MAX_NEW_TOKENS, do_sample=False, eos_token_id=EOS_ID,
                             pad_token_id=EOS_ID,
                             stopping_criteria=StoppingCriteriaList([StopAtNewline(tok, ids.shape[1])]))
    new = out[0, ids.shape[1]:].tolist()
    ended = EOS_ID in new
    if ended:
        new = new[:new.index(EOS_ID)]
    text = tok.decode(new)
    cut = text.find("\n", 1)
    # ended: the model closed its answer with <|endoftext|> before another line began (what stops
    # an mq --suffix request by itself)
    return (text, ended) if cut < 0 else (text[:cut], False)


def middle_nll(model, prompt_ids, target_ids):
    """Teacher-forced NLL (nats) of target_ids after prompt_ids: (sum, of the first token)."""
    ids = torch.tensor([prompt_ids + target_ids])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0, len(prompt_ids) - 1:-1], -1)
    nll = -logp[torch.arange(len(target_ids)), torch.tensor(target_ids)]
    return float(nll.sum()), float(nll[0])


def fim_score(folder, python, n, seed, max_function_tokens, spm=False):
    model = GPTBigCodeForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.eval()
    tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    examples, pool = fim_examples(tok, python, n, seed, max_function_tokens)
    hits = {"fim": 0, "left_to_right": 0}
    sim = {"fim": 0.0, "left_to_right": 0.0}
    nll = {"fim": 0.0, "left_to_right": 0.0, "fim_first": 0.0, "left_to_right_first": 0.0, "fim_eos": 0.0}
    middle_tokens = 0
    for ex in examples:
        ex["fim"], ex["fim_ended"] = complete_line(model, tok, fim_prompt(ex["prefix"], ex["suffix"], spm))
        ex["left_to_right"], _ = complete_line(model, tok, ex["prefix"])
        mid = tok.encode(ex["middle"]).ids
        fim_ids, ltr_ids = tok.encode(fim_prompt(ex["prefix"], ex["suffix"], spm)).ids, tok.encode(ex["prefix"]).ids
        (f, f1), (l, l1) = middle_nll(model, fim_ids, mid), middle_nll(model, ltr_ids, mid)
        nll["fim"] += f; nll["fim_first"] += f1; nll["left_to_right"] += l; nll["left_to_right_first"] += l1
        nll["fim_eos"] += middle_nll(model, fim_ids + mid, [EOS_ID])[0]
        middle_tokens += len(mid)
        for k in hits:
            hits[k] += ex[k].rstrip() == ex["middle"].rstrip()
            sim[k] += 100 * difflib.SequenceMatcher(None, ex[k].strip(), ex["middle"].strip()).ratio()
    n = len(examples)
    return {"examples": n, "candidate_functions": pool, "seed": seed, "order": "spm" if spm else "psm",
            "fim_exact": hits["fim"] / n, "left_to_right_exact": hits["left_to_right"] / n,
            "fim_hits": hits["fim"], "left_to_right_hits": hits["left_to_right"],
            "fim_edit_sim": sim["fim"] / n, "left_to_right_edit_sim": sim["left_to_right"] / n,
            "fim_ended": sum(ex["fim_ended"] for ex in examples),
            "middle_tokens": middle_tokens,
            "fim_middle_nll": nll["fim"] / middle_tokens, "left_to_right_middle_nll": nll["left_to_right"] / middle_tokens,
            "fim_first_token_nll": nll["fim_first"] / n, "left_to_right_first_token_nll": nll["left_to_right_first"] / n,
            "fim_eos_nll": nll["fim_eos"] / n, "items": examples}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--data", default="models/train-work/data")
    ap.add_argument("--python", default="/usr/bin/python3", help="interpreter whose stdlib is the corpus (prepare.py)")
    ap.add_argument("--contexts", type=int, nargs="*", default=[256, 512])
    ap.add_argument("--examples", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-function-tokens", type=int, default=400)
    ap.add_argument("--order", choices=["psm", "spm"], default="psm",
                    help="FIM prompt order: psm (what mq builds) or spm (<fim_prefix><fim_suffix>suffix<fim_middle>prefix)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per job")
    ap.add_argument("--jobs", type=int, default=3,
                    help="the FIM score and each window length are separate jobs, run in this many processes")
    ap.add_argument("--json-out")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    res = {"folder": args.folder, "perplexity": {}}
    with ProcessPoolExecutor(max_workers=args.jobs, initializer=torch.set_num_threads, initargs=(args.threads,)) as pool:
        fim_job = (pool.submit(fim_score, args.folder, args.python, args.examples, args.seed, args.max_function_tokens,
                               args.order == "spm")
                   if args.examples else None)
        ppl_jobs = {c: pool.submit(evaluate, args.folder, args.data, c, args.batch_size) for c in args.contexts}
        if fim_job:
            res["fim"] = fim_job.result()
        for c, job in ppl_jobs.items():
            res["perplexity"][str(c)] = job.result()
    if args.examples:
        f = res["fim"]
        print(f"FIM exact match {f['fim_hits']}/{f['examples']} = {f['fim_exact']:.3f}; left-to-right "
              f"{f['left_to_right_hits']}/{f['examples']} = {f['left_to_right_exact']:.3f}; edit similarity FIM "
              f"{f['fim_edit_sim']:.1f}, left-to-right {f['left_to_right_edit_sim']:.1f} "
              f"({f['candidate_functions']} candidate functions); FIM answers closed by <|endoftext|> "
              f"{f['fim_ended']}/{f['examples']}", flush=True)
        print(f"masked line, teacher-forced NLL (nats) per token: FIM {f['fim_middle_nll']:.3f}, left-to-right "
              f"{f['left_to_right_middle_nll']:.3f}; its first token: FIM {f['fim_first_token_nll']:.3f}, left-to-right "
              f"{f['left_to_right_first_token_nll']:.3f}; <|endoftext|> after it (FIM): {f['fim_eos_nll']:.3f}", flush=True)
    for c in args.contexts:
        r = res["perplexity"][str(c)]
        print(f"context {c}: ppl/token {r['ppl_token']:.3f}, ppl/byte {r['ppl_byte']:.4f}, "
              f"bits/byte {r['bits_per_byte']:.4f}", flush=True)
    if args.json_out:
        with open(args.json_out, "w") as fo:
            json.dump(res, fo, indent=1)


if __name__ == "__main__":
    sys.exit(main())
