"""Proves clap_text_reference.py equals Hugging Face's RobertaModel and upstream AudioSep's own CLAP text path, override order included, on random weights and on the clap-tiny fixtures.

Run (upstream is read from a checkout you provide; it is never copied into this repo):
    pip install transformers
    python3 tools/reference/check_text_upstream.py [--fixtures Tests/Fixtures/clap-tiny] [--threads 2] \
        [--upstream /tmp/AudioSep]    # git clone https://github.com/Audio-AGI/AudioSep /tmp/AudioSep
Prints one JSON object per comparison and exits non-zero on any mismatch.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import types
from typing import Dict, List

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clap_text_checkpoints import random_text_model  # noqa: E402
from clap_text_reference import (  # noqa: E402
    BOS_ID,
    EMBEDDING_SIZE,
    EOS_ID,
    FULL_CONFIG,
    MAX_TOKENS,
    PAD_ID,
    TINY_CONFIG,
    ClapTextModel,
    TextConfig,
    clap_text_tensors,
    embed,
    load_stack,
    load_torch_state,
    pad_batch,
)

# Absolute, on embeddings of norm 1 (entries ≲ 0.2) and hidden states of O(1). A real
# mismatch (a wrong operation, a wrong tensor) is O(0.1).
TOLERANCE = 1e-5
failures: List[str] = []


def emit(record: dict, worst: float) -> None:
    record["ok"] = worst <= TOLERANCE
    if not record["ok"]:
        failures.append(record["check"])
    print(json.dumps(record))


def max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max())


def random_sequences(config: TextConfig, seed: int) -> List[List[int]]:
    """<s> … </s> of 2, 7, 40 and 512 tokens, and 9 tokens with a literal <pad> inside."""
    gen = torch.Generator().manual_seed(seed)
    body = lambda n: torch.randint(3, config.vocab_size, (n,), generator=gen).tolist()  # noqa: E731
    sequences = [[BOS_ID] + body(n - 2) + [EOS_ID] for n in (2, 7, 40, MAX_TOKENS)]
    sequences.append([BOS_ID] + body(3) + [PAD_ID] + body(3) + [EOS_ID])
    return sequences


# ------------------------------------------------------------ transformers


def hf_model(ours: ClapTextModel, implementation: str):
    from transformers import RobertaConfig, RobertaModel
    config = RobertaConfig(**ours.config.hf_config())
    config._attn_implementation = implementation
    model = RobertaModel(config, add_pooling_layer=True)
    body = {k[len("text_branch."):]: v for k, v in ours.state_dict().items() if k.startswith("text_branch.")}
    model.load_state_dict(body, strict=True)
    model.to(ours.text_branch.pooler.dense.weight.dtype)
    assert model.config._attn_implementation == implementation
    return model.eval()


@torch.no_grad()
def compare_with_transformers(name: str, config: TextConfig, seed: int) -> None:
    """Same weights in our model and in transformers' RobertaModel (+ our projection on
    its pooler_output): last hidden state, pooler output and embedding, per sequence
    (real tokens only) and for the batch padded to 512 (upstream's way)."""
    sequences = random_sequences(config, seed + 1)
    for dtype in (torch.float32, torch.float64):
        ours = random_text_model(config, seed).to(dtype)
        for implementation in ("eager", "sdpa"):
            theirs = hf_model(ours, implementation)
            worst = {"last_hidden": 0.0, "pooler": 0.0, "embedding": 0.0}
            runs = [(torch.tensor([s]), None) for s in sequences] + [pad_batch(sequences)]
            for ids, mask in runs:
                trace: Dict[str, torch.Tensor] = {}
                embedding = ours(ids, mask, trace)
                out = theirs(input_ids=ids, attention_mask=mask)
                real = mask.bool() if mask is not None else torch.ones_like(ids, dtype=torch.bool)
                last = f"layers.{config.num_hidden_layers - 1}.output"
                worst["last_hidden"] = max(worst["last_hidden"],
                                           max_abs(trace[last][real], out.last_hidden_state[real]))
                worst["pooler"] = max(worst["pooler"], max_abs(trace["pooler_output"], out.pooler_output))
                proj0, _, proj2 = ours.text_projection
                theirs_embedding = torch.nn.functional.normalize(
                    proj2(torch.relu(proj0(out.pooler_output))), dim=-1)
                worst["embedding"] = max(worst["embedding"], max_abs(embedding, theirs_embedding))
            emit({"check": f"transformers RobertaModel, {name} config, {str(dtype)[6:]}, {implementation}",
                  "sequences": [len(s) for s in sequences], "plus_padded_batch": True,
                  "max_abs_diff": worst}, max(worst.values()))


@torch.no_grad()
def check_roberta_dir(fixtures: str) -> None:
    """transformers' own from_pretrained reads the fixture's roberta-base exactly:
    every `roberta.` tensor loads, lm_head is left over, the pooler is missing."""
    from transformers import RobertaModel
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()
    folder = os.path.join(fixtures, "roberta-base")
    model, info = RobertaModel.from_pretrained(folder, output_loading_info=True)
    stored = load_torch_state(os.path.join(folder, "pytorch_model.bin"))
    loaded = model.state_dict()
    same = all(torch.equal(loaded[k[len("roberta."):]], v) for k, v in stored.items() if k.startswith("roberta."))
    missing = sorted(info["missing_keys"])
    unexpected = sorted(info["unexpected_keys"])
    ok = same and missing == ["pooler.dense.bias", "pooler.dense.weight"] and \
        all(k.startswith("lm_head.") for k in unexpected)
    emit({"check": "fixture roberta-base through RobertaModel.from_pretrained",
          "all_roberta_tensors_equal": same, "missing": missing, "unexpected": unexpected}, 0.0 if ok else 1.0)


# ---------------------------------------------------------------- upstream


class _Anything(types.ModuleType):
    """Stand-in for a module upstream imports but the text path never uses."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return type(name, (), {})


def import_upstream(root: str):
    """Import upstream's models/clap_encoder.py and models/CLAP/open_clip/factory.py
    from the checkout without running the package __init__ files (they import the
    training and image stacks). Modules absent here that the text path never touches
    (torchvision, torchaudio, h5py) are stubbed, as is the audio feature helper."""
    for name in ("torchvision", "torchvision.transforms", "torchvision.ops", "torchvision.ops.misc",
                 "torchaudio", "h5py"):
        try:
            importlib.import_module(name)
        except ImportError:
            sys.modules[name] = _Anything(name)
    for package in ("models", "models/CLAP", "models/CLAP/open_clip", "models/CLAP/training"):
        module = types.ModuleType(package.replace("/", "."))
        module.__path__ = [os.path.join(root, package)]
        sys.modules[module.__name__] = module
    data = types.ModuleType("models.CLAP.training.data")
    data.get_audio_features = None  # audio queries only
    sys.modules[data.__name__] = data
    factory = importlib.import_module("models.CLAP.open_clip.factory")
    sys.modules["models.CLAP.open_clip"].create_model = factory.create_model
    widen_projection_input(importlib.import_module("models.CLAP.open_clip.model").CLAP)
    clap_encoder = importlib.import_module("models.clap_encoder")
    return factory, clap_encoder


def widen_projection_input(clap_class) -> None:
    """Upstream writes text_projection's first Linear as nn.Linear(768, 512) for roberta
    instead of using the text branch's width; roberta-base is 768 wide, so that only
    matters for a narrower test config. Rebuild that one Linear with the actual width
    right after CLAP.__init__ (before any weights are loaded); nothing else changes."""
    original = clap_class.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        width = self.text_branch.config.hidden_size
        if self.text_projection[0].in_features != width:
            self.text_projection[0] = torch.nn.Linear(width, self.joint_embed_shape)

    clap_class.__init__ = init


class IdsTokenizer:
    """Replaces RobertaTokenizer inside upstream's CLAP_Encoder: the "texts" it is given
    are token-id lists, and it returns what the real tokenizer returns for them with
    upstream's arguments (padded to 512 with <pad>, attention mask)."""

    loaded_from: List[str] = []

    @classmethod
    def from_pretrained(cls, name, **_):
        cls.loaded_from.append(name)
        return cls()

    def __call__(self, texts, padding, truncation, max_length, return_tensors):
        assert (padding, truncation, max_length, return_tensors) == ("max_length", True, MAX_TOKENS, "pt")
        ids, mask = pad_batch(texts, max_length)
        return {"input_ids": ids, "attention_mask": mask}


@torch.no_grad()
def compare_with_upstream(root: str, fixtures: str) -> None:
    """Upstream's whole text path on the fixture files: CLAP_Encoder (HTSAT-base +
    roberta) built with the fixture's roberta-base as ./roberta-base, the CLAP
    checkpoint loaded by upstream's create_model (strict), AudioSep's checkpoint loaded
    the way Lightning's load_from_checkpoint(strict=False) does, embeddings through
    get_query_embed(modality="text")."""
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()
    factory, clap_encoder = import_upstream(root)
    clap_encoder.RobertaTokenizer = IdsTokenizer
    stack = load_stack(os.path.join(fixtures, "clap.pt"), os.path.join(fixtures, "audiosep.ckpt"),
                       os.path.join(fixtures, "roberta-base"))
    ids_path = os.path.join(fixtures, "ids.json")
    if os.path.exists(ids_path):
        sequences = json.load(open(ids_path))
    else:  # e.g. a run_text_reference.py --make-full --full-stack folder
        sequences = random_sequences(stack.model.config, 7)
    reference = embed(stack.model, sequences)
    stored_path = os.path.join(fixtures, "embeddings.f32")
    stored = None
    if os.path.exists(stored_path):
        stored = torch.from_numpy(np.fromfile(stored_path, dtype="<f4").reshape(len(sequences), EMBEDDING_SIZE))
        assert torch.equal(stored, reference) or max_abs(stored, reference) < TOLERANCE

    work = tempfile.mkdtemp(prefix="clap-upstream-")
    os.symlink(os.path.abspath(os.path.join(fixtures, "roberta-base")), os.path.join(work, "roberta-base"))
    cwd = os.getcwd()
    os.chdir(work)  # upstream loads "roberta-base" relative to the working directory
    try:
        # A real CLAP checkpoint holds the whole audio branch, and upstream loads it
        # strictly. Complete ours: upstream's own (random) audio tensors, our text ones.
        bare, _ = factory.create_model("HTSAT-base", "roberta", "", precision="fp32", device="cpu",
                                       enable_fusion=False, fusion_type="aff_2d")
        ours = clap_text_tensors(load_torch_state(os.path.join(cwd, fixtures, "clap.pt")))
        complete = {}
        dropped = []
        for key, value in bare.state_dict().items():
            complete["module." + key] = ours.get(key, value)
        for key in ours:
            if key not in bare.state_dict():
                dropped.append(key)  # position_ids: transformers ≥ 4.31 no longer saves it
        complete_path = os.path.join(work, "clap-complete.pt")
        torch.save({"epoch": 15, "state_dict": complete}, complete_path)
        del bare

        encoder = clap_encoder.CLAP_Encoder(pretrained_path=complete_path)
        lightning = torch.nn.Module()
        lightning.query_encoder = encoder
        audiosep = load_torch_state(os.path.join(cwd, fixtures, "audiosep.ckpt"))
        result = lightning.load_state_dict(audiosep, strict=False)
        lightning.eval()

        text_state = {k: v for k, v in encoder.model.state_dict().items() if k.startswith(("text_branch.", "text_projection."))}
        ours_final = stack.model.state_dict()
        differing = [k for k in ours_final if not torch.equal(ours_final[k], text_state[k])]
        emit({"check": "upstream weights after roberta-base → CLAP (strict) → AudioSep (non-strict)",
              "text_tensors": len(ours_final), "differing_from_our_stack": differing,
              "dropped_from_clap_checkpoint": dropped,
              "lightning_unexpected_keys": len(result.unexpected_keys),
              "tokenizer_loaded_from": IdsTokenizer.loaded_from}, 1.0 if differing else 0.0)

        single = torch.cat([encoder.get_query_embed(modality="text", text=[s]) for s in sequences])
        batch = encoder.get_query_embed(modality="text", text=sequences)
        ours_padded = embed(stack.model, sequences, padded=True)
        diffs = {
            "upstream_single_vs_ours": [max_abs(a, b) for a, b in zip(single, reference)],
            "upstream_batch_vs_ours": [max_abs(a, b) for a, b in zip(batch, reference)],
            "upstream_single_vs_ours_padded": [max_abs(a, b) for a, b in zip(single, ours_padded)],
        }
        if stored is not None:
            diffs["upstream_single_vs_embeddings_f32"] = [max_abs(a, b) for a, b in zip(single, stored)]
        emit({"check": f"upstream CLAP_Encoder.get_query_embed(text), {fixtures}",
              "lengths": [len(s) for s in sequences], "max_abs_diff": diffs},
             max(max(v) for v in diffs.values()))

        # Layer by layer, real tokens only, against intermediates.safetensors.
        inter_path = os.path.join(cwd, fixtures, "intermediates.safetensors")
        if not os.path.exists(inter_path):
            return
        from safetensors.torch import load_file
        inter = load_file(inter_path)
        ids = inter["input_ids"][None, :]
        out = encoder.model.text_branch(input_ids=ids, attention_mask=torch.ones_like(ids),
                                        output_hidden_states=True)
        names = ["embeddings"] + [f"layers.{i}.output" for i in range(len(out.hidden_states) - 1)]
        layer_diffs = {n: max_abs(inter[n], h[0]) for n, h in zip(names, out.hidden_states)}
        layer_diffs["pooler_output"] = max_abs(inter["pooler_output"], out.pooler_output[0])
        layer_diffs["projection_output"] = max_abs(inter["projection_output"],
                                                   encoder.model.text_projection(out.pooler_output)[0])
        emit({"check": "upstream text_branch hidden states vs intermediates.safetensors",
              "max_abs_diff": layer_diffs}, max(layer_diffs.values()))
    finally:
        os.chdir(cwd)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", default="Tests/Fixtures/clap-tiny",
                        help="clap-tiny, or a run_text_reference.py --make-full --full-stack folder")
    parser.add_argument("--upstream", help="root of an Audio-AGI/AudioSep checkout")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20240613)
    parser.add_argument("--skip-full", action="store_true", help="only the tiny config (the full one takes ~1 min)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    compare_with_transformers("tiny", TINY_CONFIG, args.seed)
    if not args.skip_full:
        compare_with_transformers("full", FULL_CONFIG, args.seed + 10)
    check_roberta_dir(args.fixtures)
    if args.upstream:
        compare_with_upstream(args.upstream, args.fixtures)
    if failures:
        print("FAILED: " + "; ".join(failures), file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
