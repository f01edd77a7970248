"""Shared pieces of the training tools: model configuration and parameter matching.

The MQA model and its multi-head twin differ only in `multi_query` and `n_inner`. Shazeer (2019)
widened the MQA model's feed-forward (d_ff 4096 -> 5440) so both have the same parameter count; we
do the same: the MHA twin uses n_inner = 4 * n_embd, the MQA model gets the n_inner that brings its
parameter count closest to the twin's (exact equality is impossible when the difference is not a
multiple of the per-unit feed-forward cost n_layer * (2 * n_embd + 1); the residual is reported).
"""
from transformers import GPTBigCodeConfig, GPTBigCodeForCausalLM

EOS_ID = 0  # <|endoftext|>; also used as BOS, as in StarCoder


def make_config(vocab_size, n_embd, n_layer, n_head, n_positions, n_inner, multi_query):
    return GPTBigCodeConfig(
        vocab_size=vocab_size,
        n_positions=n_positions,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        n_inner=n_inner,
        multi_query=multi_query,
        activation_function="gelu_pytorch_tanh",
        # No dropout: each model sees the training split only about twice, far from overfitting.
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        layer_norm_epsilon=1e-5,
        initializer_range=0.02,
        scale_attn_weights=True,
        use_cache=True,
        bos_token_id=EOS_ID, eos_token_id=EOS_ID,
        tie_word_embeddings=True,
        architectures=["GPTBigCodeForCausalLM"],
    )


def count_params(config):
    # Tied embeddings: parameters() yields the shared wte/lm_head weight once.
    return sum(p.numel() for p in GPTBigCodeForCausalLM(config).parameters())


def analytic_params(vocab_size, n_embd, n_layer, n_head, n_positions, n_inner, multi_query):
    """Closed form of count_params, used to choose n_inner without building models."""
    d, hd = n_embd, n_embd // n_head
    kv = 2 * hd if multi_query else 2 * d
    attn = d * (d + kv) + (d + kv) + d * d + d          # c_attn, c_proj (weights + biases)
    mlp = 2 * d * n_inner + n_inner + d                  # c_fc, c_proj
    norms = 2 * 2 * d                                    # ln_1, ln_2
    return vocab_size * d + n_positions * d + n_layer * (attn + mlp + norms) + 2 * d  # + ln_f


def matched_configs(vocab_size, n_embd, n_layer, n_head, n_positions):
    """(mqa_config, mha_config, mqa_params, mha_params) with the MQA n_inner widened."""
    mha_inner = 4 * n_embd
    mha_p = analytic_params(vocab_size, n_embd, n_layer, n_head, n_positions, mha_inner, False)
    base = analytic_params(vocab_size, n_embd, n_layer, n_head, n_positions, mha_inner, True)
    per_unit = n_layer * (2 * n_embd + 1)
    mqa_inner = mha_inner + round((mha_p - base) / per_unit)
    mqa = make_config(vocab_size, n_embd, n_layer, n_head, n_positions, mqa_inner, True)
    mha = make_config(vocab_size, n_embd, n_layer, n_head, n_positions, mha_inner, False)
    mqa_p, mha_p2 = count_params(mqa), count_params(mha)
    assert mha_p2 == mha_p, (mha_p2, mha_p)
    return mqa, mha, mqa_p, mha_p
