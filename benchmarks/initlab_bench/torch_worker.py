"""PyTorch side of the benchmark: reads one request per line on stdin, answers one JSON line.

Run as a script by an interpreter that has torch and numpy (``torch_process.TorchWorker`` copies
it into a scratch folder and starts it there); the package never imports it. Its one argument is
the ``.npz`` file of the training and validation splits.
"""

import json
import sys
import time

import numpy as np
import torch

F = torch.nn.functional


def evaluate(model, X, y):
    """Return the mean cross-entropy and the accuracy of ``model`` on ``X``, ``y``."""
    with torch.no_grad():
        loss_sum, correct = 0.0, 0
        for s in range(0, X.shape[0], 4096):
            logits = model(X[s : s + 4096])
            loss_sum += float(F.cross_entropy(logits, y[s : s + 4096], reduction="sum"))
            correct += int((logits.argmax(1) == y[s : s + 4096]).sum())
    return loss_sum / X.shape[0], correct / X.shape[0]


def build_model(Ws, bs):
    """Return ``nn.Linear`` + ``nn.ReLU`` layers holding initlab's weights (transposed)."""
    layers = []
    for i, W in enumerate(Ws):
        lin = torch.nn.Linear(W.shape[0], W.shape[1], dtype=W.dtype)
        with torch.no_grad():
            lin.weight.copy_(W.T)
            lin.bias.copy_(bs[i])
        layers.append(lin)
        if i < len(Ws) - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def run(job, Ws, bs, orders, Xtr, ytr, Xva, yva):
    """Train once as initlab does; return the steps and the training loss at every checkpoint."""
    model = build_model(Ws, bs)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    opt = torch.optim.SGD(model.parameters(), lr=job["lr"], momentum=job["momentum"])
    n, batch, epochs = Xtr.shape[0], job["batch"], job["epochs"]
    norms = torch.empty(epochs * ((n + batch - 1) // batch), len(linears))
    losses, step = [], 0
    for e in range(epochs):
        losses.append(evaluate(model, Xtr, ytr)[0])  # a checkpoint: train and val splits
        evaluate(model, Xva, yva)
        order = orders[e]
        for s in range(0, n, batch):
            idx = order[s : s + batch]
            loss = F.cross_entropy(model(Xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            norms[step] = torch.stack([torch.linalg.vector_norm(m.weight.grad) for m in linears])
            opt.step()
            step += 1
    losses.append(evaluate(model, Xtr, ytr)[0])
    evaluate(model, Xva, yva)
    return step, losses


def answer(req, data):
    """Answer one request: one untimed run (a check) or a warm-up and timed runs."""
    job = req["job"]
    with np.load(req["weights"]) as z:
        Ws = [torch.from_numpy(z[f"W{i}"]) for i in range(job["n_layers"])]
        bs = [torch.from_numpy(z[f"b{i}"]) for i in range(job["n_layers"])]
        orders = torch.from_numpy(z["orders"])
    sfx = "64" if job["dtype"] == "float64" else ""
    args = (
        job,
        Ws,
        bs,
        orders,
        data["X_train" + sfx],
        data["y_train"],
        data["X_val" + sfx],
        data["y_val"],
    )
    if job["check"]:  # one untimed run
        steps, losses = run(*args)
        return {"times": [], "steps": steps, "losses": losses}
    run(*args)  # warm-up, untimed
    times = []
    while True:
        t = time.perf_counter()
        steps, losses = run(*args)
        times.append(time.perf_counter() - t)
        if len(times) >= job["max_reps"] or sum(times) >= job["budget"]:
            break
    return {"times": times, "steps": steps, "losses": losses}


def main():
    """Announce the torch version and thread count, then answer requests until stdin closes."""
    torch.set_num_threads(1)
    with np.load(sys.argv[1]) as z:
        data = {k: torch.from_numpy(z[k]) for k in z.files}
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        print(json.dumps(answer(json.loads(line), data)), flush=True)


if __name__ == "__main__":
    main()
