"""Developing large sets of raws on a Ray cluster (``pip install ray``).

    import chiaro.ray
    report = chiaro.ray.develop("/data/shoot/**/*.dng", "/data/out", address="auto",
                                format="jpeg", look="natural")

Each Ray task develops a small group of files with :func:`chiaro.develop_many` (the same
engine, options and report as on one machine). The driver keeps a bounded number of tasks in
flight, so memory stays flat however many files there are, and shows progress. Tasks are
formed largest files first and by bytes (a big raw is a task alone), so the slots stay busy
to the end.

Faults: outputs are written atomically and outputs that exist are skipped, so a rerun goes on
where the last one stopped. A file that fails is reported with its reason and never retried.
A task whose worker process dies (killed, out of memory, a lost node) is retried by Ray up to
``max_retries`` times; the retry skips the outputs its dead attempt finished, so every good
file is written exactly once (with ``overwrite=True`` a retry writes them again, atomically).

From the shell: ``chiaro batch INPUTS... --out-dir DIR --ray ADDRESS`` runs this module.
"""
import argparse
import functools
import json
import os
import sys
import time

import ray

from . import FileResult, Report, _Batch, _batch_options, _inputs

__all__ = ["develop"]


@functools.lru_cache(maxsize=4)
def _batch(options_json):
    """The engine's job for these options, built once per worker process."""
    return _Batch(options_json)


@ray.remote(retry_exceptions=False)
def _develop_group(inputs, out_dir, options_json, jobs):
    """One task: a group of files through the engine; its report rows."""
    rows, _seconds = _batch(options_json).run(inputs, out_dir, jobs)
    return rows


class _Progress:
    """A one-line counter on stderr (when it is a terminal, or when asked)."""

    def __init__(self, total, show):
        self.total, self.done, self.show, self.last = total, 0, show, 0.0

    def add(self, n):
        self.done += n
        now = time.monotonic()
        if self.show and (now - self.last > 0.2 or self.done == self.total):
            self.last = now
            print(f"\rchiaro: {self.done}/{self.total} files", end="", file=sys.stderr, flush=True)

    def close(self):
        if self.show and self.total:
            print(file=sys.stderr)


def develop(
    paths_or_glob,
    out_dir,
    address=None,
    *,
    group=4,
    jobs_per_task=1,
    max_in_flight=None,
    max_retries=3,
    progress=None,
    overwrite=False,
    recursive=False,
    **options,
):
    """Develops raw files into ``out_dir`` on a Ray cluster; returns a :class:`chiaro.Report`.

    ``paths_or_glob``: a glob pattern (``**`` recurses), a file or folder, or a list of them.
    ``address``: the cluster (``"auto"``, ``"ray://host:10001"``, ...); ``None`` uses the Ray
    this process already joined, else starts a local one on this machine's cores (and stops it
    at the end). At most ``group`` files make one task (fewer when they are big), each task using ``jobs_per_task`` CPUs and
    threads; at most ``max_in_flight`` tasks are queued at once (default: two per CPU slot).
    ``progress``: show a counter (default: when stderr is a terminal). The other keywords are
    :func:`chiaro.develop_many`'s options.
    """
    start = time.monotonic()
    inputs = _inputs(paths_or_glob, recursive)
    out_dir = os.fspath(out_dir)
    opts = json.dumps(_batch_options(options, overwrite))
    outputs = _Batch(opts).plan(inputs, out_dir)
    os.makedirs(out_dir, exist_ok=True)
    rows = {}
    todo = []
    for i, o in zip(inputs, outputs):
        if not overwrite and os.path.exists(o):
            rows[i] = FileResult(i, o, "skipped", None, [])
        else:
            todo.append(i)
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        slots = max(1, int(ray.cluster_resources().get("CPU", 1)) // max(1, jobs_per_task))
        limit = max_in_flight or 2 * slots
        remote = _develop_group.options(num_cpus=jobs_per_task, max_retries=max_retries)
        groups = _groups(todo, group, slots)
        bar = _Progress(len(todo), sys.stderr.isatty() if progress is None else progress)
        pending = {}
        output_of = dict(zip(inputs, outputs))
        while groups or pending:
            while groups and len(pending) < limit:
                g = groups.pop(0)
                pending[remote.remote(g, out_dir, opts, jobs_per_task)] = g
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                g = pending.pop(ref)
                for r in _group_rows(ref, g, output_of):
                    rows[r.input] = r
                bar.add(len(g))
        bar.close()
    finally:
        if started:
            ray.shutdown()
    # Every input has its row, even one a task came back without.
    lost = "no result came back for it"
    results = (rows.get(i) or FileResult(i, o, "failed", f"{i}: {lost}", []) for i, o in zip(inputs, outputs))
    return Report(results, time.monotonic() - start)


def _size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _groups(files, most, slots):
    """Tasks of at most `most` files, largest files first, each task about an eighth of a
    slot's share of the bytes (a big file makes a task alone), so no slot sits idle while
    another works through a long last task."""
    sized = sorted(((_size(f), f) for f in files), reverse=True)
    budget = sum(s for s, _ in sized) / (8 * slots) if sized else 0
    groups, cur, cur_bytes = [], [], 0
    for s, f in sized:
        if cur and (len(cur) >= most or cur_bytes + s > budget):
            groups.append(cur)
            cur, cur_bytes = [], 0
        cur.append(f)
        cur_bytes += s
    return groups + ([cur] if cur else [])


def _group_rows(ref, group, output_of):
    """A finished task's rows. An output that its (retried) task found already there was
    written by an earlier attempt of this run, so it counts as done; a task that failed as a
    whole (its worker died more often than retried) fails each of its files."""
    try:
        rows = ray.get(ref)
    except Exception as e:  # a Ray error: the task, not one file, failed
        why = f"the Ray task failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        return [FileResult(i, output_of[i], "failed", f"{i}: {why}", []) for i in group]
    return [FileResult(i, o, "done" if s == "skipped" else s, why, notes) for i, o, s, why, notes in rows]


def _main(argv=None):
    """``python -m chiaro.ray``: the driver ``chiaro batch --ray`` starts."""
    ap = argparse.ArgumentParser(prog="python -m chiaro.ray", description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="*")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--address", default=None, help="auto, local, or a cluster address")
    ap.add_argument("--options", default="{}", help="develop options as JSON (chiaro::batch::DevelopOptions)")
    ap.add_argument("--group", type=int, default=4)
    ap.add_argument("--inputs-from-stdin", action="store_true", help="read input paths from stdin, one a line")
    a = ap.parse_args(argv)
    inputs = list(a.inputs)
    if a.inputs_from_stdin:
        inputs += [line.rstrip("\n") for line in sys.stdin if line.strip()]
    options = json.loads(a.options)
    overwrite = bool(options.pop("overwrite", False))
    options.pop("skip_existing", None)
    report = develop(inputs, a.out_dir, address=a.address, group=a.group, overwrite=overwrite, **options)
    for path, reason in report.failed:
        print(f"chiaro: {reason}", file=sys.stderr)
    print(f"chiaro: {report.summary()}", file=sys.stderr)
    return 0 if report.ok else 1


if __name__ == "__main__":
    from chiaro import ray as _ray  # the importable module, so tasks pickle by reference

    sys.exit(_ray._main())
