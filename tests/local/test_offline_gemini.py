"""The offline Gemini stand-in, driven through the real google-genai SDK the functions use."""

from __future__ import annotations

import io
import time

import pytest
import requests
from google import genai
from google.genai import errors, types
from google.oauth2.credentials import Credentials

from local.offline_gemini import THINKING_TOKENS, TurnSummary, offline_answer, start_offline_gemini

MODEL = "gemini-3.8-flash"
JPEG = b"\xff\xd8\xff\xe0fake-jpeg-bytes"


@pytest.fixture(scope="module")
def server():
    running = start_offline_gemini()
    yield running
    running.stop()


@pytest.fixture
def fake(server):
    requests.post(f"{server.url}/_fake/reset", timeout=5)
    return server


def client(server, version: str = "v1beta") -> genai.Client:
    """A real SDK client on the fake; keep it in a variable, its HTTP client closes when it is collected."""
    options = types.HttpOptions(base_url=server.url, api_version=version, timeout=5000)
    return genai.Client(api_key="any-key", http_options=options)


def add_fault(server, **fault) -> None:
    response = requests.post(f"{server.url}/_fake/faults", json=fault, timeout=5)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("version", ["v1", "v1beta"])
def test_text_prompt_gets_a_deterministic_offline_answer_with_usage(fake, version):
    gemini = client(fake, version)

    first = gemini.models.generate_content(model=MODEL, contents="Hola, ¿qué tal?")
    second = gemini.models.generate_content(model=MODEL, contents="Hola, ¿qué tal?")

    assert (
        first.text == '[offline model] I received 1 text part and 0 media parts. You said: "Hola, ¿qué tal?"'
    )
    assert second.text == first.text
    assert first.candidates[0].finish_reason == types.FinishReason.STOP
    usage = first.usage_metadata
    assert usage.prompt_token_count == 4  # ceil(15 chars / 4)
    assert usage.candidates_token_count == -(-len(first.text) // 4)
    assert usage.thoughts_token_count == THINKING_TOKENS["MEDIUM"]  # gemini-3.8-flash's default level
    assert usage.total_token_count == (
        usage.prompt_token_count + usage.candidates_token_count + usage.thoughts_token_count
    )
    assert first.model_version == MODEL
    assert requests.get(f"{fake.url}/_fake/requests", timeout=5).json()["requests"][0]["version"] == version


def test_inline_image_part_is_reported_and_recorded(fake):
    gemini = client(fake)

    response = gemini.models.generate_content(
        model=MODEL,
        contents=[
            types.Content(role="user", parts=[types.Part.from_text(text="an earlier turn")]),
            types.Content(role="model", parts=[types.Part.from_text(text="an earlier answer")]),
            types.Content(
                role="user",
                parts=[
                    types.Part.from_text(text="look at this"),
                    types.Part.from_bytes(data=JPEG, mime_type="image/jpeg"),
                    types.Part.from_text(text="what is it?"),
                ],
            ),
        ],
        config=types.GenerateContentConfig(system_instruction="Be brief."),
    )

    assert response.text == (
        '[offline model] I received 2 text parts and 1 media part (image/jpeg). You said: "what is it?"'
    )
    recorded = requests.get(f"{fake.url}/_fake/requests", timeout=5).json()["requests"]
    assert recorded[-1]["summary"] == {
        "text_parts": 2,
        "media_types": ["image/jpeg"],
        "last_text": "what is it?",
    }
    body = recorded[-1]["body"]
    assert body["systemInstruction"]["parts"][0]["text"] == "Be brief."
    inline = body["contents"][2]["parts"][1]["inlineData"]
    assert inline["mime_type"] == "image/jpeg"


def test_long_text_is_quoted_truncated_to_200_characters():
    answer = offline_answer(TurnSummary(text_parts=1, media_types=(), last_text="x" * 500))

    quoted = answer.split('You said: "', 1)[1].rstrip('"')
    assert len(quoted) == 200
    assert quoted.endswith("…")


def test_rate_limit_fault_surfaces_as_client_error_429_then_recovers(fake):
    add_fault(fake, status=429, count=2)
    gemini = client(fake)

    for _ in range(2):
        with pytest.raises(errors.ClientError) as caught:
            gemini.models.generate_content(model=MODEL, contents="hi")
        assert caught.value.code == 429
        assert caught.value.status == "RESOURCE_EXHAUSTED"

    assert gemini.models.generate_content(model=MODEL, contents="hi").text.startswith("[offline model]")


def test_unavailable_fault_surfaces_as_server_error_503(fake):
    add_fault(fake, status=503)
    gemini = client(fake)

    with pytest.raises(errors.ServerError) as caught:
        gemini.models.generate_content(model=MODEL, contents="hi")

    assert caught.value.code == 503
    assert caught.value.status == "UNAVAILABLE"


def test_safety_block_gives_finish_reason_safety_and_no_text(fake):
    add_fault(fake, block="SAFETY")

    gemini = client(fake)
    response = gemini.models.generate_content(model=MODEL, contents="something risky")

    assert response.candidates[0].finish_reason == types.FinishReason.SAFETY
    assert response.text is None


def test_empty_fault_gives_a_candidate_without_parts(fake):
    add_fault(fake, empty=True)

    gemini = client(fake)
    response = gemini.models.generate_content(model=MODEL, contents="hi")

    assert response.text is None
    assert not response.candidates[0].content.parts


def test_scripted_text_and_delay_faults(fake):
    add_fault(fake, text="A scripted answer.", delay_seconds=0.3)

    started = time.monotonic()
    gemini = client(fake)
    response = gemini.models.generate_content(model=MODEL, contents="hi")

    assert response.text == "A scripted answer."
    assert time.monotonic() - started >= 0.3


def test_max_output_tokens_covers_the_thinking_first_then_cuts_the_answer(fake):
    low = types.ThinkingConfig(thinking_level="LOW")
    config = types.GenerateContentConfig(max_output_tokens=THINKING_TOKENS["LOW"] + 5, thinking_config=low)

    gemini = client(fake)
    response = gemini.models.generate_content(model=MODEL, contents="hi", config=config)

    assert response.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert len(response.text) == 20
    assert response.usage_metadata.thoughts_token_count == THINKING_TOKENS["LOW"]


def test_a_cap_the_thinking_uses_up_leaves_no_answer(fake):
    gemini = client(fake)
    config = types.GenerateContentConfig(max_output_tokens=10)  # MEDIUM thinking alone is more
    response = gemini.models.generate_content(model=MODEL, contents="hi", config=config)
    assert response.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert response.text is None
    assert response.usage_metadata.thoughts_token_count == 10


@pytest.mark.parametrize("level", ["LOW", "MEDIUM", "HIGH"])
def test_the_thinking_level_asked_for_is_reported_and_costs_its_thinking_tokens(fake, level):
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_level=level))
    gemini = client(fake)
    response = gemini.models.generate_content(model=MODEL, contents="hi", config=config)
    assert response.usage_metadata.thoughts_token_count == THINKING_TOKENS[level]
    (logged,) = requests.get(f"{fake.url}/_fake/requests", timeout=5).json()["requests"]
    assert logged["thinking_level"] == level


def test_minimal_thinking_and_a_level_with_a_budget_are_refused_like_gemini_3(fake):
    gemini = client(fake)
    for thinking in (
        types.ThinkingConfig(thinking_level="MINIMAL"),
        types.ThinkingConfig(thinking_level="LOW", thinking_budget=128),
    ):
        with pytest.raises(errors.ClientError) as refused:
            gemini.models.generate_content(
                model=MODEL, contents="hi", config=types.GenerateContentConfig(thinking_config=thinking)
            )
        assert refused.value.code == 400


def test_a_repeated_system_instruction_is_reported_as_cached_tokens(fake):
    gemini = client(fake)
    config = types.GenerateContentConfig(system_instruction="You are a helpful assistant. " * 10)
    first = gemini.models.generate_content(model=MODEL, contents="hi", config=config)
    second = gemini.models.generate_content(model=MODEL, contents="hello", config=config)
    assert first.usage_metadata.cached_content_token_count is None
    assert second.usage_metadata.cached_content_token_count == 73  # ceil(290 characters / 4)


def test_an_upload_can_answer_processing_and_is_refused_until_active(fake):
    gemini = client(fake)
    planned = requests.post(f"{fake.url}/_fake/file_states", json={"processing_polls": 2}, timeout=5)
    assert planned.status_code == 200
    uploaded = gemini.files.upload(file=io.BytesIO(b"%PDF-1.4 x"), config={"mime_type": "application/pdf"})
    assert uploaded.state == types.FileState.PROCESSING
    part = types.Part(file_data=types.FileData(file_uri=uploaded.uri, mime_type="application/pdf"))
    with pytest.raises(errors.ClientError) as refused:
        gemini.models.generate_content(model=MODEL, contents=[part, "what is it?"])
    assert refused.value.status == "FAILED_PRECONDITION"
    states = [gemini.files.get(name=uploaded.name).state for _ in range(3)]
    assert states == [types.FileState.PROCESSING, types.FileState.PROCESSING, types.FileState.ACTIVE]
    assert "1 media part" in gemini.models.generate_content(model=MODEL, contents=[part, "and now?"]).text


def test_an_upload_can_end_failed(fake):
    gemini = client(fake)
    requests.post(f"{fake.url}/_fake/file_states", json={"final_state": "FAILED"}, timeout=5)
    uploaded = gemini.files.upload(file=io.BytesIO(b"junk"), config={"mime_type": "application/pdf"})
    assert uploaded.state == types.FileState.FAILED
    assert uploaded.error.message


def test_streaming_answer_arrives_in_chunks(fake):
    gemini = client(fake)
    chunks = list(gemini.models.generate_content_stream(model=MODEL, contents="tell me about the sea " * 3))

    assert len(chunks) > 1
    assert "".join(c.text for c in chunks).startswith("[offline model] I received 1 text part")
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP


def test_files_api_upload_round_trip(fake):
    gemini = client(fake)
    pdf = b"%PDF-1.4 a small document"

    uploaded = gemini.files.upload(file=io.BytesIO(pdf), config={"mime_type": "application/pdf"})
    fetched = gemini.files.get(name=uploaded.name)
    response = gemini.models.generate_content(
        model=MODEL, contents=[types.Part(file_data=types.FileData(file_uri=uploaded.uri)), "summarise it"]
    )

    assert uploaded.name.startswith("files/")
    assert uploaded.uri == f"{fake.url}/v1beta/files/{uploaded.name.removeprefix('files/')}"
    assert uploaded.state == types.FileState.ACTIVE
    assert uploaded.size_bytes == len(pdf)
    assert fetched.mime_type == "application/pdf"
    assert "1 media part (application/pdf)" in response.text


def test_vertex_mode_paths_are_served(fake):
    options = types.HttpOptions(base_url=fake.url, timeout=5000)
    express = genai.Client(vertexai=True, api_key="any-key", http_options=options)
    project = genai.Client(
        vertexai=True,
        project="demo",
        location="us-central1",
        credentials=Credentials(token="local-token"),
        http_options=options,
    )

    assert express.models.generate_content(model=MODEL, contents="a").text.endswith('"a"')
    assert project.models.generate_content(model=MODEL, contents="b").text.endswith('"b"')
    versions = [
        r["version"] for r in requests.get(f"{fake.url}/_fake/requests", timeout=5).json()["requests"]
    ]
    assert versions == ["v1beta1", "v1beta1"]


def test_call_without_credentials_is_refused(fake):
    response = requests.post(
        f"{fake.url}/v1beta/models/{MODEL}:generateContent",
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        timeout=5,
    )

    assert response.status_code == 403
    assert response.json()["error"]["status"] == "PERMISSION_DENIED"


def test_bad_inline_data_is_rejected_like_google(fake):
    body = {"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": "***"}}]}]}

    response = requests.post(
        f"{fake.url}/v1beta/models/{MODEL}:generateContent",
        json=body,
        headers={"x-goog-api-key": "k"},
        timeout=5,
    )

    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_embeddings_are_deterministic_unit_vectors_where_shared_words_mean_closeness(fake):
    gemini = client(fake)
    config = types.EmbedContentConfig(output_dimensionality=768, task_type="RETRIEVAL_DOCUMENT")
    texts = [
        "Our Lisbon bakery opens at 07:30 on weekdays.",
        "When does the Lisbon bakery open on weekdays?",
        "Do you repair bicycles?",
    ]

    first = gemini.models.embed_content(model="gemini-embedding-001", contents=texts, config=config)
    again = gemini.models.embed_content(model="gemini-embedding-001", contents=texts, config=config)

    vectors = [e.values for e in first.embeddings]
    assert vectors == [e.values for e in again.embeddings]
    assert all(len(v) == 768 and abs(sum(x * x for x in v) - 1) < 1e-9 for v in vectors)

    def cosine(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(vectors[0], vectors[1]) > 0.75  # the question shares the passage's words
    assert abs(cosine(vectors[0], vectors[2]) - 0.5) < 1e-9  # no word in common
    logged = requests.get(f"{fake.url}/_fake/embeddings", timeout=5).json()["embeddings"]
    assert [e["task_type"] for e in logged] == ["RETRIEVAL_DOCUMENT"] * 6


def test_an_embedding_fault_answers_googles_error(fake):
    add_fault(fake, target="embed", status=429)

    gemini = client(fake)

    with pytest.raises(errors.APIError) as raised:
        gemini.models.embed_content(model="gemini-embedding-001", contents=["hi"])

    assert raised.value.code == 429


def test_with_a_response_schema_the_answer_is_the_json_envelope_it_asks_for(fake):
    schema = {
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "choices": {"type": "object"},
            "handoff": {"type": "object"},
        },
        "required": ["text"],
    }
    config = types.GenerateContentConfig(response_mime_type="application/json", response_json_schema=schema)
    prompt = 'Which size?\noptions: Small; Medium; Large\n<passage n="1" source="menu.md › Sizes">Small is 250 ml.</passage>'

    gemini = client(fake)
    answer = gemini.models.generate_content(model=MODEL, contents=prompt, config=config)

    import json

    envelope = json.loads(answer.text)
    assert set(envelope) == {"text", "choices"}  # no handoff asked for; sources not in the schema
    assert envelope["choices"]["kind"] == "buttons"
    assert [o["title"] for o in envelope["choices"]["options"]] == ["Small", "Medium", "Large"]
    assert 'From menu.md › Sizes: "Small is 250 ml."' in envelope["text"]
    (logged,) = requests.get(f"{fake.url}/_fake/requests", timeout=5).json()["requests"]
    assert logged["passages"] == [{"number": 1, "source": "menu.md › Sizes", "text": "Small is 250 ml."}]
    assert logged["choices"] == ["Small", "Medium", "Large"] and logged["response_schema"] is True


def test_asking_for_a_person_in_any_language_is_a_handoff(fake):
    schema = {"type": "object", "properties": {"text": {"type": "string"}, "handoff": {"type": "object"}}}
    config = types.GenerateContentConfig(response_mime_type="application/json", response_json_schema=schema)
    import json

    gemini = client(fake)
    for prompt in (
        "can I talk to a person?",
        "Kann ich mit einem Menschen sprechen?",
        "Quiero hablar con una persona",
    ):
        envelope = json.loads(
            gemini.models.generate_content(model=MODEL, contents=prompt, config=config).text
        )
        assert envelope["handoff"]["reason"], prompt
    plain = json.loads(
        gemini.models.generate_content(model=MODEL, contents="How much per person?", config=config).text
    )
    assert "handoff" not in plain
