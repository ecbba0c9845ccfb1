"""Random-weight checkpoints for the CLAP text branch in the three layouts a user has: Hugging Face roberta-base (RobertaForMaskedLM), the CLAP training checkpoint (`module.`-prefixed), and AudioSep's Lightning checkpoint (`query_encoder.model.`).

Library module, imported by make_text_fixtures.py and run_text_reference.py.
Each layout is built from a real nn.Module tree, so key names, key order and the
state dict's `_metadata` attribute are what torch.save writes for upstream's models.
"""

from __future__ import annotations

import json
import math
import os
from collections import OrderedDict
from typing import Dict, Iterable, Optional

import torch
import torch.nn as nn

from clap_text_reference import EMBEDDING_SIZE, ClapTextModel, RobertaBody, TextConfig
from lightning_checkpoint import opaque_extras, save_lightning_checkpoint


@torch.no_grad()
def randomize_text_(module: nn.Module, config: TextConfig, seed: int) -> None:
    """Deterministic random weights for any module holding RoBERTa / CLAP text
    tensors (ClapTextModel, RobertaBody), scaled so that every nonlinearity works in
    its useful range at any width: attention scores with a standard deviation near 2
    (softmax neither uniform nor one-hot), GELU and tanh inputs O(1), LayerNorm
    weights in [0.6, 1.4] and biases O(0.2). Draws follow state-dict order."""
    gen = torch.Generator().manual_seed(seed)
    hidden, inner = config.hidden_size, config.intermediate_size

    def normal(shape, std):
        return torch.randn(shape, generator=gen) * std

    for name, param in module.named_parameters():
        shape = param.shape
        if name.endswith("LayerNorm.weight"):
            value = 0.6 + 0.8 * torch.rand(shape, generator=gen)
        elif name.endswith("LayerNorm.bias"):
            value = normal(shape, 0.2)
        elif name.endswith("word_embeddings.weight"):
            value = normal(shape, 0.5)
        elif name.endswith(("position_embeddings.weight", "token_type_embeddings.weight")):
            value = normal(shape, 0.3)
        elif name.endswith(("query.weight", "key.weight")):
            value = normal(shape, 1.4 / math.sqrt(hidden))
        elif name.endswith("intermediate.dense.weight"):
            value = normal(shape, math.sqrt(2.0 / hidden))
        elif name.endswith("output.dense.weight") and shape[1] == inner:
            value = normal(shape, 1.0 / math.sqrt(inner))
        elif name.endswith("text_projection.0.weight"):
            value = normal(shape, math.sqrt(2.0 / hidden))
        elif name.endswith("text_projection.2.weight"):
            value = normal(shape, math.sqrt(2.0 / EMBEDDING_SIZE))
        elif name.endswith(".weight"):  # value, attention output, pooler
            value = normal(shape, 1.0 / math.sqrt(shape[1]))
        elif name.endswith(".bias"):
            value = normal(shape, 0.1)
        else:
            raise ValueError(f"no initialisation rule for {name}")
        param.copy_(value)


def random_text_model(config: TextConfig, seed: int) -> ClapTextModel:
    model = ClapTextModel(config)
    randomize_text_(model, config, seed)
    return model.eval()


# ----------------------------------------------------------- module trees


class _Holder(nn.Module):
    """A module with only the given parameters/buffers and children, to give toy
    tensors upstream's names (a full HTSAT audio branch would be 30 M floats)."""

    def __init__(self, params: Optional[Dict[str, torch.Tensor]] = None,
                 buffers: Optional[Dict[str, torch.Tensor]] = None,
                 children: Optional[Dict[str, nn.Module]] = None):
        super().__init__()
        for name, value in (params or {}).items():
            self.register_parameter(name, nn.Parameter(value, requires_grad=False))
        for name, value in (buffers or {}).items():
            self.register_buffer(name, value)
        for name, child in (children or {}).items():
            self.add_module(name, child)


def _toy_batch_norm(channels: int, gen: torch.Generator) -> _Holder:
    return _Holder(
        params={"weight": 0.6 + 0.8 * torch.rand(channels, generator=gen),
                "bias": torch.randn(channels, generator=gen) * 0.2},
        buffers={"running_mean": torch.randn(channels, generator=gen),
                 "running_var": 0.5 + torch.rand(channels, generator=gen),
                 "num_batches_tracked": torch.tensor(123_456, dtype=torch.long)})


def _biases_only(indices: Iterable[str], gen: torch.Generator) -> _Holder:
    """`<i>.bias` [512] for each index: stands in for an MLP the text path never uses."""
    return _Holder(children={i: _Holder(params={"bias": torch.randn(EMBEDDING_SIZE, generator=gen) * 0.1})
                             for i in indices})


class ClapLike(nn.Module):
    """Upstream's CLAP module tree, with the real text tower and toy stand-ins for
    the rest. Registration order is CLAP.__init__'s (audio_branch, text_branch,
    text_transform, text_projection, audio_transform, audio_projection; the two
    logit-scale parameters are CLAP's own, so state_dict() lists them first)."""

    def __init__(self, text: ClapTextModel, seed: int):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        config = text.config
        self.audio_branch = _Holder(children={
            "bn0": _toy_batch_norm(64, gen),
            "patch_embed": _Holder(children={"proj": _Holder(params={
                "weight": torch.randn(8, 1, 4, 4, generator=gen) * 0.1,
                "bias": torch.randn(8, generator=gen) * 0.1})}),
        })
        self.text_branch = RobertaBody(config, with_pooler=True, persistent_position_ids=True)
        self.text_transform = _Holder(children={"sequential": _biases_only(("0", "3"), gen)})
        self.text_projection = nn.Sequential(nn.Linear(config.hidden_size, EMBEDDING_SIZE), nn.ReLU(),
                                             nn.Linear(EMBEDDING_SIZE, EMBEDDING_SIZE))
        self.audio_transform = _Holder(children={"sequential": _biases_only(("0", "3"), gen)})
        self.audio_projection = _biases_only(("0", "2"), gen)
        # log(1/0.07) at initialisation; trained values differ. Never used for text embeddings.
        self.logit_scale_a = nn.Parameter(torch.tensor(math.log(1 / 0.07) + 1.3), requires_grad=False)
        self.logit_scale_t = nn.Parameter(torch.tensor(math.log(1 / 0.07) - 0.4), requires_grad=False)
        missing, unexpected = self.load_state_dict(text.state_dict(), strict=False)
        assert not unexpected and all(not k.startswith(("text_branch.", "text_projection.")) or
                                      k.endswith("position_ids") for k in missing), (missing, unexpected)


class _DistributedLike(nn.Module):
    """DistributedDataParallel's wrapper: every key gains `module.`."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module


class MaskedLMLike(nn.Module):
    """Hugging Face's RobertaForMaskedLM tree, as roberta-base/pytorch_model.bin holds
    it: `roberta.…` (a RobertaModel WITHOUT pooler) and `lm_head.…`, whose
    decoder.weight is tied to (shares storage with) the word embeddings."""

    def __init__(self, body: RobertaBody, seed: int):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        hidden = body.embeddings.word_embeddings.weight.shape[1]
        vocab = body.embeddings.word_embeddings.weight.shape[0]
        self.roberta = body
        self.lm_head = _Holder(
            params={"bias": torch.randn(vocab, generator=gen) * 0.1},
            children={
                "dense": _Holder(params={"weight": torch.randn(hidden, hidden, generator=gen) * 0.1,
                                         "bias": torch.randn(hidden, generator=gen) * 0.1}),
                "layer_norm": _Holder(params={"weight": 0.6 + 0.8 * torch.rand(hidden, generator=gen),
                                              "bias": torch.randn(hidden, generator=gen) * 0.2}),
                "decoder": _Holder(),
            })
        self.lm_head.decoder.weight = body.embeddings.word_embeddings.weight  # tied


class LightningLike(nn.Module):
    """AudioSep's LightningModule order: ss_model, then query_encoder (a CLAP_Encoder
    whose `.model` is the CLAP module). ss_model here is a toy: a few tensors under
    upstream's names, which a text loader must skip."""

    def __init__(self, clap: ClapLike, seed: int):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.ss_model = _Holder(children={
            "base": _Holder(children={"bn0": _toy_batch_norm(1025, gen)}),
            "film": _Holder(children={"encoder_block1->conv_block1->beta1": _Holder(params={
                "weight": torch.randn(2, EMBEDDING_SIZE, generator=gen) * 0.5,
                "bias": torch.randn(2, generator=gen) * 0.1})}),
        })
        self.query_encoder = _Holder(children={"model": clap})


# ------------------------------------------------------------------ writers


def clap_extras(seed: int) -> dict:
    """The rest of a CLAP training checkpoint (laion CLAP's training/main.py saves
    epoch, name, state_dict and optimizer): opaque to a reader."""
    gen = torch.Generator().manual_seed(seed)
    return {
        "epoch": 15,
        "name": "music_speech_audioset-lr1e-4-b96-j6-opt_adamw-roberta-HTSAT-base",
        "optimizer": {
            "state": {i: {"step": torch.tensor(76_875.0),
                          "exp_avg": torch.randn(shape, generator=gen) * 1e-4,
                          "exp_avg_sq": torch.rand(shape, generator=gen) * 1e-8}
                      for i, shape in enumerate([(3, 5), (6,)])},
            "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.99), "eps": 1e-9, "weight_decay": 0.0,
                              "amsgrad": False, "maximize": False, "foreach": None,
                              "capturable": False, "differentiable": False, "fused": None,
                              "initial_lr": 1e-4, "params": [0, 1]}],
        },
    }


def clap_state_dict(text: ClapTextModel, seed: int) -> "OrderedDict[str, torch.Tensor]":
    """A CLAP checkpoint's state dict: every key `module.`-prefixed, every text tensor
    (including the int64 `text_branch.embeddings.position_ids`), plus toy audio-branch,
    text/audio transform and projection tensors and the two logit scales."""
    return _DistributedLike(ClapLike(text, seed)).state_dict()


def save_clap_checkpoint(path: str, state: "OrderedDict[str, torch.Tensor]", seed: int) -> None:
    checkpoint = clap_extras(seed)
    checkpoint["state_dict"] = state
    torch.save(checkpoint, path)


def audiosep_state_dict(override: ClapTextModel, keep_text_keys: Iterable[str],
                        seed: int) -> "OrderedDict[str, torch.Tensor]":
    """An AudioSep Lightning state dict holding, of the text tower, only
    `keep_text_keys` (CLAP keys, e.g. `text_projection.0.weight`) with `override`'s
    values, plus toy `ss_model.…` tensors and a few other `query_encoder.model.…` ones
    (position_ids, logit_scale_t, one audio-branch tensor) a text loader must skip."""
    keep = set(keep_text_keys)
    other = {"text_branch.embeddings.position_ids", "logit_scale_t", "audio_branch.bn0.weight"}
    state = LightningLike(ClapLike(override, seed), seed + 1).state_dict()
    prefix = "query_encoder.model."
    for key in list(state):
        if key.startswith(prefix) and key[len(prefix):] not in keep | other:
            del state[key]
    found = {k[len(prefix):] for k in state if k.startswith(prefix)}
    if not keep <= found:
        raise KeyError(f"not text keys: {sorted(keep - found)}")
    return state


def save_audiosep_checkpoint(path: str, state: "OrderedDict[str, torch.Tensor]", seed: int) -> None:
    save_lightning_checkpoint(path, state, opaque_extras(seed))


def roberta_state_dict(body_source: ClapTextModel, seed: int) -> "OrderedDict[str, torch.Tensor]":
    """roberta-base/pytorch_model.bin's state dict: `roberta.…` with body_source's
    text_branch values (no pooler, no position_ids) and `lm_head.…`."""
    config = body_source.config
    body = RobertaBody(config, with_pooler=False)
    own = {k[len("text_branch."):]: v for k, v in body_source.state_dict().items()
           if k.startswith("text_branch.") and not k.startswith("text_branch.pooler.")}
    body.load_state_dict(own, strict=True)
    return MaskedLMLike(body, seed).state_dict()


def write_roberta_dir(path: str, config: TextConfig,
                      state: Optional["OrderedDict[str, torch.Tensor]"] = None) -> None:
    """roberta-base/: config.json, and pytorch_model.bin when `state` is given.
    (A user's folder also holds vocab.json and merges.txt: the tokenizer's business.)"""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config.hf_config(), f, indent=2)
        f.write("\n")
    if state is not None:
        # Hugging Face saves a plain OrderedDict (no `state_dict` wrapper).
        torch.save(state, os.path.join(path, "pytorch_model.bin"))
