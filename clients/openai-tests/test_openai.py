"""mq-gateway called with the official `openai` Python package: completions (text, token ids, lists),
streaming, logprobs, echo, n, stop, seeds, usage, and the errors it maps to its typed exceptions
(401, 400, 404, 429, 503). Every output is compared with `mq run` for the same request."""

from __future__ import annotations

import concurrent.futures
import json
import math
import subprocess

import openai
import pytest

from conftest import BIN, MODEL, mq_run

PROMPT = "def fibonacci(n):"


@pytest.fixture(scope="module")
def client(gateway):
    return openai.OpenAI(base_url=gateway.base_url, api_key=gateway.api_key, max_retries=0, timeout=120)


def test_models_lists_the_served_model(client, gateway):
    models = client.models.list()
    assert [m.id for m in models.data] == [gateway.model]


def test_greedy_completion_equals_mq_run(client, gateway):
    expected = mq_run("--prompt", PROMPT, "--max-tokens", "24")
    response = client.completions.create(model=gateway.model, prompt=PROMPT, max_tokens=24, temperature=0, logprobs=0)
    choice = response.choices[0]
    assert choice.text == expected["text"]
    assert choice.finish_reason == ("length" if expected["finish_reason"] == "length" else "stop")
    assert response.usage.completion_tokens == len(expected["token_ids"])
    assert len(choice.logprobs.token_logprobs) == len(expected["logprobs"])
    assert max(abs(a - b) for a, b in zip(choice.logprobs.token_logprobs, expected["logprobs"])) < 1e-4
    assert response.object == "text_completion" and response.model == gateway.model


def test_sampled_completion_with_seed_top_p_and_stop_equals_mq_run(client, gateway):
    expected = mq_run("--prompt", PROMPT, "--max-tokens", "48", "--temperature", "0.7", "--top-p", "0.9",
                      "--seed", "11", "--stop", "\n\n")
    response = client.completions.create(model=gateway.model, prompt=PROMPT, max_tokens=48, temperature=0.7,
                                         top_p=0.9, seed=11, stop=["\n\n"])
    assert response.choices[0].text == expected["text"]
    assert "\n\n" not in response.choices[0].text
    assert response.usage.completion_tokens == len(expected["token_ids"])


def test_token_id_prompts_and_lists_of_prompts(client, gateway):
    # Token ids of the prompt, from the model's tokenizer through `mq tokenize`.
    ids = json.loads(subprocess.run([str(BIN / "mq"), "tokenize", "--model", str(MODEL), "--text", PROMPT, "--json"],
                                    check=True, capture_output=True, text=True).stdout)["ids"]
    by_ids = client.completions.create(model=gateway.model, prompt=ids, max_tokens=12, temperature=0)
    by_text = client.completions.create(model=gateway.model, prompt=PROMPT, max_tokens=12, temperature=0)
    assert by_ids.choices[0].text == by_text.choices[0].text
    expected = mq_run("--prompt-ids", ",".join(map(str, [5, 6, 7])), "--max-tokens", "8")
    several = client.completions.create(model=gateway.model, prompt=[[5, 6, 7], ids], max_tokens=8, temperature=0)
    assert [c.index for c in several.choices] == [0, 1]
    assert several.choices[0].text == expected["text"]
    assert several.choices[1].text == mq_run("--prompt-ids", ",".join(map(str, ids)), "--max-tokens", "8")["text"]
    strings = client.completions.create(model=gateway.model, prompt=[PROMPT, "import os\n"], max_tokens=8, temperature=0)
    assert strings.choices[1].text == mq_run("--prompt", "import os\n", "--max-tokens", "8")["text"]


def test_n_choices_with_a_seed_are_distinct_and_reproducible(client, gateway):
    kwargs = dict(model=gateway.model, prompt=PROMPT, max_tokens=16, temperature=1.0, seed=3, n=3)
    first = client.completions.create(**kwargs)
    again = client.completions.create(**kwargs)
    assert [c.index for c in first.choices] == [0, 1, 2]
    assert [c.text for c in first.choices] == [c.text for c in again.choices]
    # Choice j uses seed + j: choice 1 is what `mq run --seed 4` samples.
    expected = mq_run("--prompt", PROMPT, "--max-tokens", "16", "--temperature", "1", "--seed", "4")
    assert first.choices[1].text == expected["text"]
    assert first.usage.completion_tokens == sum(len(mq_run("--prompt", PROMPT, "--max-tokens", "16", "--temperature", "1",
                                                               "--seed", str(3 + j))["token_ids"]) for j in range(3))


def test_logprobs_alternatives_and_offsets(client, gateway):
    response = client.completions.create(model=gateway.model, prompt=PROMPT, max_tokens=10, temperature=0, logprobs=3)
    lp = response.choices[0].logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == 10
    for token, logprob, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs):
        assert token in top and math.isclose(top[token], logprob, abs_tol=1e-6)
        assert 3 <= len(top) <= 4 and all(v <= 0 for v in top.values())
        assert logprob == pytest.approx(max(top.values()), abs=1e-6)  # greedy picks the most likely
    assert lp.text_offset[0] == 0 and lp.text_offset == sorted(lp.text_offset)
    assert "".join(lp.tokens) == response.choices[0].text


def test_echo_puts_the_prompt_in_front(client, gateway):
    plain = client.completions.create(model=gateway.model, prompt=PROMPT, max_tokens=8, temperature=0)
    echoed = client.completions.create(model=gateway.model, prompt=PROMPT, max_tokens=8, temperature=0, echo=True)
    assert echoed.choices[0].text == PROMPT + plain.choices[0].text


def test_suffix_fills_in_the_middle_as_mq_run(client, gateway):
    before, after = "def add(a, b):\n    ", "\n    return c"
    expected = mq_run("--prompt", before, "--suffix", after, "--max-tokens", "12")
    response = client.completions.create(model=gateway.model, prompt=before, suffix=after, max_tokens=12, temperature=0)
    assert response.choices[0].text == expected["text"]
    assert response.usage.completion_tokens == len(expected["token_ids"])


def test_echo_with_logprobs_scores_the_prompt_as_mq_run(client, gateway):
    expected = mq_run("--prompt", PROMPT, "--max-tokens", "4", "--prompt-logprobs", "--top-logprobs", "2")
    response = client.completions.create(model=gateway.model, prompt=PROMPT, max_tokens=4, temperature=0, echo=True,
                                         logprobs=2)
    choice = response.choices[0]
    n = len(expected["prompt_token_ids"])
    lp = choice.logprobs
    assert choice.text == PROMPT + expected["text"]
    assert len(lp.tokens) == n + len(expected["token_ids"])
    assert lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
    for got, want in zip(lp.token_logprobs[1:n], expected["prompt_logprobs"]):
        assert got == pytest.approx(want, abs=1e-4)
    for got, want in zip(lp.token_logprobs[n:], expected["logprobs"]):
        assert got == pytest.approx(want, abs=1e-4)
    assert "".join(lp.tokens[:n]) == PROMPT and lp.text_offset[0] == 0 and lp.text_offset[n] == len(PROMPT)
    # max_tokens 0: only the prompt is scored (what evaluation harnesses send).
    scored = client.completions.create(model=gateway.model, prompt=PROMPT, max_tokens=0, echo=True, logprobs=0)
    assert scored.choices[0].text == PROMPT and scored.usage.completion_tokens == 0
    assert scored.choices[0].logprobs.token_logprobs[1:] == pytest.approx(expected["prompt_logprobs"], abs=1e-4)
    # Streamed: the first event carries the echo and the prompt's log probabilities.
    chunks = list(client.completions.create(model=gateway.model, prompt=PROMPT, max_tokens=4, temperature=0, echo=True,
                                            logprobs=2, stream=True))
    first = chunks[0].choices[0]
    assert first.text == PROMPT and first.logprobs.token_logprobs[1:] == pytest.approx(expected["prompt_logprobs"], abs=1e-4)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == choice.text


def test_streaming_equals_the_unary_answer_and_ends_with_usage(client, gateway):
    unary = client.completions.create(model=gateway.model, prompt=PROMPT, max_tokens=20, temperature=0)
    chunks = list(client.completions.create(model=gateway.model, prompt=PROMPT, max_tokens=20, temperature=0,
                                            stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == unary.choices[0].text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [unary.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == unary.usage.completion_tokens
    assert chunks[-1].usage.prompt_tokens == unary.usage.prompt_tokens


def test_streaming_n_and_logprobs(client, gateway):
    kwargs = dict(model=gateway.model, prompt=PROMPT, max_tokens=8, temperature=0.9, seed=5, n=2, logprobs=2)
    chunks = list(client.completions.create(stream=True, **kwargs))
    texts, tokens = {0: "", 1: ""}, {0: [], 1: []}
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] += choice.text
            if choice.logprobs:
                tokens[choice.index] += choice.logprobs.tokens
    unary = client.completions.create(**kwargs)
    assert texts == {c.index: c.text for c in unary.choices}
    assert tokens == {c.index: c.logprobs.tokens for c in unary.choices}
    assert all(tokens.values())


def test_wrong_or_missing_api_key_is_401(gateway):
    bad = openai.OpenAI(base_url=gateway.base_url, api_key="not-the-key-0123456789", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as raised:
        bad.completions.create(model=gateway.model, prompt=PROMPT, max_tokens=2)
    assert raised.value.status_code == 401
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_bad_requests_are_400_naming_the_parameter(client, gateway):
    cases = [
        (dict(temperature=5), "temperature"),
        (dict(top_p=0), "top_p"),
        (dict(max_tokens=0), "max_tokens"),
        (dict(presence_penalty=0.5), "presence_penalty"),
        (dict(frequency_penalty=1.0), "frequency_penalty"),
        (dict(logit_bias={"50": 10}), "logit_bias"),
        (dict(best_of=3), "best_of"),
        (dict(logprobs=99), "logprobs"),
        (dict(stop=["a", "b", "c", "d", "e"]), "stop"),
        (dict(suffix=3), "suffix"),
    ]
    for kwargs, param in cases:
        with pytest.raises(openai.BadRequestError) as raised:
            client.completions.create(model=gateway.model, prompt=PROMPT, max_tokens=kwargs.pop("max_tokens", 4), **kwargs)
        assert raised.value.status_code == 400
        assert raised.value.body["param"] == param, (param, raised.value.body)
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model=gateway.model, prompt="", max_tokens=4)
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model=gateway.model, prompt=[[]], max_tokens=4)
    # A prompt longer than the model's context is the coordinator's INVALID_ARGUMENT, also a 400.
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model=gateway.model, prompt=[7] * 100_000, max_tokens=4)


def test_chat_completions_are_refused_clearly(client, gateway):
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=gateway.model, messages=[{"role": "user", "content": "hi"}])
    assert "chat template" in raised.value.message


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as raised:
        client.completions.create(model="gpt-5", prompt=PROMPT, max_tokens=2)
    assert raised.value.body["code"] == "model_not_found"


def test_full_queue_is_429_with_retry_after(small_gateway):
    client = openai.OpenAI(base_url=small_gateway.base_url, api_key=small_gateway.api_key, max_retries=0, timeout=300)

    def one(i):
        try:
            client.completions.create(model=small_gateway.model, prompt=[1 + i, 2, 3], max_tokens=60, temperature=0)
            return "ok"
        except openai.RateLimitError as error:
            assert error.response.headers.get("retry-after") == "1"
            return "429"

    with concurrent.futures.ThreadPoolExecutor(24) as pool:
        outcomes = list(pool.map(one, range(24)))
    assert "ok" in outcomes and "429" in outcomes, outcomes
    # The gateway and the cluster keep serving afterwards.
    assert client.completions.create(model=small_gateway.model, prompt=PROMPT, max_tokens=4, temperature=0).choices


def test_cluster_unavailable_is_503(dead_gateway):
    client = openai.OpenAI(base_url=dead_gateway.base_url, api_key="unused", max_retries=0, timeout=60)
    with pytest.raises(openai.InternalServerError) as raised:
        client.completions.create(model=dead_gateway.model, prompt=PROMPT, max_tokens=2)
    assert raised.value.status_code == 503
    with pytest.raises(openai.InternalServerError) as raised:
        list(client.completions.create(model=dead_gateway.model, prompt=PROMPT, max_tokens=2, stream=True))
    assert raised.value.status_code == 503
