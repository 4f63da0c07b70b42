#!/usr/bin/env python3
"""Talks to rag-server's OpenAI-compatible endpoint with the official `openai` client, as a user would.

Usage: scripts/openai_client_check.py BASE_URL QUESTION EXPECTED_TEXT [API_KEY]
Prints one line per check and exits non-zero on the first failure.
"""
import sys

import openai


def main() -> int:
    base_url, question, expected = sys.argv[1], sys.argv[2], sys.argv[3]
    api_key = sys.argv[4] if len(sys.argv) > 4 else "not-needed"
    client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)

    models = [model.id for model in client.models.list()]
    assert "pdf-chatbot" in models, f"models: {models}"
    print("models ok:", models)

    completion = client.chat.completions.create(
        model="pdf-chatbot", messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": question}]
    )
    content = completion.choices[0].message.content
    assert expected in content, f"answer without the expected text: {content!r}"
    assert "Sources: [1]" in content, f"answer without sources: {content!r}"
    assert completion.usage.total_tokens > 0, completion.usage
    print("completion ok:", content.splitlines()[0][:80])

    stream = client.chat.completions.create(
        model="pdf-chatbot", messages=[{"role": "user", "content": question}], stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage, finish = [], None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                finish = choice.finish_reason
    text = "".join(pieces)
    assert expected in text, f"stream without the expected text: {text!r}"
    assert finish == "stop", finish
    assert usage is not None and usage.completion_tokens > 0, usage
    assert len(pieces) > 3, f"not streamed: {len(pieces)} pieces"
    print("stream ok:", len(pieces), "pieces")

    try:
        client.chat.completions.create(model="pdf-chatbot", messages=[{"role": "system", "content": "no question"}])
        raise AssertionError("a request without a user message was accepted")
    except openai.BadRequestError as error:
        print("bad request ok:", error.status_code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
