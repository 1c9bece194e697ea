"""PyTorch as an independent oracle: ``BatchNorm1d``/``LayerNorm`` networks with autograd,
dropout and alpha-dropout coefficients, and ``torch.optim`` (SGD, RMSprop, Adam, AdamW).

PyTorch is not a dependency of initlab: the module is skipped when ``torch`` cannot be imported.
Everything runs in float64, so the tolerances only absorb different summation orders and
algebraically equal but differently rounded formulas (Adam's folded bias correction):
relative 1e-10 (float64 rounding over a few hundred operations is ~1e-13).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="PyTorch is an optional test oracle, not a dependency of initlab"
)

from initlab import initializers  # noqa: E402
from initlab.activations import ACTIVATIONS  # noqa: E402
from initlab.model import (  # noqa: E402
    BN_MOMENTUM,
    NORM_EPS,
    Gradients,
    Layer,
    alpha_dropout_coefficients,
    dropout_coefficients,
    init_mlp,
    init_norm_state,
    loss_and_grads,
    predict_logits,
)
from initlab.optim import DEFAULT_WEIGHT_DECAY, make_optimizer  # noqa: E402

RTOL = 1e-10
ATOL = 1e-13
SIZES = [6, 8, 7, 4]
TORCH_ACT = {
    "tanh": lambda: torch.nn.Tanh(),
    "selu": lambda: torch.nn.SELU(),
    "gelu": lambda: torch.nn.GELU(approximate="none"),  # initlab's GELU is the exact erf form
    "sigmoid": lambda: torch.nn.Sigmoid(),
}


def _t(x: np.ndarray) -> Any:
    return torch.from_numpy(np.ascontiguousarray(x))


def _close(got: np.ndarray, ref: Any, what: str) -> None:
    np.testing.assert_allclose(got, ref.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=what)


def _params(norm: str) -> list[Layer]:
    params = init_mlp(
        np.random.default_rng(0),
        SIZES,
        initializers.get("glorot_normal"),
        dtype=np.float64,
        bias_std=0.1,
        norm=norm,
    )
    rng = np.random.default_rng(1)
    for layer in params[:-1]:
        if layer.gamma is not None and layer.beta is not None:
            layer.gamma += 0.3 * rng.standard_normal(layer.gamma.shape)
            layer.beta += 0.3 * rng.standard_normal(layer.beta.shape)
    return params


def _torch_net(params: list[Layer], norm: str, act_name: str) -> tuple[Any, list[Any], list[Any]]:
    """The same network in PyTorch (Linear stores W transposed); returns (net, linears, norms)."""
    mods, linears, norms = [], [], []
    for i, p in enumerate(params):
        lin = torch.nn.Linear(*p.W.shape, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(_t(p.W.T))
            lin.bias.copy_(_t(p.b))
        mods.append(lin)
        linears.append(lin)
        if i == len(params) - 1:
            break
        n = p.W.shape[1]
        if norm != "none":
            layer = (
                torch.nn.BatchNorm1d(n, dtype=torch.float64)
                if norm == "batch_norm"
                else torch.nn.LayerNorm(n, dtype=torch.float64)
            )
            with torch.no_grad():
                layer.weight.copy_(_t(p.gamma))
                layer.bias.copy_(_t(p.beta))
            mods.append(layer)
            norms.append(layer)
        mods.append(TORCH_ACT[act_name]())
    return torch.nn.Sequential(*mods), linears, norms


def _torch_loss(logits: Any, y: np.ndarray, loss: str) -> Any:
    target = torch.from_numpy(y)
    if loss == "cross_entropy":
        return torch.nn.functional.cross_entropy(logits, target)
    onehot = torch.nn.functional.one_hot(target, logits.shape[1]).to(logits.dtype)
    return ((torch.softmax(logits, dim=1) - onehot) ** 2).sum(dim=1).mean()


def test_framework_defaults_match() -> None:
    """The constants initlab states it takes from PyTorch."""
    bn, ln = torch.nn.BatchNorm1d(3), torch.nn.LayerNorm(3)
    assert bn.eps == ln.eps == NORM_EPS and bn.momentum == BN_MOMENTUM
    assert torch.optim.AdamW([torch.zeros(1)]).defaults["weight_decay"] == 0.01
    assert DEFAULT_WEIGHT_DECAY["adamw"] == 0.01
    rms = torch.optim.RMSprop([torch.zeros(1)]).defaults
    assert (rms["alpha"], rms["eps"], rms["momentum"], rms["centered"]) == (0.99, 1e-8, 0, False)
    adam = torch.optim.Adam([torch.zeros(1)]).defaults
    assert adam["betas"] == (0.9, 0.999) and adam["eps"] == 1e-8


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("act_name", sorted(TORCH_ACT))
@pytest.mark.parametrize("norm", ["none", "batch_norm", "layer_norm"])
def test_network_matches_torch_autograd(norm: str, act_name: str, loss: str) -> None:
    """Training-mode loss and every gradient (W, b, gamma, beta, X) against autograd; then the
    running statistics after two batches and the evaluation-mode logits."""
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((10, SIZES[0])), rng.integers(0, SIZES[-1], 10)
    X2 = 0.5 + 2.0 * rng.standard_normal((7, SIZES[0]))
    params, act = _params(norm), ACTIVATIONS[act_name]
    state = init_norm_state(params)
    value, grads, _ = loss_and_grads(
        params, X, y, act, loss=loss, norm=norm, norm_state=state, input_grad=True
    )
    net, linears, norms = _torch_net(params, norm, act_name)
    net.train()
    Xt = _t(X.copy()).requires_grad_(True)
    ref = _torch_loss(net(Xt), y, loss)
    ref.backward()
    assert value == pytest.approx(ref.item(), rel=RTOL)
    for i, lin in enumerate(linears):
        _close(grads.dW[i], lin.weight.grad.T, f"dW{i + 1}")
        _close(grads.db[i], lin.bias.grad, f"db{i + 1}")
    for i, layer in enumerate(norms):
        _close(grads.dgamma[i], layer.weight.grad, f"dgamma{i + 1}")  # type: ignore[index]
        _close(grads.dbeta[i], layer.bias.grad, f"dbeta{i + 1}")  # type: ignore[index]
    _close(grads.dX, Xt.grad, "dX")  # type: ignore[arg-type]
    loss_and_grads(params, X2, y[:7], act, loss=loss, norm=norm, norm_state=state)
    with torch.no_grad():
        net(_t(X2))
        if norm == "batch_norm":
            for i, layer in enumerate(norms):
                _close(state.running_mean[i], layer.running_mean, f"running_mean{i + 1}")
                _close(state.running_var[i], layer.running_var, f"running_var{i + 1}")
        net.eval()
        logits = predict_logits(params, X, act, norm=norm, norm_state=state)
        _close(logits, net(_t(X)), "eval logits")


def test_batch_norm_eval_backward_matches_torch() -> None:
    """Evaluation mode: gradients through the running statistics (constants)."""
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((9, SIZES[0])), rng.integers(0, SIZES[-1], 9)
    params = _params("batch_norm")
    state = init_norm_state(params)
    for rm, rv in zip(state.running_mean, state.running_var, strict=True):
        rm[:] = rng.standard_normal(rm.shape)
        rv[:] = rng.uniform(0.5, 2.0, rv.shape)
    _, grads, _ = loss_and_grads(
        params, X, y, ACTIVATIONS["tanh"], norm="batch_norm", train=False, norm_state=state
    )
    net, linears, norms = _torch_net(params, "batch_norm", "tanh")
    for i, layer in enumerate(norms):
        layer.running_mean.copy_(_t(state.running_mean[i]))
        layer.running_var.copy_(_t(state.running_var[i]))
    net.eval()
    _torch_loss(net(_t(X)), y, "cross_entropy").backward()
    for i, lin in enumerate(linears):
        _close(grads.dW[i], lin.weight.grad.T, f"dW{i + 1}")
    for i, layer in enumerate(norms):
        _close(grads.dgamma[i], layer.weight.grad, f"dgamma{i + 1}")  # type: ignore[index]


@pytest.mark.parametrize("p", [0.05, 0.1, 0.3])
def test_dropout_coefficients_match_torch(p: float) -> None:
    """torch's masks differ from ours; its constants are read off its outputs: with the same
    seed, inputs 0 and 1 share a mask, so kept entries give c (= y1 - y0) and d (= y0), and
    dropped ones the constant c alpha' + d."""
    n = 20_000
    torch.manual_seed(0)
    y0 = torch.nn.functional.alpha_dropout(torch.zeros(n, dtype=torch.float64), p, True).numpy()
    torch.manual_seed(0)
    y1 = torch.nn.functional.alpha_dropout(torch.ones(n, dtype=torch.float64), p, True).numpy()
    kept = y1 != y0
    assert 0 < kept.mean() < 1
    c, d = alpha_dropout_coefficients(p)
    scale, fill, shift = dropout_coefficients(p, "alpha_dropout")
    np.testing.assert_allclose(y1[kept] - y0[kept], c, rtol=1e-13)
    np.testing.assert_allclose(y0[kept], d, rtol=1e-13)
    np.testing.assert_allclose(y0[~kept], scale * fill + shift, rtol=1e-13)
    yd = torch.nn.functional.dropout(torch.ones(n, dtype=torch.float64), p, True).numpy()
    assert set(np.unique(yd)) == {0.0, dropout_coefficients(p, "dropout")[0]}


# --- optimizers ---------------------------------------------------------------------------------

LR, MU, WD = 0.05, 0.9, 0.1


def _torch_optimizer(name: str, groups: list[dict[str, Any]]) -> Any:
    o = torch.optim
    if name == "sgd":
        return o.SGD(groups, lr=LR)
    if name in ("momentum", "nesterov"):
        return o.SGD(groups, lr=LR, momentum=MU, nesterov=name == "nesterov")
    if name == "rmsprop":
        return o.RMSprop(groups, lr=LR)
    return {"adam": o.Adam, "adamw": o.AdamW}[name](groups, lr=LR)


@pytest.mark.parametrize("decay", [False, True])
@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"])
def test_optimizer_matches_torch(name: str, decay: bool) -> None:
    """Four steps on a normalized layer (W, b, gamma, beta). Weight decay on W only, as a
    parameter group of its own; for adamw ``decay=False`` means PyTorch's default 0.01."""
    rng = np.random.default_rng(4)
    W, b, g, be = (
        rng.standard_normal((3, 2)),
        rng.standard_normal(2),
        1 + rng.random(2),
        rng.random(2),
    )
    params = [Layer(W.copy(), b.copy(), g.copy(), be.copy())]
    wd = WD if decay else None
    opt = make_optimizer(name, params, lr=LR, momentum=MU, weight_decay=wd)  # type: ignore[arg-type]
    tensors = [_t(x.copy()).requires_grad_(True) for x in (W, b, g, be)]
    w_group: dict[str, Any] = {"params": tensors[:1]}
    if decay:
        w_group["weight_decay"] = WD
    ref = _torch_optimizer(name, [w_group, {"params": tensors[1:], "weight_decay": 0.0}])
    for _ in range(4):
        grads = [rng.standard_normal(x.shape) for x in (W, b, g, be)]
        grads[0][0, 0] *= 1e-8  # an entry where eps matters
        opt.step(params, Gradients([grads[0]], [grads[1]], [], [grads[2]], [grads[3]]))
        for tensor, grad in zip(tensors, grads, strict=True):
            tensor.grad = _t(grad)
        ref.step()
        got = (params[0].W, params[0].b, params[0].gamma, params[0].beta)
        for what, mine, theirs in zip("W b gamma beta".split(), got, tensors, strict=True):
            _close(mine, theirs, f"{name} {what}")  # type: ignore[arg-type]
