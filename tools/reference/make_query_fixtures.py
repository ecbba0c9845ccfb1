"""Writes Tests/Fixtures/clap-tiny/queries.json: text queries → Hugging Face token ids → reference embeddings.

Run: python3 tools/reference/make_query_fixtures.py   (needs torch and transformers)
Joins the two fixtures: the byte-level BPE vocabulary of Tests/Fixtures/tokenizer/ (2000 entries,
the tiny model's vocabulary size) is copied into clap-tiny/roberta-base/, making that folder what
a user downloads (config.json, vocab.json, merges.txt, weights), and each query is tokenised with
transformers.RobertaTokenizer and embedded by our reference over the clap-tiny override stack.
"""
import json, os, shutil, sys

import torch
from transformers import RobertaTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from clap_text_reference import embed, load_stack  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")
TINY = os.path.join(FIXTURES, "clap-tiny")
QUERIES = [
    "", "vocals", "a dog barking in the rain", "Someone typing on a mechanical keyboard!",
    "  two  spaces\tand a tab\n", "église: les cloches sonnent à midi", "🐕 woof 🐕‍🦺", "the 3rd bell, 1,024 times",
    "A MAN'S VOICE", "<pad> literal", "drums " * 200,
]


def main() -> None:
    torch.set_num_threads(1)
    roberta = os.path.join(TINY, "roberta-base")
    for name in ("vocab.json", "merges.txt"):
        shutil.copyfile(os.path.join(FIXTURES, "tokenizer", name), os.path.join(roberta, name))
    tokenizer = RobertaTokenizer(os.path.join(roberta, "vocab.json"), os.path.join(roberta, "merges.txt"))
    stack = load_stack(clap_checkpoint=os.path.join(TINY, "clap.pt"), audiosep_checkpoint=os.path.join(TINY, "audiosep.ckpt"),
                       roberta_dir=roberta)
    cases = []
    for text in QUERIES:
        ids = tokenizer(text, truncation=True, max_length=512)["input_ids"]
        embedding = embed(stack.model, [ids])[0]
        cases.append({"text": text, "ids": ids, "embedding": [float(v) for v in embedding.tolist()]})
    with open(os.path.join(TINY, "queries.json"), "w") as out:
        json.dump(cases, out, ensure_ascii=False)
    print(f"wrote {len(cases)} queries to {os.path.join(TINY, 'queries.json')}")


if __name__ == "__main__":
    main()
