"""Exports the U-Net of our PyTorch reference (magnitude spectrogram -> mask logits) to ONNX, with one query's FiLM betas baked in, and proves onnxruntime computes what the reference computes.

    python3 tools/reference/export_onnx.py --checkpoint /tmp/audiosep-bench/full.ckpt \
        --embedding Tests/Fixtures/audiosep-tiny/embedding.f32 --output /tmp/unet.onnx \
        [--widths full|tiny] [--threads 2] [--check-frames 131,1024] [--tolerance 1e-5]

What the graph holds (opset 17), from input to output:
    input  "mag"          float32 [1, 1, T, 1025]  STFT magnitude, T frames (any T >= 1)
    bn0 over the 1025 bins -> zero frames appended up to a multiple of 32 -> Nyquist bin
    dropped -> pre_conv -> encoder_block1..6 -> conv_block7a -> decoder_block1..6 ->
    after_conv -> Nyquist bin re-added as logit 0 -> padded frames cropped
    output "mask_logits"  float32 [1, 3, T, 1025]  (magnitude, phase-real, phase-imag logits)
The 32 FiLM betas the forward pass uses are computed once, in PyTorch, from --embedding
and stored in the graph as constants: the graph is the per-query network our engine runs
after its own once-per-query FiLM step. Not in the graph: the STFT, the mask application
and the iSTFT (run_onnx.py computes the magnitude in numpy, untimed). The graph's metadata
records the embedding's sha256; run_onnx.py refuses a different embedding.

The check (fails loudly, exit 1): a random waveform per --check-frames entry runs through
the whole reference model with its trace on; onnxruntime (all graph optimisations) runs on
the traced magnitude and must give the traced after_conv logits (Nyquist re-added, crop
applied) within --tolerance times their largest |value|; run_onnx.py's numpy magnitude must
match torchlibrosa's to the same share. For scale it also prints how far each is from the
reference run in float64 (float32 PyTorch itself is ~1e-4 off on logits of ~100).
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from audiosep_reference import (  # noqa: E402
    CONDITION_SIZE,
    FREQ_BINS,
    HOP_SAMPLES,
    N_FFT,
    TIME_DOWNSAMPLE_FRAMES,
    WIDTHS_BY_NAME,
    AudioSepSeparator,
    BetaLookup,
    load_ss_model_state,
)
from lightning_checkpoint import load_state, ss_model_prefix  # noqa: E402
from run_onnx import magnitude_spectrogram, session_options  # noqa: E402

OPSET = 17
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_EMBEDDING = os.path.join(ROOT, "Tests/Fixtures/audiosep-tiny/embedding.f32")


class MaskLogitsNetwork(nn.Module):
    """The reference's U-Net with fixed betas: mag [1, 1, T, 1025] -> logits [1, 3, T, 1025].
    Calls the reference's own modules in SeparationBase.forward's order; the check below
    compares against SeparationBase.forward itself, not against this wrapper."""

    def __init__(self, model: AudioSepSeparator, condition: torch.Tensor):
        super().__init__()
        self.base = model.base
        with torch.no_grad():
            self.betas = {path: beta.detach().clone() for path, beta in model.film(condition).items()}

    def forward(self, mag: torch.Tensor) -> torch.Tensor:
        base = self.base
        x = base.bn0(mag.transpose(1, 3)).transpose(1, 3)
        frames = x.shape[2]
        # The reference's -(-frames // 32) * 32, written with non-negative operands: the classic
        # exporter turns // into ONNX Div, which truncates (-131 // 32 would give -4, not -5).
        padded_frames = (frames + TIME_DOWNSAMPLE_FRAMES - 1) // TIME_DOWNSAMPLE_FRAMES * TIME_DOWNSAMPLE_FRAMES
        x = F.pad(x, (0, 0, 0, padded_frames - frames))
        x = x[..., : FREQ_BINS - 1]
        x = base.pre_conv(x)
        lookup = BetaLookup(self.betas)
        skips = []
        for i in range(6):
            x, skip = base.get_submodule(f"encoder_block{i + 1}")(x, lookup, f"encoder_block{i + 1}")
            skips.append(skip)
        x, _ = base.conv_block7a(x, lookup, "conv_block7a")
        for j in range(6):
            x = base.get_submodule(f"decoder_block{j + 1}")(x, skips[5 - j], lookup, f"decoder_block{j + 1}")
        x = base.after_conv(x)
        self.beta_paths_used = lookup.used
        return F.pad(x, (0, 1))[:, :, :frames, :]


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export(args, model: AudioSepSeparator, condition: torch.Tensor) -> dict:
    import onnx

    network = MaskLogitsNetwork(model, condition).eval()
    example = torch.rand(1, 1, 131, FREQ_BINS)  # not a multiple of 32: the padding is traced as shape arithmetic
    started = time.perf_counter()
    with torch.no_grad():
        torch.onnx.export(network, (example,), args.output, opset_version=OPSET, dynamo=False,
                          input_names=["mag"], output_names=["mask_logits"],
                          dynamic_axes={"mag": {2: "frames"}, "mask_logits": {2: "frames"}},
                          do_constant_folding=True)
    exported = onnx.load(args.output)
    onnx.checker.check_model(exported)
    metadata = {
        "what": "AudioSep ResUNet30 mask-logits network (bn0 .. after_conv), FiLM betas baked in",
        "embedding_sha256": sha256_file(args.embedding),
        "checkpoint": os.path.abspath(args.checkpoint),
        "widths": args.widths,
        "exporter": f"torch {torch.__version__} torch.onnx.export(dynamo=False), opset {OPSET}",
    }
    for key, value in metadata.items():
        entry = exported.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(exported, args.output)
    ops = sorted({node.op_type for node in exported.graph.node})
    return {"export_seconds": round(time.perf_counter() - started, 2), "nodes": len(exported.graph.node),
            "op_types": ops, "initializers": len(exported.graph.initializer),
            "bytes": os.path.getsize(args.output), "betas_baked_in": len(network.beta_paths_used)}


def check(args, model: AudioSepSeparator, condition: torch.Tensor) -> dict:
    """onnxruntime on the reference's own magnitude vs the reference's own logits (and, for
    scale, the same reference in float64: how far float32 PyTorch itself is from exact)."""
    import onnxruntime as ort

    session = ort.InferenceSession(args.output, session_options(args.threads), providers=["CPUExecutionProvider"])
    model64 = copy.deepcopy(model).double()
    results = []
    generator = torch.Generator().manual_seed(17)
    for frames in args.check_frames:
        samples = (frames - 1) * HOP_SAMPLES + 300  # T = L // 320 + 1
        if samples <= N_FFT // 2:
            raise SystemExit(f"--check-frames {frames}: the reference needs at least 4 frames (reflect padding)")
        waveform = 0.3 * torch.randn(1, 1, samples, generator=generator)
        trace: dict = {}
        trace64: dict = {}
        with torch.inference_mode():
            model(waveform, condition, trace)
            model64(waveform.double(), condition.double(), trace64)
        mag = trace["mag"]
        assert mag.shape == (1, 1, frames, FREQ_BINS), mag.shape
        expected = F.pad(trace["after_conv"], (0, 1))[:, :, :frames, :].numpy()
        exact = F.pad(trace64["after_conv"], (0, 1))[:, :, :frames, :].numpy()
        got = session.run(["mask_logits"], {"mag": mag.numpy()})[0]
        if got.shape != expected.shape:
            raise SystemExit(f"FAILED: onnxruntime gave logits of shape {got.shape}, the reference {expected.shape}")
        diff = float(np.abs(got - expected).max())
        scale = float(np.abs(expected).max())
        torch_vs_f64 = float(np.abs(expected - exact).max())
        ort_vs_f64 = float(np.abs(got - exact).max())
        ours_mag = magnitude_spectrogram(waveform[0, 0].numpy())
        mag_diff = float(np.abs(ours_mag - mag[0, 0].numpy()).max())
        results.append({"frames": frames, "max_abs_diff": diff, "max_abs_logit": scale,
                        "relative": diff / scale, "torch_f32_vs_f64": torch_vs_f64, "onnx_vs_f64": ort_vs_f64,
                        "numpy_mag_max_abs_diff": mag_diff, "max_mag": float(mag.max())})
        print(f"check T={frames}: onnxruntime vs PyTorch reference logits max |diff| {diff:.3g} "
              f"(logits up to {scale:.3g}: {diff / scale:.2g} of the range); vs float64 PyTorch: "
              f"onnxruntime {ort_vs_f64:.3g}, float32 PyTorch {torch_vs_f64:.3g}; numpy vs torchlibrosa "
              f"magnitude max |diff| {mag_diff:.3g} (magnitudes up to {float(mag.max()):.3g})", file=sys.stderr)
        if not diff <= args.tolerance * scale:
            raise SystemExit(f"FAILED: onnxruntime differs from the PyTorch reference by {diff:.3g} "
                             f"(> {args.tolerance:g} x {scale:.3g}) at T={frames}; {args.output} is not trustworthy")
        if not mag_diff <= args.tolerance * float(mag.max()):
            raise SystemExit(f"FAILED: run_onnx.py's numpy magnitude differs from torchlibrosa's by {mag_diff:.3g}")
    return {"checks": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="/tmp/audiosep-bench/full.ckpt",
                        help="Lightning .ckpt, .safetensors, or a folder holding one")
    parser.add_argument("--embedding", default=DEFAULT_EMBEDDING, help="512 float32 (LE) query embedding")
    parser.add_argument("--output", required=True, help="the .onnx file to write")
    parser.add_argument("--widths", choices=sorted(WIDTHS_BY_NAME), default="full")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--check-frames", default="131,1024",
                        type=lambda s: [int(v) for v in s.split(",") if v],
                        help="frame counts of the random checks (comma-separated)")
    parser.add_argument("--tolerance", type=float, default=1e-5,
                        help="largest max |diff| of the logits accepted, as a share of their largest |value|")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    state = load_state(args.checkpoint)
    model = AudioSepSeparator(WIDTHS_BY_NAME[args.widths]).eval()
    load_ss_model_state(model, state, ss_model_prefix(state))
    del state
    embedding = np.fromfile(args.embedding, dtype="<f4")
    if embedding.size != CONDITION_SIZE:
        raise SystemExit(f"{args.embedding}: {embedding.size} floats, expected {CONDITION_SIZE}")
    condition = torch.from_numpy(embedding.copy())[None, :]

    result = {"onnx": args.output, "opset": OPSET, "torch": torch.__version__}
    result.update(export(args, model, condition))
    result.update(check(args, model, condition))
    import onnx
    import onnxruntime
    result.update({"onnx_version": onnx.__version__, "onnxruntime": onnxruntime.__version__})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
