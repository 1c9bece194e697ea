"""initlab performance benchmark: one command, one table per section.

The entry point is ``benchmarks/bench.py``; this package holds one module per section and the
helpers they share. Importing it (or any of its modules) runs nothing.

Sections (all by default; ``--section`` takes a comma-separated subset):

``engine``    training throughput of ``initlab.train.train`` (samples/s and GFLOP/s, counting
              ``6 * params * samples`` FLOPs) divided by numpy's own float32 matmul rate on
              ``(batch x width) @ (width x width)``, measured in the same process.
``stats``     the same runs with ``record=False`` against ``record=True`` (statistics at every
              epoch, the default): the cost of the per-layer statistics.
``torch``     the same MLP, initial weights, SGD-momentum, batch order and per-step per-layer
              gradient norms in PyTorch eager CPU (one thread); skipped when torch is not
              importable here and ``--torch-python`` does not name an interpreter that has it.
``pipeline``  Snakemake overhead of a finished default study (``results/tables/timings.csv``
              against its wall time) and the start-up cost of a job's process.
``scale``     ``snakemake -n`` planning time for 1,000- and 10,000-run grids; ``initlab
              aggregate`` and ``initlab report`` time and peak memory on synthetic studies of
              that many runs (copies of real runs).
``memory``    peak RSS of one ``initlab run`` training job at depth 30, width 64 and 1024.

Every figure is measured in this run; ratios compare numbers taken in the same process (engine,
stats) or minutes apart (torch). BLAS is pinned to one thread with ``threadpoolctl`` and
everything is float32. The machine's load average is printed with every section: on a shared
machine, other processes' load lowers every absolute number. See ``benchmarks/README.md``.

Modules
-------
``cli``           command line, the order of the sections, the JSON dump
``common``        paths, number formats, Markdown tables, timed child processes
``machine``       the header: CPU, memory, numpy, BLAS, load average
``workload``      the synthetic data set, the engine grid, parameter and FLOP counts, matmul rate
``engine_runs``   the timed ``train()`` calls that sections engine, stats and torch report on
``torch_process`` finding an interpreter with torch; the client of the PyTorch worker
``torch_worker``  the PyTorch worker script (run by that interpreter, never imported)
``engine``, ``stats``, ``pytorch``, ``pipeline``, ``scale``, ``memory``: one section each
``targets``       the closing table of targets and verdicts
"""
