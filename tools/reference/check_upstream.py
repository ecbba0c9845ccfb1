"""Proves audiosep_reference.py equals upstream AudioSep's ResUNet30: same state-dict keys, order, shapes; same output and intermediates for the same random weights.

Run (upstream is read from a checkout you provide; it is never copied into this repo):
    git clone https://github.com/Audio-AGI/AudioSep /tmp/AudioSep   # or any copy of it
    python3 tools/reference/check_upstream.py --upstream /tmp/AudioSep [--threads 2]
Prints one JSON object per input length and exits non-zero on any mismatch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from audiosep_reference import FULL_WIDTHS, AudioSepSeparator  # noqa: E402
from lightning_checkpoint import calibration_mixture, random_embedding, randomize_  # noqa: E402

TOLERANCE = 1e-4  # absolute, on outputs of magnitude ~1; a real mismatch is far larger


def flatten_film(nested, prefix=""):
    """Upstream's nested β dict -> {"a->b->beta1": [B, C]} (drops the [:, :, None, None])."""
    flat = {}
    for name, value in nested.items():
        path = prefix + name
        if isinstance(value, dict):
            flat.update(flatten_film(value, path + "->"))
        else:
            flat[path] = value[:, :, 0, 0]
    return flat


def upstream_trace(model, mixture, condition):
    """Run upstream's ResUNet30 with forward hooks; names match our trace names."""
    trace = {}

    def hook(name, pick):
        def record(_module, _inputs, output):
            for suffix, tensor in pick(output).items():
                trace[name + suffix] = tensor.detach().clone()
        return record

    base = model.base
    handles = [
        base.bn0.register_forward_hook(hook("bn0_out", lambda o: {"": o.transpose(1, 3)})),
        base.pre_conv.register_forward_hook(hook("pre_conv", lambda o: {"": o})),
        base.conv_block7a.register_forward_hook(hook("conv_block7a", lambda o: {"": o[0]})),
        base.after_conv.register_forward_hook(hook("after_conv", lambda o: {"": o})),
    ]
    for i in range(1, 7):
        handles.append(getattr(base, f"encoder_block{i}").register_forward_hook(
            hook(f"encoder_block{i}", lambda o: {"/pool": o[0], "/skip": o[1]})))
        handles.append(getattr(base, f"decoder_block{i}").register_forward_hook(
            hook(f"decoder_block{i}", lambda o: {"": o})))
    with torch.no_grad():
        waveform = model({"mixture": mixture, "condition": condition})["waveform"]
        for path, beta in flatten_film(model.film(condition)).items():
            trace["betas/" + path] = beta
    for handle in handles:
        handle.remove()
    return waveform, trace


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="root of an Audio-AGI/AudioSep checkout")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20240611)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    sys.path.insert(0, os.path.abspath(args.upstream))
    from models.resunet import ResUNet30  # upstream, imported from the checkout

    ours = AudioSepSeparator(FULL_WIDTHS)
    randomize_(ours, args.seed, calibration_mixture(1.0, args.seed + 1), random_embedding(args.seed + 2))
    ours.eval()
    theirs = ResUNet30(input_channels=1, output_channels=1, condition_size=512).eval()

    our_state, their_state = ours.state_dict(), theirs.state_dict()
    ok = True
    if list(our_state) != list(their_state):
        print("key lists differ:", sorted(set(our_state) ^ set(their_state)), file=sys.stderr)
        ok = False
    for key in their_state:
        if key in our_state and (our_state[key].shape != their_state[key].shape
                                 or our_state[key].dtype != their_state[key].dtype):
            print(f"{key}: ours {our_state[key].shape} {our_state[key].dtype}, upstream "
                  f"{their_state[key].shape} {their_state[key].dtype}", file=sys.stderr)
            ok = False
    theirs.load_state_dict(our_state, strict=True)
    print(json.dumps({"keys": len(their_state), "same_keys_in_same_order": ok}))

    condition = random_embedding(args.seed + 3)
    # 41617 samples: 131 frames, padded to 160. 9920 samples: exactly 32 frames, no padding.
    for samples in (41617, 9920):
        mixture = calibration_mixture(samples / 32000, args.seed + 4)[..., :samples]
        with torch.no_grad():
            trace = {}
            our_wave = ours(mixture, condition, trace)
        their_wave, their_trace = upstream_trace(theirs, mixture, condition)
        diffs = {name: float((trace[name] - tensor).abs().max()) for name, tensor in their_trace.items()}
        worst = max(diffs, key=diffs.get)
        wave_diff = float((our_wave - their_wave).abs().max())
        report = {
            "samples": samples,
            "output_max_abs_diff": wave_diff,
            "output_peak": float(their_wave.abs().max()),
            "intermediates_compared": len(diffs),
            "worst_intermediate": worst,
            "worst_intermediate_max_abs_diff": diffs[worst],
        }
        print(json.dumps(report))
        ok = ok and wave_diff <= TOLERANCE and diffs[worst] <= TOLERANCE
    print("beta paths used by forward, in order:", ", ".join(ours.base.beta_paths_used))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
