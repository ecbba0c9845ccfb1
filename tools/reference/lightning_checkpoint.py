"""Random-weight AudioSep checkpoints for tests: deterministic weights, Lightning-style .ckpt writer, and a loader for .ckpt / .safetensors / folders.

Library module, imported by make_fixtures.py, run_reference.py and check_upstream.py.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections import OrderedDict
from typing import Dict, Tuple

import torch
import torch.nn as nn

from audiosep_reference import (
    CONDITION_SIZE,
    SAMPLE_RATE_HZ,
    AudioSepSeparator,
    DecoderBlock,
)

# --------------------------------------------------------------- random weights


def calibration_mixture(seconds: float, seed: int) -> torch.Tensor:
    """A deterministic test signal [1, 1, L]: three tones, a chirp and white noise,
    peak around 0.5. Used to set BatchNorm statistics, and as fixture input."""
    gen = torch.Generator().manual_seed(seed)
    samples = int(round(seconds * SAMPLE_RATE_HZ))
    t = torch.arange(samples, dtype=torch.float64) / SAMPLE_RATE_HZ
    freqs = 150.0 + 2500.0 * torch.rand(3, generator=gen, dtype=torch.float64)
    phases = 2 * math.pi * torch.rand(3, generator=gen, dtype=torch.float64)
    x = sum(0.12 * torch.sin(2 * math.pi * f * t + p) for f, p in zip(freqs, phases))
    # Linear chirp 300 Hz -> 9 kHz over the clip.
    rate = (9000.0 - 300.0) / max(seconds, 1e-3)
    x = x + 0.08 * torch.sin(2 * math.pi * (300.0 * t + 0.5 * rate * t * t))
    x = x + 0.05 * torch.randn(samples, generator=gen, dtype=torch.float64)
    return x.to(torch.float32)[None, None, :]


def random_embedding(seed: int) -> torch.Tensor:
    """A random L2-normalised query embedding [1, 512], like a CLAP text embedding."""
    gen = torch.Generator().manual_seed(seed)
    e = torch.randn(1, CONDITION_SIZE, generator=gen, dtype=torch.float64)
    return (e / e.norm()).to(torch.float32)


@torch.no_grad()
def randomize_(model: AudioSepSeparator, seed: int, calibration: torch.Tensor,
               condition: torch.Tensor) -> None:
    """Give `model` deterministic random weights whose activations stay in a useful
    range: He-scaled convolutions, β Linears producing O(0.5) shifts, BatchNorm
    statistics measured on `calibration` and then perturbed (so running_mean/var,
    weight and bias are all nontrivial), and after_conv scaled so the mask logits
    have a standard deviation of 1.5 on `calibration` (sigmoid/tanh neither flat nor
    saturated).

    The weights are the generator's draws plus measured statistics rounded to
    bfloat16, so summation-order noise (thread count, CPU) almost never changes a
    bit of them; make_fixtures.py also runs on one thread to rule it out."""
    gen = torch.Generator().manual_seed(seed)

    def normal_(tensor, std):
        tensor.copy_(torch.randn(tensor.shape, generator=gen) * std)

    def uniform_(tensor, low, high):
        tensor.copy_(low + (high - low) * torch.rand(tensor.shape, generator=gen))

    spectral = {id(m) for m in model.base.stft.modules()} | {id(m) for m in model.base.istft.modules()}
    for module in model.modules():
        if id(module) in spectral:
            continue  # torchlibrosa's DFT matrices stay as constructed
        if isinstance(module, nn.ConvTranspose2d):
            normal_(module.weight, math.sqrt(2.0 / module.in_channels))  # kernel = stride: no overlap
        elif isinstance(module, nn.Conv2d):
            fan_in = module.in_channels * module.kernel_size[0] * module.kernel_size[1]
            normal_(module.weight, math.sqrt(2.0 / fan_in))
            if module.bias is not None:
                normal_(module.bias, 0.1)
        elif isinstance(module, nn.Linear):
            normal_(module.weight, 0.5)  # |condition| = 1, so β ~ N(0, 0.25) + bias
            normal_(module.bias, 0.1)
        elif isinstance(module, nn.BatchNorm2d):
            uniform_(module.weight, 0.6, 1.4)
            normal_(module.bias, 0.2)

    # Measure BatchNorm input statistics with one training-mode pass (momentum None
    # = plain average, so one batch sets them exactly).
    batch_norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in batch_norms:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    model(calibration, condition)
    model.eval()
    for bn in batch_norms:
        bn.momentum = 0.01
        mean = bn.running_mean.to(torch.bfloat16).float()
        var = bn.running_var.to(torch.bfloat16).float().clamp_min(1e-3)
        noise = torch.randn(mean.shape, generator=gen)
        scale = 0.7 + 0.7 * torch.rand(var.shape, generator=gen)
        bn.running_mean.copy_(mean + 0.1 * var.sqrt() * noise)
        bn.running_var.copy_(var * scale)
        bn.num_batches_tracked.fill_(4_000_000)
    # The decoders' bn2 never sees data; give it plausible statistics anyway.
    for module in model.modules():
        if isinstance(module, DecoderBlock):
            normal_(module.bn2.running_mean, 0.5)
            uniform_(module.bn2.running_var, 0.5, 2.0)

    trace: Dict[str, torch.Tensor] = {}
    model(calibration, condition, trace)
    logit_std = float(trace["after_conv"].std())
    target = 1.5
    model.base.after_conv.weight.mul_(torch.tensor(target / logit_std).to(torch.bfloat16).float())


# ------------------------------------------------------------ Lightning format


class _FakeTextBranch(nn.Module):
    """A few tensors under upstream's `query_encoder.model.text_branch…` names (with
    toy shapes) so a loader shows it skips what the separator does not need."""

    def __init__(self):
        super().__init__()
        self.embeddings = nn.Module()
        self.embeddings.word_embeddings = nn.Embedding(16, 8)
        # RoBERTa keeps position_ids as an int64 buffer: a non-float tensor to skip.
        self.embeddings.register_buffer("position_ids", torch.arange(16)[None, :])
        self.pooler = nn.Module()
        self.pooler.dense = nn.Linear(8, 8)


class _LightningLike(nn.Module):
    """Registration order of AudioSep's LightningModule: ss_model, then
    query_encoder (waveform_mixer has no tensors)."""

    def __init__(self, ss_model: AudioSepSeparator, with_query_encoder: bool):
        super().__init__()
        self.ss_model = ss_model
        if with_query_encoder:
            self.query_encoder = nn.Module()
            self.query_encoder.model = nn.Module()
            self.query_encoder.model.text_branch = _FakeTextBranch()


def lightning_state_dict(model: AudioSepSeparator, with_query_encoder: bool, seed: int,
                         drop_keys: Tuple[str, ...] = ()) -> "OrderedDict[str, torch.Tensor]":
    """The `state_dict` entry of a Lightning checkpoint holding `model` as ss_model.
    It is a real nn.Module.state_dict(), so it carries the `_metadata` attribute
    (pickled with a BUILD opcode) exactly like upstream's checkpoints."""
    wrapper = _LightningLike(model, with_query_encoder)
    if with_query_encoder:
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in wrapper.query_encoder.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.02)
    state = wrapper.state_dict()
    for key in drop_keys:
        del state[key]
    return state


def opaque_extras(seed: int) -> dict:
    """Everything else a Lightning 2.0 checkpoint carries, with the kinds of values
    upstream's has (ints, floats incl. inf, None, bools, strings, tuples, nested
    dicts and lists, and a few small tensors). A reader must skip all of it."""
    gen = torch.Generator().manual_seed(seed)
    adam_state = {
        i: {"step": torch.tensor(4_000_000.0),
            "exp_avg": torch.randn(shape, generator=gen) * 1e-3,
            "exp_avg_sq": torch.rand(shape, generator=gen) * 1e-6}
        for i, shape in enumerate([(4, 3), (7,)])
    }
    return {
        "epoch": 399,
        "global_step": 4_000_000,
        "pytorch-lightning_version": "2.0.1.post0",
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {
            "total": {"ready": 400, "started": 400, "processed": 399, "completed": 399}}}},
        "callbacks": {
            "ModelCheckpoint{'monitor': None, 'mode': 'min', 'every_n_train_steps': 20000, "
            "'every_n_epochs': 0, 'train_time_interval': None}": {
                "monitor": None, "best_model_score": None, "best_model_path": "",
                "current_score": None, "dirpath": "/workspace/checkpoints/audiosep",
                "best_k_models": {}, "kth_best_model_path": "",
                "kth_value": torch.tensor(float("inf")), "last_model_path": "",
            }
        },
        "optimizer_states": [{
            "state": adam_state,
            "param_groups": [{
                "lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-08, "weight_decay": 0.01,
                "amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
                "differentiable": False, "fused": None, "initial_lr": 1e-3, "params": [0, 1],
            }],
        }],
        "lr_schedulers": [{
            "base_lrs": [1e-3], "last_epoch": 4_000_000, "verbose": False,
            "_step_count": 4_000_001, "_get_lr_called_within_step": False,
            "_last_lr": [1e-3], "lr_lambdas": [None],
        }],
        "hyper_parameters": {
            "waveform_mixer": None, "loss_function": "l1_wav", "optimizer_type": "AdamW",
            "learning_rate": 1e-3, "use_text_ratio": 1.0,
            "lr_lambda_func": "constant_warm_up",
            "config": {
                "model": {"query_net": "CLAP", "condition_size": 512, "model_type": "ResUNet30",
                          "input_channels": 1, "output_channels": 1},
                "data": {"sampling_rate": 32000, "segment_seconds": 5,
                         "loudness_norm": {"lower_db": -10, "higher_db": 10},
                         "datafiles": ["datafiles/template.json"]},
                # Values a pickle reader meets less often: a long int, a negative int.
                "random_seed": 1234, "seed_space": 2 ** 40, "offset_db": -3,
            },
        },
    }


def save_lightning_checkpoint(path: str, state: "OrderedDict[str, torch.Tensor]", extras: dict) -> None:
    """torch.save (zip format, uncompressed storages) of {state_dict, extras...}."""
    checkpoint = dict(extras)
    checkpoint["state_dict"] = state
    torch.save(checkpoint, path)


def save_safetensors(path: str, tensors: "OrderedDict[str, torch.Tensor]", metadata: Dict[str, str]) -> None:
    """A .safetensors file with tensors in the given order and sorted metadata.
    (safetensors' own writer orders metadata through a hash map, so its bytes vary
    from run to run; this writer is deterministic. The format: u64 little-endian
    header length, JSON header padded with spaces to a multiple of 8, raw data.)"""
    dtypes = {torch.float32: ("F32", "<f4"), torch.int64: ("I64", "<i8")}
    header: Dict[str, object] = {"__metadata__": dict(sorted(metadata.items()))}
    blobs, offset = [], 0
    for name, tensor in tensors.items():
        tag, little_endian = dtypes[tensor.dtype]
        data = tensor.detach().contiguous().numpy().astype(little_endian).tobytes()
        header[name] = {"dtype": tag, "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


# --------------------------------------------------------------------- loading


def load_state(path: str) -> Dict[str, torch.Tensor]:
    """State dict from a Lightning .ckpt, a .safetensors file, or a folder holding
    exactly one of either (a .ckpt is preferred)."""
    if os.path.isdir(path):
        for ext in (".ckpt", ".safetensors"):
            found = sorted(f for f in os.listdir(path) if f.endswith(ext))
            if len(found) == 1:
                return load_state(os.path.join(path, found[0]))
            if len(found) > 1:
                raise ValueError(f"{path} holds several {ext} files: {found}")
        raise ValueError(f"{path} holds no .ckpt or .safetensors file")
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file
        return load_file(path)
    # weights_only: our checkpoints and upstream's hold only plain data and tensors.
    checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    return checkpoint["state_dict"] if "state_dict" in checkpoint else checkpoint


def ss_model_prefix(state: Dict[str, torch.Tensor]) -> str:
    """`ss_model.` for Lightning checkpoints, `` for a bare ResUNet30 state dict."""
    return "ss_model." if any(k.startswith("ss_model.") for k in state) else ""
