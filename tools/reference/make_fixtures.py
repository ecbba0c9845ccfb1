"""Writes the golden test fixtures of the tiny AudioSep model into Tests/Fixtures/audiosep-tiny/ (deterministic: rerunning reproduces every byte).

Run from the repository root:
    python3 tools/reference/make_fixtures.py [--out Tests/Fixtures/audiosep-tiny]
Needs: pip install torch torchlibrosa safetensors
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections import OrderedDict
from typing import Dict

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from audiosep_reference import (  # noqa: E402
    DFT_MATRIX_KEYS,
    FREQ_BINS,
    TIME_DOWNSAMPLE_FRAMES,
    TINY_WIDTHS,
    AudioSepSeparator,
    load_ss_model_state,
)
from lightning_checkpoint import (  # noqa: E402
    calibration_mixture,
    lightning_state_dict,
    load_state,
    opaque_extras,
    random_embedding,
    randomize_,
    save_lightning_checkpoint,
    save_safetensors,
)

SEED = 20240611
# A prime number of samples (0.247 s): 25 STFT frames, padded to 32, so the time
# padding and the crop are exercised. Longer inputs do not fit the ~4 MB budget:
# every full-resolution map costs frames x 1024 floats (32 padded frames x 1024
# bins x 4 bytes = 128 KiB per channel), and there are a dozen such maps.
INPUT_SAMPLES = 7_919
# Digital silence long enough that frames 13 and 14 see only zeros: their power is
# below the 1e-10 floor, so mag = 1e-5 and cos = sin = 0 there (a NaN trap).
SILENCE = (3_000, 5_600)

# Tensors of the checkpoint stored as views, so a reader must honour storage
# offset, strides and shared storages (see make_strided_views).
FILM_TRANSPOSED = "ss_model.film.encoder_block1->conv_block1->beta1.weight"
CONV_CHANNELS_LAST = "ss_model.base.encoder_block1.conv_block1.conv1.weight"
SHARED_MEAN = "ss_model.base.encoder_block2.conv_block1.bn1.running_mean"
SHARED_VAR = "ss_model.base.encoder_block2.conv_block1.bn1.running_var"
SLICED = "ss_model.base.after_conv.weight"


def make_strided_views(state: "OrderedDict[str, torch.Tensor]") -> None:
    """Replace a few state tensors (in place, same values, same key order) by views:
    - FiLM weight [C, 512] as the transpose of a [512, C] storage: strides (1, C);
    - a 3x3 conv weight in channels-last layout: strides (9·I, 1, 3·I, I);
    - a BatchNorm's running_mean and running_var as rows of one [2, C] storage
      (var at storage offset C; torch.save writes the storage once);
    - after_conv.weight [3, C, 1, 1] as rows 1..3 of a [5, C, 1, 1] storage: offset C,
      and a storage longer than the tensor."""
    weight = state[FILM_TRANSPOSED]
    state[FILM_TRANSPOSED] = weight.t().contiguous().t()
    conv = state[CONV_CHANNELS_LAST]
    state[CONV_CHANNELS_LAST] = conv.contiguous(memory_format=torch.channels_last)
    pair = torch.stack([state[SHARED_MEAN], state[SHARED_VAR]])
    state[SHARED_MEAN], state[SHARED_VAR] = pair[0], pair[1]
    head = state[SLICED]
    padded = torch.cat([torch.full_like(head[:1], -7.0), head, torch.full_like(head[:1], 7.0)])
    state[SLICED] = padded[1:4]


def layout_of(tensor: torch.Tensor) -> str:
    if tensor.is_contiguous() and tensor.storage_offset() == 0 and \
            tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size():
        return "contiguous"
    return (f"strides={list(tensor.stride())} offset={tensor.storage_offset()} "
            f"storage_elements={tensor.untyped_storage().nbytes() // tensor.element_size()}")


def write_f32(path: str, tensor: torch.Tensor) -> None:
    tensor.detach().numpy().astype("<f4").tofile(path)


def fixture_input() -> torch.Tensor:
    x = calibration_mixture(INPUT_SAMPLES / 32000 + 0.01, SEED + 10)[..., :INPUT_SAMPLES].clone()
    x[..., SILENCE[0]:SILENCE[1]] = 0.0
    return x


def intermediates_for(model: AudioSepSeparator, trace: Dict[str, torch.Tensor],
                      mixture: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
    """Trace tensors with the batch dim dropped; single-channel spectral maps [T, F]."""
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for name, tensor in trace.items():
        if name.startswith("betas/"):
            out[name] = tensor[0]
        elif tensor.shape[1] == 1:
            out[name] = tensor[0, 0]  # [B, 1, T, F] -> [T, F]
        else:
            out[name] = tensor[0]  # [B, C, T, F] -> [C, T, F]
    real = trace["stft_real"]
    imag = trace["stft_imag"]
    with torch.no_grad():
        out["istft_roundtrip"] = model.base.istft(real, imag, mixture.shape[-1])[0]
    return OrderedDict((k, v.contiguous().to(torch.float32)) for k, v in out.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="Tests/Fixtures/audiosep-tiny")
    args = parser.parse_args()
    # One thread: the fixtures are then independent of the machine's core count.
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)

    embedding = random_embedding(SEED + 3)
    mixture = fixture_input()
    # BatchNorm statistics and the mask-logit scale are measured on the fixture's own
    # input and embedding, so its activations sit in the useful range of every nonlinearity.
    model = AudioSepSeparator(TINY_WIDTHS)
    randomize_(model, SEED, mixture, embedding)
    model.eval()
    trace: Dict[str, torch.Tensor] = {}
    with torch.no_grad():
        output = model(mixture, embedding, trace)

    # ---- checkpoint files
    state = lightning_state_dict(model, with_query_encoder=True, seed=SEED + 4,
                                 drop_keys=tuple("ss_model." + k for k in DFT_MATRIX_KEYS))
    make_strided_views(state)
    ckpt_path = os.path.join(args.out, "tiny.ckpt")
    save_lightning_checkpoint(ckpt_path, state, opaque_extras(SEED + 5))

    ss_state = OrderedDict((k, v.contiguous().clone()) for k, v in state.items()
                           if k.startswith("ss_model."))
    save_safetensors(os.path.join(args.out, "tiny.safetensors"), ss_state,
                     metadata={"format": "pt", "widths": json.dumps(TINY_WIDTHS.encoder),
                               "centre": str(TINY_WIDTHS.centre)})

    with open(os.path.join(args.out, "keys.txt"), "w") as f:
        f.write("# state_dict of tiny.ckpt, in checkpoint order: key, dtype, shape, storage layout\n")
        f.write("# omitted from the tiny fixtures (present in full checkpoints): "
                + ", ".join("ss_model." + k for k in DFT_MATRIX_KEYS) + "\n")
        for key, tensor in state.items():
            dtype = str(tensor.dtype).replace("torch.", "")
            f.write(f"{key}\t{dtype}\t{list(tensor.shape)}\t{layout_of(tensor)}\n")

    # Keep git from ever treating the binary fixtures as text (eol conversion, diffs).
    with open(os.path.join(args.out, ".gitattributes"), "w") as f:
        f.write("*.ckpt binary\n*.safetensors binary\n*.f32 binary\n")

    # ---- audio and embedding
    write_f32(os.path.join(args.out, "embedding.f32"), embedding[0])
    write_f32(os.path.join(args.out, "input.f32"), mixture[0, 0])
    write_f32(os.path.join(args.out, "output.f32"), output[0, 0])

    intermediates = intermediates_for(model, trace, mixture)
    frames = intermediates["stft_real"].shape[0]
    save_safetensors(os.path.join(args.out, "intermediates.safetensors"), intermediates,
                     metadata={"samples": str(INPUT_SAMPLES), "frames": str(frames),
                               "padded_frames": str(-(-frames // TIME_DOWNSAMPLE_FRAMES)
                                                    * TIME_DOWNSAMPLE_FRAMES),
                               "freq_bins": str(FREQ_BINS),
                               "layout": "batch dropped; [C, T, F] or [T, F]"})

    verify(args.out, model, mixture, embedding, output, state, intermediates)
    write_readme(args.out, intermediates, state)
    report(args.out)


def verify(out_dir, model, mixture, embedding, output, state, intermediates) -> None:
    """Reload what was written (with torch and the safetensors library, not our
    writers) and check it reproduces the model exactly."""
    from safetensors.torch import load_file
    reread = load_file(os.path.join(out_dir, "intermediates.safetensors"))
    assert set(reread) == set(intermediates)
    assert all(torch.equal(reread[k], v) for k, v in intermediates.items())
    loaded = torch.load(os.path.join(out_dir, "tiny.ckpt"), map_location="cpu", weights_only=True)
    ckpt_state = loaded["state_dict"]
    assert list(ckpt_state) == list(state), "checkpoint key order changed"
    assert ckpt_state[FILM_TRANSPOSED].stride() == (1, ckpt_state[FILM_TRANSPOSED].shape[0])
    assert ckpt_state[SHARED_VAR].storage_offset() == ckpt_state[SHARED_VAR].numel()
    assert ckpt_state[SHARED_VAR].untyped_storage().data_ptr() == \
        ckpt_state[SHARED_MEAN].untyped_storage().data_ptr(), "storage not shared after load"
    assert not ckpt_state[CONV_CHANNELS_LAST].is_contiguous()
    assert ckpt_state[SLICED].storage_offset() > 0
    for source in (os.path.join(out_dir, "tiny.ckpt"), os.path.join(out_dir, "tiny.safetensors")):
        fresh = AudioSepSeparator(TINY_WIDTHS).eval()
        load_ss_model_state(fresh, load_state(source))
        with torch.no_grad():
            again = fresh(mixture, embedding)
        assert torch.equal(again, output), f"{source} does not reproduce output.f32"
    stored = np.fromfile(os.path.join(out_dir, "output.f32"), dtype="<f4")
    assert np.array_equal(stored, output[0, 0].numpy())


def describe(name: str) -> str:
    """One line of meaning per intermediate tensor, for the fixture README."""
    if name.startswith("betas/"):
        path = name[len("betas/"):]
        unused = path.startswith("decoder_block") and path.count("->") == 1 and path.endswith("beta2")
        return (f"`film.{path}` applied to the embedding: W·e + b"
                + (" (never used by forward)" if unused else ""))
    if name.endswith("/skip"):
        return "residual block output before pooling: the skip the mirrored decoder concatenates"
    if name.endswith("/pool"):
        return "after average pooling: input of the next block"
    return {
        "stft_real": "torchlibrosa STFT, real part: Σ_n x_pad[320t+n]·w[n]·cos(2πkn/2048)",
        "stft_imag": "torchlibrosa STFT, imaginary part: −Σ_n x_pad[320t+n]·w[n]·sin(2πkn/2048)",
        "mag": "sqrt(max(re² + im², 1e-10)); 1e-5 exactly in the silent frames 13, 14",
        "cos": "re / mag (0 where the input is silent)",
        "sin": "im / mag",
        "bn0_out": "bn0 per frequency bin, before time padding and before dropping bin 1024",
        "pre_conv": "after zero-padding frames to 32, dropping bin 1024, and the 1x1 pre_conv",
        "conv_block7a": "centre residual block output (no pooling)",
        "after_conv": "mask logits, channels (magnitude, phase real, phase imag), BEFORE the "
                      "Nyquist bin is re-added and BEFORE cropping to 25 frames",
        "sep_real": "separated spectrum given to the ISTFT, real part (bin 1024 is exactly 0)",
        "sep_imag": "separated spectrum given to the ISTFT, imaginary part (bin 1024 is exactly 0)",
        "istft_roundtrip": "ISTFT(stft_real, stft_imag) trimmed to the input length (≈ input.f32)",
    }.get(name, "decoder block output (residual block after transposed conv and concat)")


def write_readme(out_dir: str, intermediates, state) -> None:
    """Tests/Fixtures/audiosep-tiny/README.md, regenerated with the fixtures."""
    files = []
    for name in sorted(os.listdir(out_dir)):
        if name == "README.md" or name.startswith("."):
            continue
        data = open(os.path.join(out_dir, name), "rb").read()
        files.append(f"| `{name}` | {len(data):,} | `{hashlib.sha256(data).hexdigest()[:16]}` |")
    total = sum(os.path.getsize(os.path.join(out_dir, n)) for n in os.listdir(out_dir)
                if n != "README.md" and not n.startswith("."))
    ss_keys = [k for k in state if k.startswith("ss_model.")]
    counters = [k for k in ss_keys if k.endswith("num_batches_tracked")]
    other_keys = [k for k in state if not k.startswith("ss_model.")]
    views = "\n".join(f"- `{k}` {list(state[k].shape)}: {layout_of(state[k])}"
                      for k in (FILM_TRANSPOSED, CONV_CHANNELS_LAST, SHARED_MEAN, SHARED_VAR, SLICED))
    rows = "\n".join(f"| `{name}` | {list(t.shape)} | {describe(name)} |"
                     for name, t in intermediates.items())
    frames = intermediates["stft_real"].shape[0]
    text = README_TEMPLATE.format(
        widths=list(TINY_WIDTHS.encoder), centre=TINY_WIDTHS.centre, seed=SEED,
        files="\n".join(files), total=total, samples=INPUT_SAMPLES,
        seconds=INPUT_SAMPLES / 32000, frames=frames, silence=SILENCE,
        ss_count=len(ss_keys), counter_count=len(counters),
        other_keys=", ".join(f"`{k}`" for k in other_keys),
        dft_keys=", ".join(f"`ss_model.{k}`" for k in DFT_MATRIX_KEYS),
        views=views, rows=rows)
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write(text)


README_TEMPLATE = """# audiosep-tiny: golden fixtures for the separation engine

Generated by `python3 tools/reference/make_fixtures.py` (seed {seed}, one thread; rerunning
reproduces every byte). Do not edit by hand: change the script and regenerate. The model is
`tools/reference/audiosep_reference.py`, proven bit-identical to upstream AudioSep's
ResUNet30 (see `tools/reference/README.md`).

**Model.** ResUNet30 + FiLM, exactly AudioSep's topology, narrow: encoder widths {widths},
centre {centre}; pre_conv 1 → 2, after_conv 2 → 3; condition size 512. Every block has a
1x1 shortcut exactly where the full model has one (encoder 2-5, all decoders), so the key
set equals the full model's; only shapes differ. Random weights with nontrivial BatchNorm
statistics (running_mean, running_var, weight, bias all non-default).

| file | bytes | sha256 (first 16 hex) |
|---|---:|---|
{files}

Total {total:,} bytes (plus this README).

## tiny.ckpt — a Lightning-style checkpoint

`torch.save` zip archive (root folder `tiny/`: `data.pkl`, `data/<n>` raw little-endian
storages stored uncompressed, `byteorder`, `version`, …). The pickle (protocol 2) uses the
globals `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`, `torch.FloatStorage`,
`torch.LongStorage`, and the opcodes PROTO, EMPTY_DICT/LIST/TUPLE, MARK, SETITEM(S),
APPEND(S), BINUNICODE, BININT/BININT1/BININT2, LONG1, BINFLOAT, NONE, NEWFALSE, TUPLE/1/2,
REDUCE, BUILD, BINPERSID, BINPUT/LONG_BINPUT, BINGET/LONG_BINGET, STOP.

Top-level dict: `state_dict` plus opaque extras a reader must skip: `epoch`, `global_step`,
`pytorch-lightning_version`, `loops`, `callbacks`, `optimizer_states` (Adam state with
tensors), `lr_schedulers`, `hyper_parameters` (nested; includes 2**40 and a negative int).

`state_dict` is an `OrderedDict` carrying a `_metadata` attribute (applied with BUILD), as
every `nn.Module.state_dict()` does. It holds, in this order (see `keys.txt`):
- {ss_count} `ss_model.…` tensors: float32, except the {counter_count} BatchNorm counters
  `….num_batches_tracked`, which are int64 scalars (shape `[]`).
- toy `query_encoder.…` tensors the separator must ignore (one is int64): {other_keys}.

Omitted on purpose: {dft_keys}. They are torchlibrosa's DFT matrices (12.6 M floats,
50 MB), fixed functions of n_fft that upstream's checkpoints carry because torchlibrosa
stores them as frozen parameters. A loader should accept them when present (full-size
checkpoints from `run_reference.py --make-full-checkpoint` have them) and not require them.

Stored as views, so a reader must honour storage offset and strides:
{views}

`running_mean` and `running_var` above share one storage (written once in the zip).

## tiny.safetensors

The same `ss_model.…` tensors under the same keys, contiguous, in checkpoint order:
F32, and I64 for the `num_batches_tracked` scalars (shape `[]`). Header metadata: format,
widths, centre.

## Audio and embedding (raw little-endian float32, no header)

- `embedding.f32`: 512 values, a random unit vector (L2 norm 1), the query embedding.
- `input.f32`: {samples} samples (a prime; {seconds:.3f} s) of 32 kHz mono: three tones, a
  chirp and white noise, peak 0.57, with digital silence (exact zeros) over samples
  [{silence[0]}, {silence[1]}), so STFT frames 13 and 14 are all-zero ({frames} frames in all,
  padded to 32 inside the network).
- `output.f32`: the reference model's separated waveform for that input and embedding,
  same length: one pass over the whole input (no chunking).

## intermediates.safetensors

All float32, batch dimension dropped, C order. Network maps are channel-first `[C, T, F]`
(T: frames, F: frequency bins); the single-channel spectral maps are `[T, F]`. T = {frames}
STFT frames, padded to 32 inside the U-Net; F = 1025 for spectra, 1024 inside the U-Net,
halved by each pooling. Header metadata: samples, frames, padded_frames, freq_bins.

| name | shape | meaning |
|---|---|---|
{rows}

## Expected agreement

An independent float32 implementation (FFT for the STFT, GEMM convolutions) is not
bit-identical. Measured differences between these fixtures and a float64 run of the same
model: STFT ≈ 1.2e-5 (values up to 62), network maps ≤ 3e-5 (values up to 24),
after_conv 3e-5, sep_real/sep_imag 1.6e-4 (values up to 49), output 2.6e-7 (peak 0.34).
`cos`/`sin` differ by up to 3.5e-4 in low-magnitude bins, where the phase is ill-conditioned;
compare `mag·cos` or use a looser bound there. Tolerances around 10x these leave room for
summation-order noise without hiding a real mistake (a wrong layer moves values by O(1)).
"""


def report(out_dir) -> None:
    total = 0
    for name in sorted(os.listdir(out_dir)):
        path = os.path.join(out_dir, name)
        size = os.path.getsize(path)
        total += size
        digest = hashlib.sha256(open(path, "rb").read()).hexdigest()[:16]
        print(f"{name:28s} {size:>9d} bytes  sha256 {digest}")
    print(f"{'total':28s} {total:>9d} bytes")


if __name__ == "__main__":
    main()
