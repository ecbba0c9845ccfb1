"""Writes the golden fixtures of the tiny CLAP text branch into Tests/Fixtures/clap-tiny/ (deterministic: rerunning reproduces every byte).

Run from the repository root:
    python3 tools/reference/make_text_fixtures.py [--out Tests/Fixtures/clap-tiny]
Needs: pip install torch safetensors   (torchlibrosa too: lightning_checkpoint imports the separator)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections import OrderedDict
from typing import Dict, List, Sequence

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clap_text_checkpoints import (  # noqa: E402
    audiosep_state_dict,
    clap_state_dict,
    random_text_model,
    roberta_state_dict,
    save_audiosep_checkpoint,
    save_clap_checkpoint,
    write_roberta_dir,
)
from clap_text_reference import (  # noqa: E402
    BOS_ID,
    EMBEDDING_SIZE,
    EOS_ID,
    MAX_TOKENS,
    PAD_ID,
    TINY_CONFIG,
    ClapTextModel,
    StackResult,
    audiosep_text_tensors,
    clap_text_tensors,
    build_from_layers,
    embed,
    load_stack,
    load_torch_state,
    position_ids_from_input_ids,
    read_roberta_dir,
)
from lightning_checkpoint import save_safetensors  # noqa: E402

SEED = 20240612
CONFIG = TINY_CONFIG
# Text tensors the AudioSep checkpoint overrides: one whole encoder layer and part of
# the projection (not text_projection.2.weight: 1 MB, and leaving it to clap.pt shows
# a loader overrides per tensor, not per module).
OVERRIDE_LAYER = 1
OVERRIDE_PROJECTION = ("text_projection.0.weight", "text_projection.0.bias", "text_projection.2.bias")
INTERMEDIATES_SEQUENCE = 3  # the 40-token sequence
LITERAL_PAD_AT = 3  # sequence 5 holds id 1 (<pad>) at this index: the text "<pad>" in a query


def override_keys(model: ClapTextModel) -> List[str]:
    layer = f"text_branch.encoder.layer.{OVERRIDE_LAYER}."
    return [k for k in model.state_dict() if k.startswith(layer) or k in OVERRIDE_PROJECTION]


def fixture_ids() -> List[List[int]]:
    """<s> … </s> sequences of 2, 3, 7, 40 and 512 (the truncation limit) tokens, and
    one of 9 tokens with a literal <pad> (id 1) inside. Body ids avoid 0, 1, 2."""
    gen = torch.Generator().manual_seed(SEED + 20)

    def body(count: int) -> List[int]:
        return torch.randint(3, CONFIG.vocab_size, (count,), generator=gen).tolist()

    sequences = [[BOS_ID] + body(length - 2) + [EOS_ID] for length in (2, 3, 7, 40, MAX_TOKENS)]
    with_pad = [BOS_ID] + body(7) + [EOS_ID]
    with_pad[LITERAL_PAD_AT] = PAD_ID
    sequences.append(with_pad)
    return sequences


def write_f32(path: str, tensor: torch.Tensor) -> None:
    tensor.detach().contiguous().numpy().astype("<f4").tofile(path)


def layout_of(tensor: torch.Tensor) -> str:
    return str(tensor.dtype).replace("torch.", "") + " " + str(list(tensor.shape))


def intermediates_for(model: ClapTextModel, ids: Sequence[int]) -> "OrderedDict[str, torch.Tensor]":
    trace: Dict[str, torch.Tensor] = {}
    with torch.no_grad():
        model(torch.tensor([list(ids)]), trace=trace)
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    out["input_ids"] = torch.tensor(list(ids), dtype=torch.int64)
    for name, tensor in trace.items():
        tensor = tensor[0].contiguous()
        out[name] = tensor if name == "position_ids" else tensor.to(torch.float32)
    return out


def max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="Tests/Fixtures/clap-tiny")
    args = parser.parse_args()
    torch.set_num_threads(1)  # summation order independent of the machine's core count
    out = args.out
    os.makedirs(out, exist_ok=True)

    # Three independent random models: one per layer of the override stack.
    roberta_values = random_text_model(CONFIG, SEED + 1)
    clap_values = random_text_model(CONFIG, SEED + 2)
    audiosep_values = random_text_model(CONFIG, SEED + 3)
    overrides = override_keys(clap_values)

    roberta_dir = os.path.join(out, "roberta-base")
    clap_path = os.path.join(out, "clap.pt")
    audiosep_path = os.path.join(out, "audiosep.ckpt")
    roberta_state = roberta_state_dict(roberta_values, SEED + 4)
    write_roberta_dir(roberta_dir, CONFIG, roberta_state)
    clap_state = clap_state_dict(clap_values, SEED + 5)
    save_clap_checkpoint(clap_path, clap_state, SEED + 6)
    audiosep_state = audiosep_state_dict(audiosep_values, overrides, SEED + 7)
    save_audiosep_checkpoint(audiosep_path, audiosep_state, SEED + 8)
    with open(os.path.join(out, ".gitattributes"), "w") as f:
        f.write("*.pt binary\n*.ckpt binary\n*.bin binary\n*.safetensors binary\n*.f32 binary\n")

    # Everything below is computed from the files just written, through the loader.
    stack = load_stack(clap_path, audiosep_path, roberta_dir)
    stack64 = load_stack(clap_path, audiosep_path, roberta_dir, dtype=torch.float64)
    model = stack.model
    sequences = fixture_ids()
    with open(os.path.join(out, "ids.json"), "w") as f:
        f.write("[\n" + ",\n".join("  " + json.dumps(s) for s in sequences) + "\n]\n")

    embeddings = embed(model, sequences)
    write_f32(os.path.join(out, "embeddings.f32"), embeddings)
    with open(os.path.join(out, "embeddings.json"), "w") as f:
        json.dump({"embedding_size": EMBEDDING_SIZE,
                   "lengths": [len(s) for s in sequences],
                   "embeddings": [[float(v) for v in row] for row in embeddings]}, f)
        f.write("\n")

    intermediates = intermediates_for(model, sequences[INTERMEDIATES_SEQUENCE])
    save_safetensors(os.path.join(out, "intermediates.safetensors"), intermediates, metadata={
        "sequence": str(INTERMEDIATES_SEQUENCE),
        "tokens": str(len(sequences[INTERMEDIATES_SEQUENCE])),
        "config": json.dumps(CONFIG.hf_config(), sort_keys=True),
        "layout": "batch dropped; [tokens, features], attention_probs [heads, query, key]",
    })

    figures = measure(stack, stack64, sequences, embeddings, intermediates, roberta_dir, clap_path,
                      audiosep_path)
    write_keys(out, roberta_state, clap_state, audiosep_state, stack)
    verify(out, stack, sequences, embeddings, intermediates, clap_values, audiosep_values, overrides)
    write_readme(out, stack, sequences, intermediates, figures, overrides)
    report(out)


def measure(stack: StackResult, stack64: StackResult, sequences, embeddings, intermediates,
            roberta_dir, clap_path, audiosep_path) -> dict:
    """Figures for the README: float32 vs float64, padded vs real tokens only, and
    how far each wrong loading order moves the embedding."""
    figures: dict = {}
    inter64 = intermediates_for(stack64.model, sequences[INTERMEDIATES_SEQUENCE])
    figures["f64"] = {name: (max_abs(t, inter64[name]), float(t.abs().max()))
                      for name, t in intermediates.items() if t.is_floating_point()}
    emb64 = embed(stack64.model, sequences)
    figures["emb_f64"] = [max_abs(a, b) for a, b in zip(embeddings, emb64)]
    padded = embed(stack.model, sequences, padded=True)
    figures["padded"] = [max_abs(a, b) for a, b in zip(embeddings, padded)]
    padded64 = embed(stack64.model, sequences, padded=True)
    figures["padded64"] = [max_abs(a, b) for a, b in zip(emb64, padded64)]

    _, roberta, _ = read_roberta_dir(roberta_dir)
    clap = clap_text_tensors(load_torch_state(clap_path))
    audiosep = audiosep_text_tensors(load_torch_state(audiosep_path))
    wrong = {
        "AudioSep checkpoint ignored (roberta-base → clap.pt)": [("roberta-base", roberta), ("clap", clap)],
        "CLAP after AudioSep (roberta-base → audiosep.ckpt → clap.pt)":
            [("roberta-base", roberta), ("audiosep", audiosep), ("clap", clap)],
        "roberta-base last (clap.pt → audiosep.ckpt → roberta-base)":
            [("clap", clap), ("audiosep", audiosep), ("roberta-base", roberta)],
    }
    figures["wrong"] = {}
    for label, layers in wrong.items():
        other = embed(build_from_layers(stack.model.config, layers).model, sequences)
        diffs = (other - embeddings).abs().amax(dim=1)
        cosines = (other * embeddings).sum(dim=1)
        figures["wrong"][label] = (float(diffs.min()), float(cosines.max()))
    return figures


def write_keys(out, roberta_state, clap_state, audiosep_state, stack: StackResult) -> None:
    """keys.txt: every tensor of the three files, in file order, and what it feeds."""
    lines = ["# Every tensor of the three weight files, in file order: key, dtype, shape, use.",
             "# use: the CLAP key it feeds and whether its value is the one the model ends up with",
             "# ('final') or is overridden by a later layer ('overridden'); '-' = ignored.", ""]
    layers = [("roberta-base/pytorch_model.bin", "roberta-base", roberta_state,
               lambda k: "text_branch." + k[len("roberta."):] if k.startswith("roberta.") else None),
              ("clap.pt", "clap", clap_state,
               lambda k: k[len("module."):] if k.startswith("module.text_") else None),
              ("audiosep.ckpt", "audiosep", audiosep_state,
               lambda k: k[len("query_encoder.model."):] if k.startswith("query_encoder.model.text_") else None)]
    for file, layer, state, to_clap in layers:
        lines.append(f"## {file}")
        for key, tensor in state.items():
            target = to_clap(key)
            if target is None or target not in stack.source:
                use = "-"
            else:
                use = f"{target} ({'final' if stack.source[target] == layer else 'overridden'})"
            lines.append(f"{key}\t{layout_of(tensor)}\t{use}")
        lines.append("")
    with open(os.path.join(out, "keys.txt"), "w") as f:
        f.write("\n".join(lines))


def verify(out, stack: StackResult, sequences, embeddings, intermediates, clap_values,
           audiosep_values, overrides) -> None:
    """Reread the files with torch, safetensors and numpy and check the stack ended with
    exactly the intended values."""
    from safetensors.torch import load_file
    final = stack.model.state_dict()
    clap_ref, audiosep_ref = clap_values.state_dict(), audiosep_values.state_dict()
    for key, tensor in final.items():
        expected = audiosep_ref[key] if key in overrides else clap_ref[key]
        assert torch.equal(tensor, expected), f"{key} did not end with the intended value"
        assert stack.source[key] == ("audiosep" if key in overrides else "clap"), key
    body = [k for k in final if k.startswith("text_branch.") and ".pooler." not in k]
    assert all(stack.overridden[k][0] == "roberta-base" for k in body)
    reread = load_file(os.path.join(out, "intermediates.safetensors"))
    assert set(reread) == set(intermediates)
    assert all(torch.equal(reread[k], v) for k, v in intermediates.items())
    stored = np.fromfile(os.path.join(out, "embeddings.f32"), dtype="<f4").reshape(len(sequences), EMBEDDING_SIZE)
    assert np.array_equal(stored, embeddings.numpy())
    with open(os.path.join(out, "embeddings.json")) as f:
        as_json = json.load(f)
    assert np.array_equal(np.array(as_json["embeddings"], dtype=np.float32), stored)
    with open(os.path.join(out, "ids.json")) as f:
        assert json.load(f) == sequences
    norms = embeddings.double().norm(dim=1)
    assert float((norms - 1).abs().max()) < 1e-6, norms


def describe(name: str) -> str:
    if name.startswith("layers."):
        index, part = name.split(".")[1], name.split(".", 2)[2]
        return {
            "attention_probs": f"layer {index}: softmax(Q·Kᵀ/√d) per head (rows: queries, sum 1)",
            "attention_context": f"layer {index}: probs·V, heads concatenated (head h = features [h·d, (h+1)·d))",
            "attention_output": f"layer {index}: LayerNorm(attention.output.dense(context) + layer input)",
            "intermediate": f"layer {index}: GELU_erf(intermediate.dense(attention_output))",
            "output": f"layer {index} output: LayerNorm(output.dense(intermediate) + attention_output)",
        }[part]
    return {
        "input_ids": "the token ids (int64)",
        "position_ids": "position ids (int64): cumsum over non-<pad> tokens + 1, i.e. 2, 3, …",
        "embeddings_sum": "word_embeddings[id] + token_type_embeddings[0] + position_embeddings[pos]",
        "embeddings": "embeddings.LayerNorm(embeddings_sum): input of layer 0",
        "pooler_output": "tanh(pooler.dense(last layer output of token 0))",
        "projection_hidden": "ReLU(text_projection.0(pooler_output))",
        "projection_output": "text_projection.2(projection_hidden): the embedding before normalisation",
        "embedding": "projection_output / ‖projection_output‖₂: row 3 of embeddings.f32",
    }[name]


def write_readme(out, stack: StackResult, sequences, intermediates, figures, overrides) -> None:
    files = []
    total = 0
    for root, _, names in sorted(os.walk(out)):
        for name in sorted(names):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, out)
            if rel in ("README.md", ".gitattributes"):
                continue
            data = open(path, "rb").read()
            total += len(data)
            files.append(f"| `{rel}` | {len(data):,} | `{hashlib.sha256(data).hexdigest()[:16]}` |")
    text_keys = list(stack.model.state_dict())
    from_audiosep = [k for k in text_keys if stack.source[k] == "audiosep"]
    pooler = [k for k in text_keys if ".pooler." in k]
    lengths = [len(s) for s in sequences]
    positions = intermediates_position_example(sequences[5])
    rows = "\n".join(f"| `{name}` | {layout_of(t)} | {describe(name)} |" for name, t in intermediates.items())
    f64_rows = "\n".join(f"| `{name}` | {diff:.1e} | {peak:.3g} |" for name, (diff, peak) in figures["f64"].items())
    wrong_rows = "\n".join(f"| {label} | {diff:.3f} | {cos:.4f} |" for label, (diff, cos) in figures["wrong"].items())
    text = README_TEMPLATE.format(
        seed=SEED, config=json.dumps(CONFIG.hf_config(), sort_keys=True),
        hidden=CONFIG.hidden_size, layers=CONFIG.num_hidden_layers, heads=CONFIG.num_attention_heads,
        head_size=CONFIG.head_size, inner=CONFIG.intermediate_size, vocab=CONFIG.vocab_size,
        files="\n".join(files), total=total, text_count=len(text_keys),
        audiosep_count=len(from_audiosep), clap_count=len(text_keys) - len(from_audiosep),
        audiosep_keys="\n".join(f"  - `{k}`" for k in from_audiosep),
        pooler=", ".join(f"`{k}`" for k in pooler), override_layer=OVERRIDE_LAYER,
        lengths=lengths, count=len(sequences), pad_at=LITERAL_PAD_AT,
        pad_sequence=json.dumps(sequences[5]), positions=json.dumps(positions),
        seq_index=INTERMEDIATES_SEQUENCE, seq_tokens=len(sequences[INTERMEDIATES_SEQUENCE]),
        rows=rows, f64_rows=f64_rows, wrong_rows=wrong_rows,
        emb_f64=max(figures["emb_f64"]),
        padded=", ".join(f"{d:.1e}" for d in figures["padded"]),
        padded64=max(figures["padded64"]),
    )
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(text)


def intermediates_position_example(ids: Sequence[int]) -> List[int]:
    return position_ids_from_input_ids(torch.tensor([list(ids)]))[0].tolist()


README_TEMPLATE = """# clap-tiny: golden fixtures for the CLAP text branch (query embedding)

Generated by `python3 tools/reference/make_text_fixtures.py` (seed {seed}, one thread; rerunning
reproduces every byte). Do not edit by hand: change the script and regenerate. The model is
`tools/reference/clap_text_reference.py`, checked against Hugging Face's `RobertaModel` and
against upstream AudioSep's own CLAP text path (figures in `tools/reference/README.md`).

**Model.** CLAP's text tower exactly as AudioSep uses it, narrow: RoBERTa with {layers} layers,
hidden {hidden}, {heads} heads of {head_size}, intermediate {inner}, vocabulary {vocab}, 514 positions,
1 token type, LayerNorm eps 1e-5, erf GELU; pooler tanh(Linear {hidden}→{hidden}) on token 0;
text_projection Linear({hidden}→512), ReLU, Linear(512→512); L2 normalisation. Every key of
the full model is present; only shapes differ. Random weights, scaled so attention is neither
uniform nor one-hot and no tanh/GELU saturates.

`roberta-base/config.json` (the architecture, as upstream reads it):
```
{config}
```

| file | bytes | sha256 (first 16 hex) |
|---|---:|---|
{files}

Total {total:,} bytes (plus this README and .gitattributes).

## The override stack

Upstream builds the text tower with `RobertaModel.from_pretrained("roberta-base")`, then
loads the CLAP checkpoint over it (strictly), then AudioSep's Lightning checkpoint over
that (non-strictly). Apply the three files in that order, **each later file replacing
tensors of the earlier ones, key by key**:

1. `roberta-base/pytorch_model.bin` — Hugging Face's RobertaForMaskedLM layout: `roberta.` +
   RobertaModel key (→ `text_branch.` + key), **no pooler**, no position_ids, and `lm_head.…`
   (ignore; `lm_head.decoder.weight` shares its storage with the word embeddings). Holds its
   own values for every text tensor except the pooler.
2. `clap.pt` — `{{epoch, name, optimizer, state_dict}}`; every state-dict key starts with
   `module.` (strip it, as upstream does when the first key starts with "module"). Holds every
   one of the {text_count} text tensors (`text_branch.…`, `text_projection.…`) with values of its
   own, plus `text_branch.embeddings.position_ids` (int64 [1, 514], an arange: ignore) and
   tensors to ignore: `logit_scale_a`, `logit_scale_t`, toy `audio_branch.…`,
   `text_transform.…`, `audio_transform.…`, `audio_projection.…`.
3. `audiosep.ckpt` — a Lightning checkpoint (`state_dict` plus opaque extras, as in
   `audiosep-tiny/tiny.ckpt`). Keys: toy `ss_model.…` (ignore), and `query_encoder.model.` +
   CLAP key for {audiosep_count} text tensors with values of its own, plus
   `…text_branch.embeddings.position_ids`, `…logit_scale_t`, `…audio_branch.bn0.weight` (ignore).

The model ends with these values:
- from `audiosep.ckpt` ({audiosep_count} tensors): all of encoder layer {override_layer}, and three of the four
  projection tensors:
{audiosep_keys}
- from `clap.pt`: the other {clap_count} text tensors, among them `text_projection.2.weight`
  (the AudioSep file overrides its bias but not its weight) and the pooler ({pooler}),
  which roberta-base does not have.
- from `roberta-base`: **none**. Every tensor it holds is replaced by `clap.pt`. That is not a
  quirk of the fixture: upstream loads the CLAP checkpoint with `strict=True`, so a real CLAP
  checkpoint always holds every text tensor, and roberta-base's weights never reach the
  embedding (its config.json and tokenizer files do).

`keys.txt` lists every tensor of the three files, in file order, with the CLAP key it feeds
and whether it ends up in the model.

Loading in a wrong order is caught by every sequence (smallest max-abs difference over the
{count} embeddings; largest cosine similarity with the right embedding):

| order | min over sequences of max abs diff | max cosine |
|---|---:|---:|
{wrong_rows}

(The first two rows agree because `clap.pt` holds every text tensor: loaded last, it simply
erases the AudioSep overrides.)

## Token ids and embeddings

- `ids.json`: {count} token-id sequences (JSON list of lists), lengths {lengths}: `<s>` = 0 first,
  `</s>` = 2 last, other ids drawn from [3, {vocab}). Sequence 0 is `[0, 2]`, what the empty
  query tokenises to; sequence 4 has exactly 512 tokens, the truncation limit. Sequence 5 holds
  a literal `<pad>` (id 1) at index {pad_at}, which is what the text "<pad>" in a query tokenises
  to: `{pad_sequence}`. RoBERTa's position rule gives it position 1 and does not advance the
  count: positions `{positions}`. It is still a real token (attended to, attention mask 1).
- `embeddings.f32`: {count} × 512 little-endian float32, row i = the embedding of sequence i
  (L2 norm 1 within 1e-7), computed with the stack above, real tokens only.
- `embeddings.json`: the same values as JSON (`embedding_size`, `lengths`, `embeddings`);
  each number is the exact float32 value.

## intermediates.safetensors

Sequence {seq_index} ({seq_tokens} tokens), batch dimension dropped, C order, float32 except the two
int64 id vectors. Rows are tokens. Header metadata: sequence, tokens, config, layout.

| name | dtype, shape | meaning |
|---|---|---|
{rows}

## Expected agreement

The same model run in float64 differs from these float32 values by (sequence {seq_index}):

| name | max abs diff f32 vs f64 | max abs value |
|---|---:|---:|
{f64_rows}

Embeddings of all {count} sequences: float32 vs float64 max abs diff {emb_f64:.1e}.

Upstream runs every query padded to 512 tokens with an attention mask; the fixtures use the
real tokens only. The two agree: max abs diff per sequence in float32 {padded} (float64: {padded64:.1e}).
An independent float32 implementation (other summation order, other exp/erf/tanh) should
match the embeddings within ~1e-6 and the intermediates within ~10x the float64 figures
above; a wrong operation or a wrong tensor moves them by O(0.1) (see the wrong-order table).
"""


def report(out) -> None:
    total = 0
    for root, _, names in sorted(os.walk(out)):
        for name in sorted(names):
            path = os.path.join(root, name)
            size = os.path.getsize(path)
            total += size
            digest = hashlib.sha256(open(path, "rb").read()).hexdigest()[:16]
            print(f"{os.path.relpath(path, out):32s} {size:>9d} bytes  sha256 {digest}")
    print(f"{'total':32s} {total:>9d} bytes")


if __name__ == "__main__":
    main()
