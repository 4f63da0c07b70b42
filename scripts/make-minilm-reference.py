#!/usr/bin/env python3
"""Writes Tests/RAGCoreTests/Fixtures/minilm-reference.json: token ids and sentence embeddings computed by
sentence-transformers (PyTorch) for all-MiniLM-L6-v2, the reference MiniLMEmbedder is tested against.

Run once, after scripts/fetch-model.sh, in an environment with the reference implementation:

    python3 -m venv /tmp/st && /tmp/st/bin/pip install torch sentence-transformers
    /tmp/st/bin/python scripts/make-minilm-reference.py [--models-dir DIR]

The texts cover what the Swift tokenizer must get right: accents, CJK, Hangul, emoji (with zero-width joiners
and variation selectors), punctuation-heavy text, control characters, a word longer than WordPiece's
100-character limit, and texts longer than the model's 256-token limit (truncated).
"""
import argparse
import json
import os
import sys

TEXTS = [
    "",
    "How do I invert a matrix?",
    "The quick brown fox jumps over the lazy dog.",
    "Café crème brûlée, naïve façade, Ångström, Straße, ÉCOLE NORMALE SUPÉRIEURE.",
    "Zürich und Köln liegen in Mitteleuropa; São Paulo está no Brasil.",
    "机器学习是人工智能的一个分支。東京は日本の首都です。",
    "한국어 문장도 토큰화됩니다. Привет, мир! Γειά σου Κόσμε.",
    "Emoji: 😀👍🏽 👨‍👩‍👧‍👦 ❤️ 🇫🇷 — are they [UNK]?",
    "!!!???...,,,;;;:::(((]]]{{{}}}<<<>>>@@@###$$$%%%^^^&&&***___+++===|||~~~```'''\"\"\"",
    "e.g., i.e., U.S.A., 3.14159, 1,000,000, x^2+y^2=z^2, a/b\\c, foo@bar.com, https://example.org/a?b=c#d",
    "Tabs\tnew\nlines\r\nand\u00a0no-break\u2003em spaces, zero\u200bwidth, soft\u00adhyphen, bell\u0007char.",
    "supercalifragilisticexpialidocious " + "x" * 120 + " antidisestablishmentarianism",
    "Octave's linsolve solves the linear system A*x = b; see also mldivide (\\) and pinv.",
    "To typeset a fraction in LaTeX use \\frac{numerator}{denominator} inside math mode $...$.",
    " ".join(["token"] * 300),
    " ".join("The eigenvalues of a symmetric matrix are real, and its eigenvectors can be chosen orthonormal."
             .split() * 30),
    "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ and ﬁ ligature, ① circled, ² superscript, ℌ fraktur.",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--models-dir", default=os.environ.get("RAG_MODELS_DIR") or os.path.join(os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "pdf-chatbot", "models"))
    parser.add_argument("--out", default=os.path.join(root, "Tests/RAGCoreTests/Fixtures/minilm-reference.json"))
    args = parser.parse_args()

    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    model_dir = os.path.join(args.models_dir, "all-MiniLM-L6-v2")
    model = SentenceTransformer(model_dir, device="cpu")
    assert model.max_seq_length == 256, model.max_seq_length
    tokenizer = model.tokenizer
    vectors = model.encode(TEXTS, batch_size=8, normalize_embeddings=False, convert_to_numpy=True)
    cases = []
    for text, vector in zip(TEXTS, vectors):
        ids = tokenizer(text, truncation=True, max_length=256)["input_ids"]
        full = tokenizer(text, truncation=False)["input_ids"]
        cases.append({
            "text": text,
            "token_ids": ids,
            "untruncated_token_count": len(full),
            "embedding": [round(float(v), 6) for v in vector],
        })
    with open(args.out, "w", encoding="utf-8") as out:
        json.dump({
            "model": "sentence-transformers/all-MiniLM-L6-v2",
            "generator": f"scripts/make-minilm-reference.py with sentence-transformers "
                         f"{sentence_transformers.__version__}, torch {torch.__version__}",
            "max_tokens": 256,
            "cases": cases,
        }, out, ensure_ascii=False, indent=1)
        out.write("\n")
    print(f"wrote {len(cases)} cases to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
