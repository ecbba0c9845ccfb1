"""Our PyTorch reference of AudioSep's separation network (ResUNet30 + FiLM), the golden model the Swift engine is tested against.

Library module, imported by make_fixtures.py, run_reference.py and check_upstream.py.
Run it directly to print the state-dict key table of a model:
    python3 tools/reference/audiosep_reference.py [--widths full|tiny]

Written from a reading of Audio-AGI/AudioSep (models/resunet.py, models/base.py) and
torchlibrosa 0.1.0 (stft.py); no upstream code is copied. The module tree and
attribute names are chosen so that `state_dict()` yields exactly upstream's keys, in
upstream's order (the Lightning checkpoint prefixes them with `ss_model.`).
The spectral transform *is* torchlibrosa's STFT/ISTFT: that defines the semantics.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchlibrosa.stft import ISTFT, STFT

SAMPLE_RATE_HZ = 32000
N_FFT = 2048
HOP_SAMPLES = 320
FREQ_BINS = N_FFT // 2 + 1  # 1025
CONDITION_SIZE = 512
MASK_COMPONENTS = 3  # K: magnitude logit, phase real logit, phase imag logit
BN_MOMENTUM = 0.01  # irrelevant at inference; kept so training-mode use matches upstream
LEAKY_SLOPE = 0.01
# Five of the six encoder blocks halve time, so the padded frame count is a multiple of 32.
TIME_DOWNSAMPLE_FRAMES = 2 ** 5

# Per encoder block: (time, freq) average-pool kernel. The 6th pools frequency only.
ENCODER_POOLS: Tuple[Tuple[int, int], ...] = ((2, 2), (2, 2), (2, 2), (2, 2), (2, 2), (1, 2))


@dataclass(frozen=True)
class Widths:
    """Channel widths. `encoder[i]` is the output width of encoder_block{i+1};
    `centre` is conv_block7a's output width. Decoder block j mirrors encoder 7-j.
    pre_conv maps 1 -> encoder[0]; after_conv maps encoder[0] -> 3."""

    encoder: Tuple[int, int, int, int, int, int]
    centre: int


FULL_WIDTHS = Widths(encoder=(32, 64, 128, 256, 384, 384), centre=384)
# Strictly increasing up to block 5, then flat, like the full model: every block
# has a 1x1 shortcut exactly where the full model has one, so the tiny key set is
# the full key set (only shapes differ). Narrow enough for fixtures of a few MB.
TINY_WIDTHS = Widths(encoder=(2, 3, 4, 6, 8, 8), centre=8)

WIDTHS_BY_NAME = {"full": FULL_WIDTHS, "tiny": TINY_WIDTHS}

# The four torchlibrosa DFT matrices (12.6 M floats): constant functions of n_fft,
# stored in upstream's state dict because torchlibrosa keeps them as (frozen) parameters.
DFT_MATRIX_KEYS = (
    "base.stft.conv_real.weight",
    "base.stft.conv_imag.weight",
    "base.istft.conv_real.weight",
    "base.istft.conv_imag.weight",
)


# --------------------------------------------------------------------------- blocks


class ResidualBlock(nn.Module):
    """Upstream ConvBlockRes. Attribute names and registration order (bn1, bn2,
    conv1, conv2, shortcut) fix the checkpoint keys and their order.

    out = shortcut(x) + conv2(lrelu(bn2(conv1(lrelu(bn1(x) + b1))) + b2))
    where shortcut is a 1x1 conv with bias if in != out, else identity."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels, momentum=BN_MOMENTUM)
        self.bn2 = nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM)
        self.conv1 = nn.Conv2d(in_channels, out_channels, (3, 3), padding=(1, 1), bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, (3, 3), padding=(1, 1), bias=False)
        # No attribute at all when widths match: upstream has no `shortcut` key then.
        self.shortcut = (
            nn.Conv2d(in_channels, out_channels, (1, 1)) if in_channels != out_channels else None
        )

    def forward(self, x: torch.Tensor, beta1: torch.Tensor, beta2: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.leaky_relu(self.bn1(x) + beta1[:, :, None, None], LEAKY_SLOPE))
        h = self.conv2(F.leaky_relu(self.bn2(h) + beta2[:, :, None, None], LEAKY_SLOPE))
        identity = self.shortcut(x) if self.shortcut is not None else x
        return identity + h


class EncoderBlock(nn.Module):
    """Upstream EncoderBlockRes1B: one residual block, then average pooling.
    Returns (pooled, skip); skip is the pre-pool output the decoder concatenates."""

    def __init__(self, in_channels: int, out_channels: int, pool: Tuple[int, int]):
        super().__init__()
        self.conv_block1 = ResidualBlock(in_channels, out_channels)
        self.pool = pool

    def forward(self, x, betas: "BetaLookup", path: str):
        skip = self.conv_block1(x, betas(path + "->conv_block1->beta1"),
                                betas(path + "->conv_block1->beta2"))
        pooled = F.avg_pool2d(skip, kernel_size=self.pool) if self.pool != (1, 1) else skip
        return pooled, skip


class DecoderBlock(nn.Module):
    """Upstream DecoderBlockRes1B. Registration order conv1, bn1, conv_block2, bn2.

    up  = conv_transpose(lrelu(bn1(x) + b1))      kernel = stride = upsample, no bias
    out = residual_block(cat([up, skip], channels))

    bn2 and the β2 Linear exist in the checkpoint but the forward pass never uses them."""

    def __init__(self, in_channels: int, out_channels: int, upsample: Tuple[int, int]):
        super().__init__()
        self.conv1 = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=upsample,
                                        stride=upsample, bias=False)
        self.bn1 = nn.BatchNorm2d(in_channels, momentum=BN_MOMENTUM)
        self.conv_block2 = ResidualBlock(out_channels * 2, out_channels)
        self.bn2 = nn.BatchNorm2d(in_channels, momentum=BN_MOMENTUM)  # unused by forward

    def forward(self, x, skip, betas: "BetaLookup", path: str):
        up = self.conv1(F.leaky_relu(self.bn1(x) + betas(path + "->beta1")[:, :, None, None],
                                     LEAKY_SLOPE))
        h = torch.cat((up, skip), dim=1)  # upsampled first, then the skip
        return self.conv_block2(h, betas(path + "->conv_block2->beta1"),
                                betas(path + "->conv_block2->beta2"))


# ---------------------------------------------------------------------------- FiLM


def film_layout(widths: Widths) -> List[Tuple[str, int]]:
    """(FiLM path, channels) for every β Linear, in upstream's registration order.

    Upstream derives this by a pre-order walk of the base network: a module with
    `has_film` (ConvBlockRes, DecoderBlockRes1B) contributes beta1 = bn1 width and
    beta2 = bn2 width, then its children are visited in registration order; names
    are the module path joined with "->". This order is also forward order, except
    that each decoder's unused beta2 sits right after its beta1."""
    w = widths.encoder
    layout: List[Tuple[str, int]] = []
    ins = (w[0],) + w[:5]  # encoder_block1 takes pre_conv's output (width w[0])
    for i in range(6):
        path = f"encoder_block{i + 1}->conv_block1"
        layout += [(path + "->beta1", ins[i]), (path + "->beta2", w[i])]
    layout += [("conv_block7a->conv_block1->beta1", w[5]),
               ("conv_block7a->conv_block1->beta2", widths.centre)]
    for j, (cin, cout) in enumerate(decoder_channels(widths)):
        path = f"decoder_block{j + 1}"
        layout += [(path + "->beta1", cin), (path + "->beta2", cin),
                   (path + "->conv_block2->beta1", 2 * cout),
                   (path + "->conv_block2->beta2", cout)]
    return layout


def decoder_channels(widths: Widths) -> List[Tuple[int, int]]:
    """(in, out) channels of decoder_block1..6."""
    w = widths.encoder
    ins = (widths.centre, w[5], w[4], w[3], w[2], w[1])
    outs = (w[5], w[4], w[3], w[2], w[1], w[0])
    return list(zip(ins, outs))


class FiLM(nn.Module):
    """All β Linears (condition 512 -> channels), registered under their "->" paths,
    so their keys read `film.<path>.weight` / `.bias`. (Upstream registers them with
    add_module on the FiLM module itself; the nested dict it keeps is a plain
    attribute and contributes no keys.)"""

    def __init__(self, widths: Widths, condition_size: int = CONDITION_SIZE):
        super().__init__()
        self.paths = [path for path, _ in film_layout(widths)]
        for path, channels in film_layout(widths):
            self.add_module(path, nn.Linear(condition_size, channels))

    def forward(self, condition: torch.Tensor) -> Dict[str, torch.Tensor]:
        """condition [B, 512] -> {path: β [B, channels]}."""
        return {path: self.get_submodule(path)(condition) for path in self.paths}


class BetaLookup:
    """Callable wrapper over the β dict that records which paths forward used, in
    order, kept as SeparationBase.beta_paths_used (the decoders' beta2 never appears)."""

    def __init__(self, betas: Dict[str, torch.Tensor]):
        self.betas = betas
        self.used: List[str] = []

    def __call__(self, path: str) -> torch.Tensor:
        self.used.append(path)
        return self.betas[path]


# ------------------------------------------------------------------------ network


class SeparationBase(nn.Module):
    """Upstream ResUNet30_Base (the `base.` keys). Registration order matters for key
    order: stft, istft, bn0, pre_conv, encoder_block1..6, conv_block7a,
    decoder_block1..6, after_conv."""

    def __init__(self, widths: Widths):
        super().__init__()
        w = widths.encoder
        spectral = dict(n_fft=N_FFT, hop_length=HOP_SAMPLES, win_length=N_FFT, window="hann",
                        center=True, pad_mode="reflect", freeze_parameters=True)
        self.stft = STFT(**spectral)
        self.istft = ISTFT(**spectral)
        # bn0 normalises each of the 1025 frequency bins (applied with F as the channel axis).
        self.bn0 = nn.BatchNorm2d(FREQ_BINS, momentum=BN_MOMENTUM)
        self.pre_conv = nn.Conv2d(1, w[0], (1, 1))
        ins = (w[0],) + w[:5]
        for i in range(6):
            self.add_module(f"encoder_block{i + 1}", EncoderBlock(ins[i], w[i], ENCODER_POOLS[i]))
        self.conv_block7a = EncoderBlock(w[5], widths.centre, (1, 1))
        upsamples = tuple(reversed(ENCODER_POOLS))  # decoder j undoes encoder 7-j's pooling
        for j, (cin, cout) in enumerate(decoder_channels(widths)):
            self.add_module(f"decoder_block{j + 1}", DecoderBlock(cin, cout, upsamples[j]))
        self.after_conv = nn.Conv2d(w[0], MASK_COMPONENTS, (1, 1))

    def spectrogram(self, waveform: torch.Tensor):
        """waveform [B, L] -> (real, imag, mag, cos, sin), each [B, 1, T, 1025].
        T = L // 320 + 1 (center=True, reflect padding of 1024 on each side)."""
        real, imag = self.stft(waveform)
        # Power is floored at 1e-10 *before* the square root (so mag >= 1e-5), and
        # cos/sin divide by that floored mag: digital silence gives cos = sin = 0.
        mag = torch.clamp(real ** 2 + imag ** 2, 1e-10) ** 0.5
        return real, imag, mag, real / mag, imag / mag

    def forward(self, mixture: torch.Tensor, betas: Dict[str, torch.Tensor],
                trace: Optional[Dict[str, torch.Tensor]] = None) -> torch.Tensor:
        """mixture [B, 1, L] (mono), betas from FiLM -> separated waveform [B, 1, L].
        If `trace` is a dict, intermediate tensors are stored in it by name."""
        def keep(name, tensor):
            if trace is not None:
                trace[name] = tensor.detach().clone()

        samples = mixture.shape[-1]
        real, imag, mag, cos_in, sin_in = self.spectrogram(mixture[:, 0, :])
        for name, tensor in (("stft_real", real), ("stft_imag", imag), ("mag", mag),
                             ("cos", cos_in), ("sin", sin_in)):
            keep(name, tensor)

        # bn0 over frequency: move F to the channel axis and back.
        x = self.bn0(mag.transpose(1, 3)).transpose(1, 3)  # [B, 1, T, 1025]
        keep("bn0_out", x)

        frames = x.shape[2]
        padded_frames = -(-frames // TIME_DOWNSAMPLE_FRAMES) * TIME_DOWNSAMPLE_FRAMES
        x = F.pad(x, (0, 0, 0, padded_frames - frames))  # zero frames appended at the end
        x = x[..., : FREQ_BINS - 1]  # drop the Nyquist bin: 1024 bins halve cleanly 6 times

        x = self.pre_conv(x)
        keep("pre_conv", x)

        lookup = BetaLookup(betas)
        skips = []
        for i in range(6):
            x, skip = self.get_submodule(f"encoder_block{i + 1}")(x, lookup, f"encoder_block{i + 1}")
            keep(f"encoder_block{i + 1}/skip", skip)
            keep(f"encoder_block{i + 1}/pool", x)
            skips.append(skip)
        x, _ = self.conv_block7a(x, lookup, "conv_block7a")
        keep("conv_block7a", x)
        for j in range(6):
            x = self.get_submodule(f"decoder_block{j + 1}")(x, skips[5 - j], lookup,
                                                            f"decoder_block{j + 1}")
            keep(f"decoder_block{j + 1}", x)

        x = self.after_conv(x)  # [B, 3, padded_frames, 1024] mask logits
        keep("after_conv", x)
        # Re-add the Nyquist bin as logit 0 and crop the padded frames.
        x = F.pad(x, (0, 1))[:, :, :frames, :]

        self.beta_paths_used = lookup.used
        out_real, out_imag = apply_mask(x, mag, cos_in, sin_in)
        keep("sep_real", out_real)
        keep("sep_imag", out_imag)
        return self.istft(out_real, out_imag, samples)[:, None, :]


def apply_mask(logits: torch.Tensor, mag: torch.Tensor, cos_in: torch.Tensor,
               sin_in: torch.Tensor):
    """logits [B, 3, T, 1025]; mag/cos/sin [B, 1, T, 1025] -> separated (real, imag).

    |Y| = relu(|X| * sigmoid(l0)); the mask phase is (tanh l1, tanh l2) normalised to
    unit length by torchlibrosa.magphase, which divides by max(|.|, 1e-10) -- so a
    mask of (0, 0) gives phase (0, 0) and a zero output bin, not |X|/2. That is what
    happens on the Nyquist bin, whose logits are the zero padding: output bin 1024 is
    always exactly 0."""
    mask_mag = torch.sigmoid(logits[:, 0:1])
    mask_re = torch.tanh(logits[:, 1:2])
    mask_im = torch.tanh(logits[:, 2:3])
    mask_norm = torch.clamp((mask_re ** 2 + mask_im ** 2) ** 0.5, 1e-10)
    mask_cos = mask_re / mask_norm
    mask_sin = mask_im / mask_norm
    # Rotate the input phase by the mask phase (angle addition).
    out_cos = cos_in * mask_cos - sin_in * mask_sin
    out_sin = sin_in * mask_cos + cos_in * mask_sin
    out_mag = F.relu(mag * mask_mag)
    return out_mag * out_cos, out_mag * out_sin


class AudioSepSeparator(nn.Module):
    """Upstream ResUNet30, i.e. `ss_model` of AudioSep's Lightning module:
    `base` (the U-Net and spectral transforms) and `film` (the β Linears)."""

    def __init__(self, widths: Widths = FULL_WIDTHS, condition_size: int = CONDITION_SIZE):
        super().__init__()
        self.widths = widths
        self.base = SeparationBase(widths)
        self.film = FiLM(widths, condition_size)

    def forward(self, mixture: torch.Tensor, condition: torch.Tensor,
                trace: Optional[Dict[str, torch.Tensor]] = None) -> torch.Tensor:
        """mixture [B, 1, L] at 32 kHz, condition [B, 512] (L2-normalised CLAP text
        embedding) -> separated waveform [B, 1, L]."""
        betas = self.film(condition)
        if trace is not None:
            for path, beta in betas.items():
                trace["betas/" + path] = beta.detach().clone()
        return self.base(mixture, betas, trace)


# ------------------------------------------------------------------------ helpers


def load_ss_model_state(model: AudioSepSeparator, state: Dict[str, torch.Tensor],
                        prefix: str = "ss_model.") -> None:
    """Load `prefix`-ed tensors of a (Lightning) state dict into `model`.
    Other prefixes (query_encoder...) are ignored; the DFT matrices may be absent
    (the tiny fixtures omit them: torchlibrosa rebuilds them identically);
    anything else missing or unexpected is an error."""
    own = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    result = model.load_state_dict(own, strict=False)
    missing = [k for k in result.missing_keys if k not in DFT_MATRIX_KEYS]
    if missing or result.unexpected_keys:
        raise KeyError(f"checkpoint does not fit the model: missing {missing}, "
                       f"unexpected {result.unexpected_keys}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", choices=sorted(WIDTHS_BY_NAME), default="full")
    args = parser.parse_args()
    model = AudioSepSeparator(WIDTHS_BY_NAME[args.widths])
    for key, tensor in model.state_dict().items():
        print(f"ss_model.{key}\t{list(tensor.shape)}\t{str(tensor.dtype).replace('torch.', '')}")


if __name__ == "__main__":
    main()
