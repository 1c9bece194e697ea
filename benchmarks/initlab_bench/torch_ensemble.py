"""PyTorch side of the ensemble benchmark, run in an interpreter that has torch.

    python torch_ensemble.py DATA.npz N_NETS WIDTH DEPTH BATCH EPOCHS REPEATS

Trains ``N_NETS`` MLPs of one shape (tanh, He-normal weights, zero biases, momentum SGD with
lr 0.01 and mu 0.9, softmax cross-entropy, mini-batches of ``BATCH`` from a fresh permutation
per epoch and network) on the arrays ``X``, ``y`` of ``DATA.npz`` two ways, on one thread:
an eager loop over the networks (one module and optimizer each), and the networks' parameters
stacked with ``torch.func.stack_module_state`` and one ``vmap`` of ``grad`` per step. Prints one
JSON object: the best of ``REPEATS`` wall times of each way and the steps each network took.
"""

from __future__ import annotations

import copy
import itertools
import json
import sys
import time

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, stack_module_state, vmap


def make_net(width: int, depth: int, n_in: int, n_out: int, gen: torch.Generator) -> nn.Module:
    sizes = [n_in, *([width] * depth), n_out]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        lin = nn.Linear(a, b)
        with torch.no_grad():
            lin.weight.normal_(0.0, (2.0 / a) ** 0.5, generator=gen)
            lin.bias.zero_()
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def eager(nets, X, y, batch, epochs, seed):
    opts = [torch.optim.SGD(n.parameters(), lr=0.01, momentum=0.9) for n in nets]
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    steps = 0
    for _ in range(epochs):
        orders = [torch.from_numpy(rng.permutation(len(X))) for _ in nets]
        for start in range(0, len(X), batch):
            for net, opt, order in zip(nets, opts, orders, strict=True):
                idx = order[start : start + batch]
                opt.zero_grad(set_to_none=True)
                loss_fn(net(X[idx]), y[idx]).backward()
                opt.step()
            steps += 1
    return steps


def vmapped(nets, X, y, batch, epochs, seed):
    params, buffers = stack_module_state(nets)
    base = copy.deepcopy(nets[0]).to("meta")

    def loss(p, b, xb, yb):
        return nn.functional.cross_entropy(functional_call(base, (p, b), (xb,)), yb)

    step_grads = vmap(grad(loss), in_dims=(0, 0, 0, 0))
    velocity = {k: torch.zeros_like(v) for k, v in params.items()}
    rng = np.random.default_rng(seed)
    steps = 0
    for _ in range(epochs):
        orders = torch.from_numpy(np.stack([rng.permutation(len(X)) for _ in nets]))
        for start in range(0, len(X), batch):
            idx = orders[:, start : start + batch]
            grads = step_grads(params, buffers, X[idx], y[idx])
            with torch.no_grad():
                for k, g in grads.items():
                    velocity[k].mul_(0.9).add_(g)
                    params[k].sub_(velocity[k], alpha=0.01)
            steps += 1
    return steps


def main() -> None:
    path, n_nets, width, depth, batch, epochs, repeats = sys.argv[1:8]
    n_nets, width, depth, batch = int(n_nets), int(width), int(depth), int(batch)
    epochs, repeats = int(epochs), int(repeats)
    torch.set_num_threads(1)
    with np.load(path) as data:
        X = torch.from_numpy(np.ascontiguousarray(data["X"], dtype=np.float32))
        y = torch.from_numpy(data["y"].astype(np.int64))
    n_out = int(y.max()) + 1
    out = {"torch": torch.__version__, "steps": 0}
    for name, fn in (("eager_loop", eager), ("vmap", vmapped)):
        best = float("inf")
        for r in range(repeats):
            gen = torch.Generator().manual_seed(r)
            nets = [make_net(width, depth, X.shape[1], n_out, gen) for _ in range(n_nets)]
            t0 = time.perf_counter()
            out["steps"] = fn(nets, X, y, batch, epochs, r)
            best = min(best, time.perf_counter() - t0)
        out[name] = best
    print(json.dumps(out))


if __name__ == "__main__":
    main()
