"""Our PyTorch reference of the CLAP text branch as AudioSep uses it (RoBERTa → pooler → text_projection → L2 norm): token ids in, the 512-value query embedding out.

Library module, imported by make_text_fixtures.py, run_text_reference.py and check_text_upstream.py.
Run it directly to print the checkpoint keys a config needs, with shapes:
    python3 tools/reference/clap_text_reference.py [--config full|tiny]

Written from a reading of Audio-AGI/AudioSep (models/clap_encoder.py,
models/CLAP/open_clip/model.py and factory.py) and of Hugging Face transformers'
RobertaModel (4.28.1, the version upstream pins, and 5.x); no upstream code is copied.
Module and attribute names are chosen so that `state_dict()` yields CLAP's keys
(`text_branch.…`, `text_projection.…`). The forward pass is written out operation by
operation (no nn.MultiheadAttention, no transformers), in whatever dtype the weights
have, so the same code gives the float32 golden values and a float64 yardstick.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from dataclasses import asdict, dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

# RoBERTa's special tokens (roberta-base vocab.json): <s> = 0, <pad> = 1, </s> = 2.
BOS_ID = 0
PAD_ID = 1
EOS_ID = 2
# Upstream's CLAP_Encoder.tokenizer: truncation=True, padding="max_length", max_length=512.
MAX_TOKENS = 512
# CLAP's joint_embed_shape: text_projection is Linear(hidden → 512), ReLU, Linear(512 → 512).
EMBEDDING_SIZE = 512
# F.normalize's default: x / max(‖x‖₂, 1e-12).
NORMALIZE_EPS = 1e-12


@dataclass(frozen=True)
class TextConfig:
    """The architecture, as roberta-base/config.json gives it to upstream
    (RobertaModel.from_pretrained reads it; the CLAP checkpoint must then fit it)."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int = 514  # = MAX_TOKENS + PAD_ID + 1: positions start at 2
    type_vocab_size: int = 1
    pad_token_id: int = PAD_ID
    layer_norm_eps: float = 1e-5
    hidden_act: str = "gelu"  # transformers' "gelu" = exact erf GELU

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def check(self) -> None:
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not a multiple of "
                             f"num_attention_heads {self.num_attention_heads}")
        if self.hidden_act != "gelu":
            raise ValueError(f"hidden_act {self.hidden_act!r}: only 'gelu' (erf) is implemented")
        if self.max_position_embeddings < MAX_TOKENS + self.pad_token_id + 1:
            raise ValueError(f"max_position_embeddings {self.max_position_embeddings} cannot "
                             f"hold {MAX_TOKENS} tokens (positions start at pad_token_id + 1)")

    @classmethod
    def from_hf_config(cls, hf: dict) -> "TextConfig":
        """From a Hugging Face RobertaConfig dict (config.json)."""
        names = [f for f in cls.__dataclass_fields__]
        config = cls(**{name: hf[name] for name in names if name in hf})
        config.check()
        return config

    def hf_config(self) -> dict:
        """A config.json in the shape Hugging Face ships for roberta-base."""
        out = {
            "architectures": ["RobertaForMaskedLM"],
            "attention_probs_dropout_prob": 0.1,
            "bos_token_id": BOS_ID,
            "eos_token_id": EOS_ID,
            "hidden_dropout_prob": 0.1,
            "initializer_range": 0.02,
            "model_type": "roberta",
        }
        out.update(asdict(self))
        return dict(sorted(out.items()))


FULL_CONFIG = TextConfig(vocab_size=50265, hidden_size=768, num_hidden_layers=12,
                         num_attention_heads=12, intermediate_size=3072)
# Same structure, every key present, only shapes differ (head size 8 instead of 64).
TINY_CONFIG = TextConfig(vocab_size=2000, hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=4, intermediate_size=64)
CONFIGS_BY_NAME = {"full": FULL_CONFIG, "tiny": TINY_CONFIG}


# ------------------------------------------------------------------------ modules
# Plain containers whose attribute names give Hugging Face's RobertaModel keys. The
# arithmetic lives in ClapTextModel.forward, in one place, in upstream's order.


class _Embeddings(nn.Module):
    def __init__(self, config: TextConfig, persistent_position_ids: bool):
        super().__init__()
        # transformers ≤ 4.30 saved `position_ids` (an int64 arange) with the weights,
        # so the CLAP and AudioSep checkpoints carry it; forward never reads it when
        # it is given input ids. Registered only when writing such checkpoints.
        if persistent_position_ids:
            self.register_buffer("position_ids", torch.arange(config.max_position_embeddings)[None, :])
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)


class _SelfAttention(nn.Module):
    def __init__(self, config: TextConfig):
        super().__init__()
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)


class _DenseNorm(nn.Module):
    def __init__(self, in_features: int, config: TextConfig):
        super().__init__()
        self.dense = nn.Linear(in_features, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)


class _Attention(nn.Module):
    def __init__(self, config: TextConfig):
        super().__init__()
        self.self = _SelfAttention(config)
        self.output = _DenseNorm(config.hidden_size, config)


class _Intermediate(nn.Module):
    def __init__(self, config: TextConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)


class _Layer(nn.Module):
    def __init__(self, config: TextConfig):
        super().__init__()
        self.attention = _Attention(config)
        self.intermediate = _Intermediate(config)
        self.output = _DenseNorm(config.intermediate_size, config)


class _Encoder(nn.Module):
    def __init__(self, config: TextConfig):
        super().__init__()
        self.layer = nn.ModuleList(_Layer(config) for _ in range(config.num_hidden_layers))


class _Pooler(nn.Module):
    def __init__(self, config: TextConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)


class RobertaBody(nn.Module):
    """RobertaModel's tensors: `embeddings.…`, `encoder.layer.N.…`, `pooler.…`.
    Hugging Face's roberta-base checkpoint (RobertaForMaskedLM) has no pooler."""

    def __init__(self, config: TextConfig, with_pooler: bool = True,
                 persistent_position_ids: bool = False):
        super().__init__()
        self.embeddings = _Embeddings(config, persistent_position_ids)
        self.encoder = _Encoder(config)
        if with_pooler:
            self.pooler = _Pooler(config)


class ClapTextModel(nn.Module):
    """CLAP's text tower: `text_branch` (RobertaModel) and `text_projection`
    (Sequential: Linear(hidden → 512), ReLU, Linear(512 → 512)). forward() returns
    the L2-normalised embedding, i.e. upstream's `CLAP.get_text_embedding`."""

    def __init__(self, config: TextConfig, persistent_position_ids: bool = False):
        super().__init__()
        config.check()
        self.config = config
        self.text_branch = RobertaBody(config, True, persistent_position_ids)
        self.text_projection = nn.Sequential(
            nn.Linear(config.hidden_size, EMBEDDING_SIZE),
            nn.ReLU(),
            nn.Linear(EMBEDDING_SIZE, EMBEDDING_SIZE),
        )

    def forward(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
                trace: Optional[Dict[str, torch.Tensor]] = None) -> torch.Tensor:
        """input_ids: int64 [B, T]. attention_mask: None (every token is real) or
        [B, T] of 1 (real) / 0 (padding), as the tokenizer returns it. Returns [B, 512].
        `trace`, if given, receives every intermediate (batch kept)."""
        record = trace.__setitem__ if trace is not None else (lambda *_: None)
        config = self.config
        branch = self.text_branch
        emb = branch.embeddings
        dtype = emb.word_embeddings.weight.dtype

        # Embeddings: word + token type 0 + position, then LayerNorm (dropout: no-op).
        position_ids = position_ids_from_input_ids(input_ids, config.pad_token_id)
        record("position_ids", position_ids)
        x = emb.word_embeddings.weight[input_ids] + emb.token_type_embeddings.weight[0]
        x = x + emb.position_embeddings.weight[position_ids]
        record("embeddings_sum", x)
        x = F.layer_norm(x, (config.hidden_size,), emb.LayerNorm.weight, emb.LayerNorm.bias,
                         config.layer_norm_eps)
        record("embeddings", x)

        # transformers' extended attention mask: 0 for real keys, the dtype's most
        # negative finite value for padding keys, added to every query's scores.
        additive = None
        if attention_mask is not None:
            additive = (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min

        for index, layer in enumerate(branch.encoder.layer):
            x = self._layer(layer, x, additive, f"layers.{index}.", record)

        # Pooler: tanh(dense(hidden state of the first token, <s>)).
        first = x[:, 0]
        pooled = torch.tanh(F.linear(first, branch.pooler.dense.weight, branch.pooler.dense.bias))
        record("pooler_output", pooled)

        proj0, _, proj2 = self.text_projection
        hidden = F.relu(F.linear(pooled, proj0.weight, proj0.bias))
        record("projection_hidden", hidden)
        projected = F.linear(hidden, proj2.weight, proj2.bias)
        record("projection_output", projected)
        embedding = F.normalize(projected, dim=-1, eps=NORMALIZE_EPS)
        record("embedding", embedding)
        return embedding

    def _layer(self, layer: _Layer, x: torch.Tensor, additive: Optional[torch.Tensor],
               prefix: str, record) -> torch.Tensor:
        config = self.config
        batch, tokens, hidden = x.shape
        heads, head_size = config.num_attention_heads, config.head_size
        attn = layer.attention.self

        def split_heads(t: torch.Tensor) -> torch.Tensor:  # [B, T, H] -> [B, heads, T, d]
            return t.view(batch, tokens, heads, head_size).transpose(1, 2)

        q = split_heads(F.linear(x, attn.query.weight, attn.query.bias))
        k = split_heads(F.linear(x, attn.key.weight, attn.key.bias))
        v = split_heads(F.linear(x, attn.value.weight, attn.value.bias))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(head_size)
        if additive is not None:
            scores = scores + additive
        probs = torch.softmax(scores, dim=-1)  # attention dropout: no-op at inference
        record(prefix + "attention_probs", probs)
        context = torch.matmul(probs, v).transpose(1, 2).reshape(batch, tokens, hidden)
        record(prefix + "attention_context", context)

        out = layer.attention.output  # dense, dropout (no-op), residual, LayerNorm
        attended = F.layer_norm(F.linear(context, out.dense.weight, out.dense.bias) + x,
                                (hidden,), out.LayerNorm.weight, out.LayerNorm.bias,
                                config.layer_norm_eps)
        record(prefix + "attention_output", attended)

        inner = F.gelu(F.linear(attended, layer.intermediate.dense.weight,
                                layer.intermediate.dense.bias))  # erf GELU
        record(prefix + "intermediate", inner)
        out = layer.output
        y = F.layer_norm(F.linear(inner, out.dense.weight, out.dense.bias) + attended,
                         (hidden,), out.LayerNorm.weight, out.LayerNorm.bias, config.layer_norm_eps)
        record(prefix + "output", y)
        return y


def position_ids_from_input_ids(input_ids: torch.Tensor, pad_id: int = PAD_ID) -> torch.Tensor:
    """RoBERTa's rule (fairseq's make_positions): every token that is not <pad> gets
    pad_id + (its rank among the non-pad tokens so far), counting from 1; <pad> gets
    pad_id. For a sequence without <pad>: 2, 3, 4, … A <pad> inside the sequence (the
    text "<pad>" tokenises to id 1) takes position 1 and does not advance the count."""
    real = input_ids.ne(pad_id).long()
    return torch.cumsum(real, dim=1) * real + pad_id


def pad_batch(sequences: Sequence[Sequence[int]], length: int = MAX_TOKENS) -> Tuple[torch.Tensor, torch.Tensor]:
    """What upstream's tokenizer call returns: ids padded with <pad> to `length`,
    attention mask 1 on the given tokens (all of them, even a literal <pad>), 0 after."""
    ids = torch.full((len(sequences), length), PAD_ID, dtype=torch.long)
    mask = torch.zeros((len(sequences), length), dtype=torch.long)
    for row, seq in enumerate(sequences):
        if len(seq) > length:
            raise ValueError(f"sequence {row} has {len(seq)} tokens, more than {length}")
        ids[row, :len(seq)] = torch.tensor(list(seq), dtype=torch.long)
        mask[row, :len(seq)] = 1
    return ids, mask


def check_ids(sequences: Sequence[Sequence[int]], config: TextConfig) -> None:
    for row, seq in enumerate(sequences):
        if not 1 <= len(seq) <= MAX_TOKENS:
            raise ValueError(f"sequence {row}: {len(seq)} tokens; 1 to {MAX_TOKENS} allowed")
        bad = [t for t in seq if not 0 <= t < config.vocab_size]
        if bad:
            raise ValueError(f"sequence {row}: ids {bad[:5]} outside [0, {config.vocab_size})")


@torch.no_grad()
def embed(model: ClapTextModel, sequences: Sequence[Sequence[int]], padded: bool = False) -> torch.Tensor:
    """Embeddings [N, 512] for N token-id sequences. padded=False: each sequence on its
    own, real tokens only. padded=True: upstream's way, the whole batch padded to 512
    with an attention mask."""
    check_ids(sequences, model.config)
    if padded:
        ids, mask = pad_batch(sequences)
        return model(ids, mask)
    return torch.cat([model(torch.tensor([list(seq)], dtype=torch.long)) for seq in sequences])


# ------------------------------------------------------------------ checkpoints

TEXT_PREFIXES = ("text_branch.", "text_projection.")
AUDIOSEP_PREFIX = "query_encoder.model."


def load_torch_state(path: str) -> Dict[str, torch.Tensor]:
    """The tensor dict of a torch.save file: its `state_dict` entry if it has one."""
    # weights_only: upstream's checkpoints and ours hold only plain data and tensors.
    checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    if isinstance(checkpoint, dict) and "state_dict" in checkpoint:
        return checkpoint["state_dict"]
    return checkpoint


def clap_text_tensors(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Text tensors of a CLAP checkpoint's state dict. Upstream's rule (factory.py
    load_state_dict): if the FIRST key starts with "module", drop 7 characters from
    every key (DistributedDataParallel's "module.")."""
    keys = list(state)
    if keys and keys[0].startswith("module"):
        state = {k[7:]: v for k, v in state.items()}
    return {k: v for k, v in state.items() if k.startswith(TEXT_PREFIXES)}


def audiosep_text_tensors(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Text tensors of an AudioSep Lightning checkpoint: `query_encoder.model.` + CLAP key."""
    inner = {k[len(AUDIOSEP_PREFIX):]: v for k, v in state.items() if k.startswith(AUDIOSEP_PREFIX)}
    return {k: v for k, v in inner.items() if k.startswith(TEXT_PREFIXES)}


def roberta_text_tensors(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Tensors of a Hugging Face roberta-base weights file, renamed to CLAP keys.
    RobertaForMaskedLM files prefix the body with `roberta.` (and add `lm_head.…`,
    ignored); a bare RobertaModel file has no prefix. from_pretrained strips the
    prefix the same way."""
    if any(k.startswith("roberta.") for k in state):
        body = {k[len("roberta."):]: v for k, v in state.items() if k.startswith("roberta.")}
    else:
        body = {k: v for k, v in state.items() if not k.startswith("lm_head.")}
    return {"text_branch." + k: v for k, v in body.items()}


def read_roberta_dir(path: str) -> Tuple[TextConfig, Optional[Dict[str, torch.Tensor]], Optional[str]]:
    """(config, weights renamed to CLAP keys or None, weights file or None) of a
    roberta-base folder. Only config.json is required."""
    with open(os.path.join(path, "config.json")) as f:
        config = TextConfig.from_hf_config(json.load(f))
    for name in ("model.safetensors", "pytorch_model.bin"):
        file = os.path.join(path, name)
        if os.path.exists(file):
            if name.endswith(".safetensors"):
                from safetensors.torch import load_file
                state = load_file(file)
            else:
                state = load_torch_state(file)
            return config, roberta_text_tensors(state), file
    return config, None, None


@dataclass
class StackResult:
    model: ClapTextModel
    source: Dict[str, str]        # CLAP key -> name of the layer whose value it holds
    overridden: Dict[str, List[str]]  # CLAP key -> every layer that supplied it, in order
    ignored: Dict[str, List[str]]  # layer name -> its keys the text model does not use


def build_from_layers(config: TextConfig, layers: Iterable[Tuple[str, Dict[str, torch.Tensor]]],
                      dtype: torch.dtype = torch.float32) -> StackResult:
    """Build the model from override layers, lowest first: each layer's value replaces
    what the layers before it gave. Every tensor the model needs must come from some
    layer; a wrong shape or a non-float weight is an error naming the key. Keys the
    text model does not use (position_ids, audio branch, logit scales, lm_head, …) are
    collected in `ignored`. (Upstream loads the CLAP checkpoint strictly, so there it
    must hold every text tensor; see tools/reference/README.md.)"""
    model = ClapTextModel(config).to(dtype)
    targets = model.state_dict()
    with torch.no_grad():
        for tensor in targets.values():
            tensor.fill_(float("nan"))
    source: Dict[str, str] = {}
    overridden: Dict[str, List[str]] = {}
    ignored: Dict[str, List[str]] = {}
    for name, tensors in layers:
        ignored[name] = []
        for key, value in tensors.items():
            if key not in targets:
                ignored[name].append(key)
                continue
            if tuple(value.shape) != tuple(targets[key].shape):
                raise ValueError(f"{name}: {key} has shape {list(value.shape)}, "
                                 f"the config needs {list(targets[key].shape)}")
            if not value.is_floating_point():
                raise ValueError(f"{name}: {key} has dtype {value.dtype}, expected floating point")
            with torch.no_grad():
                targets[key].copy_(value)
            source[key] = name
            overridden.setdefault(key, []).append(name)
    missing = [k for k in targets if k not in source]
    if missing:
        raise KeyError(f"no layer supplies {len(missing)} tensors: {missing[:8]}"
                       + (" …" if len(missing) > 8 else ""))
    return StackResult(model.eval(), source, overridden, ignored)


def load_stack(clap_checkpoint: Optional[str] = None, audiosep_checkpoint: Optional[str] = None,
               roberta_dir: Optional[str] = None, config: Optional[TextConfig] = None,
               dtype: torch.dtype = torch.float32) -> StackResult:
    """Upstream's override order: roberta-base weights → CLAP checkpoint → AudioSep
    checkpoint. The architecture comes from roberta_dir/config.json if given, else `config`."""
    layers: List[Tuple[str, Dict[str, torch.Tensor]]] = []
    if roberta_dir is not None:
        dir_config, weights, _ = read_roberta_dir(roberta_dir)
        if config is not None and config != dir_config:
            raise ValueError(f"{roberta_dir}/config.json disagrees with the given config")
        config = dir_config
        if weights is not None:
            layers.append(("roberta-base", weights))
    if config is None:
        raise ValueError("need roberta_dir (config.json) or a config")
    if clap_checkpoint is not None:
        layers.append(("clap", clap_text_tensors(load_torch_state(clap_checkpoint))))
    if audiosep_checkpoint is not None:
        layers.append(("audiosep", audiosep_text_tensors(load_torch_state(audiosep_checkpoint))))
    return build_from_layers(config, layers, dtype)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=sorted(CONFIGS_BY_NAME), default="full")
    args = parser.parse_args()
    model = ClapTextModel(CONFIGS_BY_NAME[args.config], persistent_position_ids=True)
    for key, tensor in model.state_dict().items():
        print(f"{key}\t{list(tensor.shape)}\t{str(tensor.dtype).replace('torch.', '')}")


if __name__ == "__main__":
    main()
