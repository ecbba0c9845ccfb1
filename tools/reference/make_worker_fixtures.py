"""Writes Tests/Fixtures/worker-tiny/audiosep.ckpt: one AudioSep Lightning checkpoint holding both the
tiny separation network and the tiny CLAP text overrides, as upstream's audiosep_base_4M_steps.ckpt holds both.

The worker tests send the packaged worker's load_model (checkpoint_path, clap_checkpoint_path, roberta_dir)
with this file, Tests/Fixtures/clap-tiny/clap.pt and Tests/Fixtures/clap-tiny/roberta-base, so a text
query is encoded exactly as the clap-tiny fixtures say and separated by the audiosep-tiny network.
`ss_model.…` comes from audiosep-tiny/tiny.ckpt, `query_encoder.…` from clap-tiny/audiosep.ckpt (the toy
keys each file carries for the other half are dropped). Deterministic: rerunning reproduces every byte.

Run from the repository root:
    python3 tools/reference/make_worker_fixtures.py [--out Tests/Fixtures/worker-tiny]
--network, --text and --out merge any such pair: tools/bench-worker --make-model uses it at full size.
Needs: pip install torch torchlibrosa (lightning_checkpoint imports the separator)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections import OrderedDict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lightning_checkpoint import load_state, opaque_extras, save_lightning_checkpoint  # noqa: E402

SEED = 20240613


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="Tests/Fixtures/worker-tiny")
    parser.add_argument("--network", default="Tests/Fixtures/audiosep-tiny/tiny.ckpt")
    parser.add_argument("--text", default="Tests/Fixtures/clap-tiny/audiosep.ckpt")
    args = parser.parse_args()

    network = load_state(args.network)
    text = load_state(args.text)
    state: "OrderedDict" = OrderedDict()
    for key, tensor in network.items():
        if key.startswith("ss_model."):
            state[key] = tensor.clone()
    for key, tensor in text.items():
        if key.startswith("query_encoder."):
            state[key] = tensor.clone()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "audiosep.ckpt")
    save_lightning_checkpoint(path, state, opaque_extras(SEED))
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()[:16]
    networks = sum(k.startswith("ss_model.") for k in state)
    print(f"{path}: {os.path.getsize(path)} bytes, sha256 {digest}, {networks} ss_model tensors, "
          f"{len(state) - networks} query_encoder tensors")


if __name__ == "__main__":
    main()
