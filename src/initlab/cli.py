"""The ``initlab`` command line.

``initlab list``                 the catalog of initializers and activations
``initlab run ...``              train one network, write summary.json, timing.json, layers.csv
``initlab train-chunk ...``      train a chunk of a study's networks (the workflow's jobs)
``initlab prepare-data ...``     split and standardize a dataset once, for the workflow's jobs
``initlab theory ...``           mean-field predictions for an activation and initializer

Bad arguments exit with code 2 and one line naming the option, the value and what is allowed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from initlab import __version__, settings

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line (no usage dump) and exit with code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _fail(prog: str, message: str) -> NoReturn:
    sys.stderr.write(f"{prog}: error: {message}\n")
    raise SystemExit(2)


def _json_arg(option: str) -> Any:
    def parse(text: str) -> Any:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            raise argparse.ArgumentTypeError(f"{option} is not valid JSON ({err})") from None
        if not isinstance(value, dict):
            raise argparse.ArgumentTypeError(f"{option} must be a JSON object, got {text!r}")
        return value

    return parse


_RUN_FLAGS = {"learning_rate": "--lr"}
"""Command-line spellings that differ from ``--<field-with-dashes>``."""


def _flag(field: str) -> str:
    """The ``initlab run`` option of a run setting."""
    return _RUN_FLAGS.get(field, "--" + field.replace("_", "-"))


def _add_run_settings(run: argparse.ArgumentParser) -> None:
    """One option per run setting, its default and help generated from the study schema
    (:mod:`initlab.settings`): ``initlab run`` and the workflow cannot disagree."""
    for field in settings.RUN_SETTINGS:
        if field == "depth":
            continue
        flag = _flag(field)
        node = settings.setting(settings.RUN_SETTINGS[field])
        default = 0 if field == "seed" else settings.default(field)
        help_text = "seed index (default 0)" if field == "seed" else settings.describe(field)
        if field == "classes":
            run.add_argument(flag, dest=field, type=int, nargs="+", default=None, help=help_text)
        elif node.get("type") == "boolean":
            run.add_argument(flag, dest=field, action="store_true", help=help_text)
        else:
            kind = {"integer": int, "number": float}.get(node.get("type", ""), str)
            run.add_argument(flag, dest=field, type=kind, default=default, help=help_text)


def _add_run(sub: Any) -> None:
    run = sub.add_parser("run", help="train one network and record per-layer statistics")
    run.add_argument("--init", dest="initializer", help="initializer name (see `initlab list`)")
    run.add_argument("--activation", help="activation name (see `initlab list`)")
    run.add_argument("--depth", type=int, help="number of hidden layers")
    _add_run_settings(run)
    run.add_argument(
        "--init-def",
        dest="initializer_def",
        type=_json_arg("--init-def"),
        help='custom initializer as JSON, e.g. \'{"family": "variance_scaling", "scale": 1.5}\'',
    )
    run.add_argument(
        "--activation-def",
        type=_json_arg("--activation-def"),
        help='custom activation, e.g. \'{"family": "leaky_relu", "slope": 0.2}\'',
    )
    run.add_argument(
        "--spec-json",
        type=_json_arg("--spec-json"),
        help="the whole run as a JSON object (overrides the options above)",
    )
    run.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        help="train one run per seed into OUT/s<seed>/ (with --spec-json)",
    )
    run.add_argument("--data", type=Path, help="prepared dataset file from `prepare-data`")
    run.add_argument(
        "--source-params",
        type=Path,
        help="a transfer initializer's source folder: its trained network of seed s is read "
        "from DIR/s<s>/params.npz",
    )
    run.add_argument(
        "--save-params",
        action="store_true",
        help="also write the trained network to OUT/params.npz (a source of transfer runs)",
    )
    run.add_argument("--threads", type=int, default=1, help="BLAS threads (1)")
    run.add_argument("--out", type=Path, required=True, help="output folder")


def _add_train_chunk(sub: Any) -> None:
    chunk = sub.add_parser(
        "train-chunk", help="train a chunk of a study's networks into two Parquet files"
    )
    chunk.add_argument(
        "--chunk-json",
        type=_json_arg("--chunk-json"),
        required=True,
        help="the chunk as JSON: {specs: [...], seeds: [...], sources: {...}}, as the workflow "
        "writes it",
    )
    chunk.add_argument("--data", type=Path, required=True, help="prepared dataset file")
    chunk.add_argument("--threads", type=int, default=1, help="BLAS threads (1)")
    chunk.add_argument("--out", type=Path, required=True, help="the chunk's folder")


def _add_files(sub: Any) -> None:
    prep = sub.add_parser("prepare-data", help="split and standardize a dataset into one file")
    prep.add_argument("--dataset", default=settings.default("dataset"), help="dataset name")
    prep.add_argument("--out", type=Path, required=True, help="output .npz file")

    ws = sub.add_parser("write-study", help="write the resolved study configuration")
    ws.add_argument("--study-json", required=True, help="resolved configuration as JSON")
    ws.add_argument("--out", type=Path, required=True, help="output study.json")

    agg = sub.add_parser("aggregate", help="collect a study's runs into tables")
    agg.add_argument("--study", type=Path, required=True, help="study.json of the study")
    agg.add_argument("--out", type=Path, required=True, help="tables folder")

    rep = sub.add_parser("report", help="render the PDF report from a study's tables")
    rep.add_argument("--study", type=Path, required=True, help="study.json of the study")
    rep.add_argument("--tables", type=Path, required=True, help="tables folder")
    rep.add_argument("--figures", type=Path, help="also write PNG figures into this folder")
    rep.add_argument("--out", type=Path, required=True, help="output PDF")


def _add_theory(sub: Any) -> None:
    theory = sub.add_parser("theory", help="mean-field predictions (Poole et al. 2016)")
    theory.add_argument("--activation", required=True)
    theory.add_argument("--init", dest="initializer", default="he_normal")
    theory.add_argument("--depth", type=int, default=10)
    theory.add_argument("--width", type=int, default=settings.default("width"))
    theory.add_argument("--inputs", type=int, default=64, help="input dimension (64)")
    theory.add_argument("--bias-std", type=float, default=settings.default("bias_std"))


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="initlab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"initlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="list initializers and activations")
    _add_run(sub)
    _add_train_chunk(sub)
    _add_files(sub)
    _add_theory(sub)
    return parser


def _cmd_list(args: argparse.Namespace) -> int:
    from initlab.activations import ACTIVATIONS
    from initlab.initializers import INITIALIZERS

    print("Initializers (weights shaped (fan_in, fan_out)):")
    for name, init in INITIALIZERS.items():
        print(f"  {name:<18} {init.description}")
    print("\nActivations (E[phi'(z)^2] for z ~ N(0,1)):")
    for name, act in ACTIVATIONS.items():
        print(f"  {name:<18} {act.grad_second_moment:7.4f}  {act.description}")
    return 0


def _run_specs(args: argparse.Namespace) -> list[tuple[Any, Path]]:
    """The runs to train and their output folders."""
    from initlab.config import RunSpec

    if args.spec_json is not None:
        if args.seeds is None:
            return [(RunSpec.from_dict(args.spec_json), args.out)]
        return [
            (RunSpec.from_dict({**args.spec_json, "seed": seed}), args.out / f"s{seed}")
            for seed in dict.fromkeys(args.seeds)
        ]
    if args.seeds is not None:
        raise ValueError("--seeds goes with --spec-json; use --seed for a single run")
    for option, value in (
        ("--init", args.initializer),
        ("--activation", args.activation),
        ("--depth", args.depth),
    ):
        if value is None:
            raise ValueError(f"{option} is required (or give --spec-json)")
    fields = [f.name for f in dataclasses.fields(RunSpec) if hasattr(args, f.name)]
    return [(RunSpec(**{f: getattr(args, f) for f in fields}), args.out)]


def _source_params(spec: Any, folder: Path | None) -> Any:
    """The trained source network of a transfer run (``folder/s<seed>/params.npz``), or
    ``None`` for other runs."""
    from initlab import transfer

    if spec.transfer is None:
        if folder is not None:
            raise ValueError(f"--source-params: got {folder}; allowed only with a transfer init")
        return None
    if folder is None:
        raise ValueError(
            f"--source-params is required: {spec.initializer} copies layers of source "
            f"{spec.transfer['source']!r}"
        )
    return transfer.load_params(folder / f"s{spec.seed}" / transfer.PARAMS_FILE)


_OPTION_OF = {field: _flag(field) for field in settings.RUN_SETTINGS}
"""RunSpec fields whose errors are reported under the command-line option's name."""


def _start_training(prog: str, threads: int) -> None:
    """What both training commands do first: check ``--threads`` and let the allocator keep
    freed blocks (:func:`initlab.train.keep_freed_memory`)."""
    from initlab.train import keep_freed_memory

    if threads < 1:
        _fail(prog, f"--threads: got {threads}; allowed: an integer >= 1")
    keep_freed_memory()


def _cmd_run(args: argparse.Namespace) -> int:
    from threadpoolctl import threadpool_limits

    from initlab import data, io, transfer
    from initlab.train import outcome, train

    prog = "initlab run"
    _start_training(prog, args.threads)
    try:
        runs = _run_specs(args)
        if args.data is not None:
            dataset = data.load_prepared(args.data)
        else:
            data.check_dataset_name(runs[0][0].dataset)
            dataset = data.load_dataset(runs[0][0].dataset)
    except (ValueError, TypeError, OSError) as err:
        message = str(err)
        if args.spec_json is None:  # name the option the user typed, not the RunSpec field
            field, sep, rest = message.partition(":")
            if sep and field in _OPTION_OF:
                message = f"{_OPTION_OF[field]}:{rest}"
        _fail(prog, message)
    for spec, out in runs:
        try:
            source = _source_params(spec, args.source_params)
        except (ValueError, OSError) as err:
            _fail(prog, str(err))
        with threadpool_limits(limits=args.threads):
            result = train(spec, dataset, source_params=source)
        if args.save_params:
            transfer.save_params(result.params, out / transfer.PARAMS_FILE)
        io.write_columns_csv(out / "layers.csv", result.layers)
        io.write_json(out / "timing.json", result.timing)
        io.write_json(out / "summary.json", result.summary)
        status = outcome(result.summary)
        print(f"{spec.run_id}: {status}; {result.timing['wall_seconds']:.2f} s -> {out}")
    return 0


def _cmd_train_chunk(args: argparse.Namespace) -> int:
    from threadpoolctl import threadpool_limits

    from initlab import data
    from initlab.chunks import ChunkPlan, train_chunk

    prog = "initlab train-chunk"
    _start_training(prog, args.threads)
    try:
        plan = ChunkPlan(args.chunk_json)
        dataset = data.load_prepared(args.data)
    except (ValueError, TypeError, OSError) as err:
        _fail(prog, str(err))
    with threadpool_limits(limits=args.threads):
        n = train_chunk(plan, dataset, args.out, log=lambda line: print(line, flush=True))
    print(f"{n} runs -> {args.out}")
    return 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    from initlab import data

    try:
        data.check_dataset_name(args.dataset)
        ds = data.load_dataset(args.dataset)
    except (ValueError, OSError) as err:
        _fail("initlab prepare-data", str(err))
    data.save_prepared(ds, args.out)
    print(
        f"{args.dataset}: {len(ds.X_train)}/{len(ds.X_val)}/{len(ds.X_test)} train/val/test, "
        f"{ds.n_features} features, {ds.n_classes} classes -> {args.out}"
    )
    return 0


def _cmd_theory(args: argparse.Namespace) -> int:
    from initlab import activations, initializers, theory

    prog = "initlab theory"
    try:
        act = activations.get(args.activation)
        init = initializers.get(args.initializer)
        for key in ("depth", "width", "inputs"):
            if getattr(args, key) < 1:
                raise ValueError(f"--{key}: got {getattr(args, key)}; allowed: an integer >= 1")
    except ValueError as err:
        _fail(prog, str(err))
    sizes = (args.inputs, *([args.width] * args.depth), 10)
    try:
        pred = theory.predict_layers(act, init, sizes, bias_std=args.bias_std)
        mf = theory.network_mean_field(act, init, sizes, bias_std=args.bias_std)
    except ValueError as err:
        _fail(prog, f"--bias-std: {err}" if "bias_std" in str(err) else str(err))
    print(
        f"{args.initializer} + {args.activation}: sigma_w^2 = {mf.sigma_w2:.4g} (hidden layers), "
        f"sigma_b^2 = {mf.sigma_b2:.4g}"
    )
    print(
        f"  fixed point q* = {mf.q_star:.4g}, chi_1 = {mf.chi1:.4g}, c* = {mf.c_star:.4g}; "
        f"depth scales xi_q = {mf.xi_q:.4g}, xi_c = {mf.xi_c:.4g} (correlations), "
        f"xi_grad = {mf.xi_grad:.4g} (gradients); "
        f"critical sigma_w^2 = {theory.critical_sigma_w2(act, mf.sigma_b2):.4g}"
    )
    print(f"  {'layer':>5} {'q^l':>12} {'rms delta / output':>20}")
    for layer, q, d in zip(pred["layer"], pred["q"], pred["delta_rms_rel"], strict=True):
        print(f"  {layer:>5} {q:>12.5g} {d:>20.5g}")
    return 0


def _cmd_write_study(args: argparse.Namespace) -> int:
    from initlab import io

    try:
        config = json.loads(args.study_json)
    except json.JSONDecodeError as err:
        _fail("initlab write-study", f"--study-json is not valid JSON ({err})")
    io.write_json(args.out, config)
    return 0


def _cmd_aggregate(args: argparse.Namespace) -> int:
    from initlab.aggregate import aggregate

    tables = aggregate(args.study, args.out)
    print(f"{len(tables['runs'])} runs, {tables['layer_rows']} layer rows -> {args.out}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from initlab.report import write_report

    write_report(args.study, args.tables, args.out, figures_dir=args.figures)
    print(f"report -> {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``initlab`` console script.

    Every subcommand reports a problem with its input (a bad value, a missing or damaged file)
    as one line, ``initlab <command>: error: ...``, and exit code 2; nothing is written then.
    """
    args = _build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except BrokenPipeError:  # e.g. `initlab list | head`
        sys.stderr.close()
        return 0
    except (ValueError, OSError, KeyError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        _fail(f"initlab {args.command}", str(message))


def _dispatch(args: argparse.Namespace) -> int:
    commands = {
        "list": _cmd_list,
        "run": _cmd_run,
        "train-chunk": _cmd_train_chunk,
        "prepare-data": _cmd_prepare,
        "theory": _cmd_theory,
        "write-study": _cmd_write_study,
        "aggregate": _cmd_aggregate,
        "report": _cmd_report,
    }
    return commands[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
