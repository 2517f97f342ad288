"""CPU benchmark: spacy_skd.structs vs torch-struct (linear-chain CRF, dependency CRFs).

For each structure and sentence length N the timed region is one training-style
step on fresh leaf tensors (requires_grad=True):

    build the distribution  ->  log partition  ->  marginals  ->  backward(log Z.sum())

* ours: the spacy_skd.structs class is constructed INSIDE the timed region (its
  constructor validates and masks the inputs, which is part of its cost).
* torch-struct: its log-potentials are built (layout conversion from the same
  scores) OUTSIDE the timed region, as a leaf tensor; its distribution object is
  constructed inside (that is only attribute assignment).

Run `python bench/structs.py --help` for the options. On a machine shared with
other work, `OMP_NUM_THREADS=1 python bench/structs.py --threads 1 --clock thread`
times the CPU time of the one thread doing the work instead of wall time.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
import typer

# Make `spacy_skd` importable when the script is run from a checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from spacy_skd.structs import DependencyCRF, LinearChainCRF  # noqa: E402

try:
    import torch_struct
    from torch_struct.deptree import deptree_nonproj, deptree_part
except ImportError:  # pragma: no cover
    torch_struct = None

# torch-struct's distributions do not define `arg_constraints`.
warnings.filterwarnings("ignore", message=".*does not define `arg_constraints`.*")

app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0])


# --------------------------------------------------------------------------- timing


# 'thread' counts only the CPU time of the calling thread, so on a shared machine
# the time slices other processes take do not land in the timings; with one torch
# thread all of a step's work runs on the calling thread.
CLOCKS = {"wall": time.perf_counter, "thread": time.thread_time}


def time_in_rounds(
    cases: dict, warmup: int, repeats: int, rounds: int, clock=time.perf_counter
) -> dict:
    """Median ms (by `clock`) of each case `name -> (make_inputs, step)`, timing
    `step(*make_inputs())` with the inputs built outside the timed region, anew for
    every call (fresh leaves, no stale .grad).

    The `repeats` timed calls of a case are split over `rounds` blocks; the cases
    take turns block by block (A B C, A B C, ...), so a slow spell of the machine
    hits them alike, while within a block a case runs back to back after
    `warmup` untimed calls (so one library's memory churn does not land in the
    other's timings). A case that raises is reported as 'fails: <short error>'."""
    results, times = {}, {name: [] for name in cases}
    rounds = max(1, min(rounds, repeats))
    per_round = [repeats // rounds + (r < repeats % rounds) for r in range(rounds)]
    for count in per_round:
        for name, (make_inputs, step) in cases.items():
            if name in results:  # failed before
                continue
            try:
                for _ in range(warmup):
                    step(*make_inputs())
                for _ in range(count):
                    inputs = make_inputs()
                    start = clock()
                    step(*inputs)
                    times[name].append(clock() - start)
            except Exception as exc:  # noqa: BLE001 - the failure is the result
                results[name] = f"fails: {short_error(exc)}"
    for name, values in times.items():
        if name not in results:
            results[name] = (statistics.median(values) * 1e3, relative_spread(values))
    return results


def relative_spread(values: list) -> float | None:
    """Interquartile range over median (None for fewer than 4 values)."""
    if len(values) < 4:
        return None
    q1, _, q3 = statistics.quantiles(values, n=4)
    return (q3 - q1) / statistics.median(values)


def split_result(value):
    """((ms, spread), None) or ((None, None), 'fails: ...')."""
    return ((None, None), value) if isinstance(value, str) else (value, None)


def short_error(exc: BaseException, width: int = 70) -> str:
    text = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return text if len(text) <= width else text[: width - 3] + "..."


def auto_repeats(n: int, kind: str) -> int:
    """Default repeats: more for cheap cases, fewer for expensive ones."""
    if kind == "proj":  # Eisner in Python loops: O(N) steps, both libraries
        return 20 if n <= 20 else 10 if n <= 40 else 7
    return 30 if n <= 20 else 20 if n <= 40 else 15


# --------------------------------------------------------------------------- inputs


def make_lengths(batch: int, n: int, mixed: bool, gen: torch.Generator) -> torch.Tensor:
    """All sentences of length n, or lengths uniform in [2, n] with one of length n
    (torch-struct's linear chain requires max(lengths) == N, and its folding of the
    first emission into the first edge needs n >= 2)."""
    if not mixed:
        return torch.full((batch,), n, dtype=torch.long)
    lengths = torch.randint(2, n + 1, (batch,), generator=gen)
    lengths[0] = n
    return lengths


# Linear chain ------------------------------------------------------------------


def ts_chain_potentials(emissions: torch.Tensor, transitions: torch.Tensor) -> torch.Tensor:
    """torch-struct's `[B, N-1, C, C]` log-potentials, `phi[b, n, z_{n+1}, z_n]`,
    equivalent to our (emissions [B,N,L], transitions [prev, next], no start/end):
    phi[n, c, a] = transitions[a, c] + emissions[n+1, c], and the first emission
    emissions[0, a] folded into edge 0."""
    _, n, _ = emissions.shape
    pot = transitions.transpose(-1, -2).unsqueeze(-3) + emissions[:, 1:, :, None]
    first = pot[:, :1] + emissions[:, :1, None, :]
    return torch.cat([first, pot[:, 1:]], dim=1) if n > 1 else first


def ts_chain_unary(edge_marginals: torch.Tensor) -> torch.Tensor:
    """`[B, N-1, C, C]` edge marginals `[n, z_{n+1}, z_n]` -> `[B, N, C]` unary."""
    first = edge_marginals[:, :1].sum(-2)  # P(z_0) = sum over z_1
    rest = edge_marginals.sum(-1)  # P(z_{n+1}) = sum over z_n
    return torch.cat([first, rest], dim=1)


# Dependency ----------------------------------------------------------------------


def ts_arc_layout(arcs: torch.Tensor) -> torch.Tensor:
    """Ours `[B, N+1, N+1]` `[head, dep]`, ROOT = index 0  ->  torch-struct's
    `[B, N, N]` `[head, dep]` over words, with the ROOT->d score on the diagonal."""
    n = arcs.shape[-1] - 1
    out = arcs[:, 1:, 1:].clone()
    idx = torch.arange(n)
    out[:, idx, idx] = arcs[:, 0, 1:]
    return out


# --------------------------------------------------------------------------- cases


@dataclass
class Row:
    structure: str
    n: str
    ours_ms: float | None
    ts_ms: float | None
    ts_note: str | None = None
    diff32: float | None = None
    diff64: float | None = None
    dlogz64: float | None = None
    repeats: int = 0
    spread: tuple = (None, None)
    eps0: tuple | None = None


def max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.detach().double() - b.detach().double()).abs().max().item()


def chain_rows(n, lengths, batch, labels, warmup, repeats, rounds, gen, label, clock):
    emissions = torch.randn(batch, n, labels, generator=gen)
    transitions = torch.randn(labels, labels, generator=gen)

    def ours_inputs():
        return (emissions.clone().requires_grad_(), transitions.clone().requires_grad_())

    def ours_step(e, t, pair=False):
        dist = LinearChainCRF(e, t, lengths)
        _ = dist.log_partition
        _ = dist.marginals
        if pair:
            _ = dist.pair_marginals
        dist.log_partition.sum().backward()

    def ours_kd_step(e, t):
        # teacher: marginals of constant scores; student: log Z and its backward
        teacher = LinearChainCRF(e.detach(), t.detach(), lengths)
        _ = teacher.marginals, teacher.pair_marginals
        LinearChainCRF(e, t, lengths).log_partition.sum().backward()

    def ts_inputs():
        return (ts_chain_potentials(emissions, transitions).requires_grad_(),)

    def ts_step(pot):
        dist = torch_struct.LinearChainCRF(pot, lengths=lengths)
        _ = dist.partition
        _ = dist.marginals
        dist.partition.sum().backward()

    def ts_kd_step(pot):
        _ = torch_struct.LinearChainCRF(pot.detach(), lengths=lengths).marginals
        torch_struct.LinearChainCRF(pot, lengths=lengths).partition.sum().backward()

    timed = time_in_rounds(
        {
            "ours": (ours_inputs, ours_step),
            "ours+pair": (ours_inputs, lambda e, t: ours_step(e, t, pair=True)),
            "ts": (ts_inputs, ts_step),
            "ours-kd": (ours_inputs, ours_kd_step),
            "ts-kd": (ts_inputs, ts_kd_step),
        },
        warmup,
        repeats,
        rounds,
        clock,
    )
    (ours_ms, ours_sp), (pair_ms, pair_sp) = timed["ours"], timed["ours+pair"]
    (ts_ms, ts_sp), ts_note = split_result(timed["ts"])
    kd_ms, kd_sp = timed["ours-kd"]
    (ts_kd_ms, ts_kd_sp), ts_kd_note = split_result(timed["ts-kd"])

    diffs = {}
    for dtype in (torch.float32, torch.float64):
        e, t = emissions.to(dtype), transitions.to(dtype)
        ours = LinearChainCRF(e, t, lengths)
        try:
            ts = torch_struct.LinearChainCRF(
                ts_chain_potentials(e, t).requires_grad_(), lengths=lengths
            )
            edge = ts.marginals
            diffs[dtype] = (
                max_abs(ours.marginals, ts_chain_unary(edge)),
                max_abs(ours.pair_marginals, edge.transpose(-1, -2)),
                max_abs(ours.log_partition, ts.partition),
            )
        except Exception:  # noqa: BLE001
            diffs[dtype] = (None, None, None)
    d32, d64 = diffs[torch.float32], diffs[torch.float64]
    return [
        Row(
            f"linear-chain CRF, L={labels}",
            label,
            ours_ms,
            ts_ms,
            ts_note,
            d32[0],
            d64[0],
            d64[2],
            repeats,
            (ours_sp, ts_sp),
        ),
        Row(
            f"linear-chain CRF, L={labels}, ours + pair_marginals",
            label,
            pair_ms,
            ts_ms,
            ts_note,
            d32[1],
            d64[1],
            d64[2],
            repeats,
            (pair_sp, ts_sp),
        ),
        Row(
            f"linear-chain CRF, L={labels}, KD step",
            label,
            kd_ms,
            ts_kd_ms,
            ts_kd_note,
            d32[1],
            d64[1],
            d64[2],
            repeats,
            (kd_sp, ts_kd_sp),
        ),
    ]


def dependency_row(
    n, lengths, batch, projective, single_root, warmup, repeats, rounds, gen, label, kd, clock
):
    scores = torch.randn(batch, n + 1, n + 1, generator=gen)
    multiroot = not single_root
    if projective:
        name = "projective dep. CRF (Eisner) vs DependencyCRF"
        ts_cls = lambda s, lens: torch_struct.DependencyCRF(s, lengths=lens, multiroot=multiroot)  # noqa: E731
    else:
        name = "non-projective dep. CRF (matrix-tree) vs NonProjectiveDependencyCRF"
        ts_cls = lambda s, lens: torch_struct.NonProjectiveDependencyCRF(  # noqa: E731
            s, lengths=lens, multiroot=multiroot
        )
    name += ", single root" if single_root else ", multi-root"
    if kd:
        name += ", KD step"

    def ours_inputs():
        return (scores.clone().requires_grad_(),)

    def ours_step(s):
        dist = DependencyCRF(s, lengths, projective=projective, single_root=single_root)
        _ = dist.log_partition
        _ = dist.marginals
        dist.log_partition.sum().backward()

    def ours_kd_step(s):
        # teacher: marginals of constant scores; student: log Z and its backward
        _ = DependencyCRF(s.detach(), lengths, projective, single_root).marginals
        DependencyCRF(s, lengths, projective, single_root).log_partition.sum().backward()

    def ts_inputs():
        return (ts_arc_layout(scores).requires_grad_(),)

    def ts_step(s):
        dist = ts_cls(s, lengths)
        _ = dist.partition
        _ = dist.marginals
        dist.partition.sum().backward()

    def ts_kd_step(s):
        _ = ts_cls(s.detach(), lengths).marginals
        ts_cls(s, lengths).partition.sum().backward()

    if kd:
        ours_step, ts_step = ours_kd_step, ts_kd_step

    timed = time_in_rounds(
        {"ours": (ours_inputs, ours_step), "ts": (ts_inputs, ts_step)},
        warmup,
        repeats,
        rounds,
        clock,
    )
    ours_ms, ours_sp = timed["ours"]
    (ts_ms, ts_sp), ts_note = split_result(timed["ts"])

    diffs = {}
    for dtype in (torch.float32, torch.float64):
        s = scores.to(dtype)
        ours = DependencyCRF(s, lengths, projective=projective, single_root=single_root)
        try:
            ts = ts_cls(ts_arc_layout(s).requires_grad_(), lengths)
            diffs[dtype] = (
                max_abs(ts_arc_layout(ours.marginals), ts.marginals),
                max_abs(ours.log_partition, ts.partition),
            )
        except Exception:  # noqa: BLE001
            diffs[dtype] = (None, None)
    row = Row(
        name,
        label,
        ours_ms,
        ts_ms,
        ts_note,
        diffs[torch.float32][0],
        diffs[torch.float64][0],
        diffs[torch.float64][1],
        repeats,
        (ours_sp, ts_sp),
    )
    if not projective:
        # The same formulas with torch-struct's eps (added to every exp(score)) at 0.
        s = ts_arc_layout(scores.double())
        ours = DependencyCRF(scores.double(), lengths, single_root=single_root)
        row.eps0 = (
            max_abs(ts_arc_layout(ours.marginals), deptree_nonproj(s, multiroot, lengths, eps=0.0)),
            max_abs(ours.log_partition, deptree_part(s, multiroot, lengths, eps=0.0)),
        )
    return row


def probe_ts_projective_without_grad(gen) -> str:
    """torch-struct's DepTree marks its internal padded copy of the scores as
    requiring grad and then fills a view of it in place; that copy is a leaf (and
    the call fails) exactly when the input scores do not require grad."""
    scores = torch.randn(2, 6, 6, generator=gen)
    try:
        _ = torch_struct.DependencyCRF(scores, lengths=torch.tensor([6, 4])).partition
        return "works"
    except Exception as exc:  # noqa: BLE001
        return f"fails: {short_error(exc, 100)}"


# --------------------------------------------------------------------------- report


def git_state() -> str:
    """Commit of the checkout the script runs from, and whether spacy_skd/ differs."""
    root = Path(__file__).resolve().parent.parent
    try:
        run = lambda *a: subprocess.run(  # noqa: E731
            ["git", "-C", str(root), *a], capture_output=True, text=True, check=True
        ).stdout.strip()
        head = run("log", "-1", "--format=%h %cd", "--date=format:%Y-%m-%d %H:%M")
        dirty = run("status", "--porcelain", "--", "spacy_skd")
    except (OSError, subprocess.CalledProcessError):
        return "spacy_skd: not a git checkout"
    return f"spacy_skd at commit {head}" + (" + uncommitted changes" if dirty else "")


def ts_version() -> str:
    try:
        return importlib.metadata.version("torch-struct")
    except importlib.metadata.PackageNotFoundError:
        return "?"


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}" if value < 100 else f"{value:.1f}"


def fmt_spread(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}"


def fmt_diff(value: float | None) -> str:
    return "-" if value is None else f"{value:.1e}"


def render(rows: list[Row]) -> str:
    header = (
        "| structure | N | ours ms | torch-struct ms | ratio ts/ours | "
        "max abs Δ marg. f32 | max abs Δ marg. f64 | max abs Δ logZ f64 | reps | IQR % ours/ts |"
    )
    lines = [header, "|" + "---|" * 10]
    for r in rows:
        ts = r.ts_note if r.ts_note else fmt_ms(r.ts_ms)
        ratio = "-" if (r.ts_ms is None or not r.ours_ms) else f"{r.ts_ms / r.ours_ms:.2f}"
        lines.append(
            f"| {r.structure} | {r.n} | {fmt_ms(r.ours_ms)} | {ts} | {ratio} | "
            f"{fmt_diff(r.diff32)} | {fmt_diff(r.diff64)} | {fmt_diff(r.dlogz64)} | {r.repeats} | "
            f"{fmt_spread(r.spread[0])}/{fmt_spread(r.spread[1])} |"
        )
    return "\n".join(lines)


def parse_ints(text: str) -> list[int]:
    return [int(x) for x in text.replace(" ", "").split(",") if x]


@app.command()
def main(
    repeats: int = typer.Option(
        0,
        help="Timed repetitions per cell (median reported); 0 = auto: 30 for N<=20, "
        "20 for N<=40, 15 above; Eisner rows 20/10/7.",
    ),
    warmup: int = typer.Option(
        2, help="Untimed warm-up calls before each block of timed calls (see --rounds)."
    ),
    rounds: int = typer.Option(
        3, help="Blocks the repetitions are split into; the libraries alternate by block."
    ),
    batch: int = typer.Option(32, help="Batch size B."),
    lengths: str = typer.Option("10,20,30,40,50,60", help="Comma-separated sentence lengths N."),
    mixed: bool = typer.Option(
        True, help="Add a 'mixed' row: lengths uniform in [2, max N], one sentence at max N."
    ),
    labels: int = typer.Option(20, help="Number of labels L of the linear-chain CRF."),
    threads: int = typer.Option(2, help="torch.set_num_threads."),
    clock: str = typer.Option(
        "wall",
        help="'wall' (time.perf_counter) or 'thread' (time.thread_time: the CPU time of "
        "the calling thread, which other processes on a shared machine do not inflate; "
        "needs --threads 1).",
    ),
    structures: str = typer.Option(
        "chain,nonproj,proj", help="Comma-separated subset of: chain, nonproj, proj."
    ),
    steps: str = typer.Option(
        "full,kd",
        help="Tree steps to time: 'full' (log Z, marginals, backward on one distribution), "
        "'kd' (teacher marginals without grad + student log Z and backward).",
    ),
    seed: int = typer.Option(0, help="Random seed for scores and mixed lengths."),
    out: Optional[Path] = typer.Option(  # noqa: UP045, B008 - typer evaluates it at runtime
        None, help="Also write the markdown report here."
    ),
):
    """Time ours vs torch-struct on CPU float32; print a markdown table."""
    torch.set_num_threads(threads)
    if torch_struct is None:
        raise typer.BadParameter("torch-struct is not installed")
    if clock not in CLOCKS or (clock == "thread" and threads != 1):
        raise typer.BadParameter("--clock is 'wall' or 'thread', and 'thread' needs --threads 1")
    timer = CLOCKS[clock]
    gen = torch.Generator().manual_seed(seed)
    wanted = {s.strip() for s in structures.split(",") if s.strip()}
    unknown = wanted - {"chain", "nonproj", "proj"}
    if unknown:
        raise typer.BadParameter(f"unknown structures: {sorted(unknown)}")

    sizes = parse_ints(lengths)
    cells = [(n, make_lengths(batch, n, False, gen), str(n)) for n in sizes]
    if mixed:
        n_max = max(sizes)
        mixed_lengths = make_lengths(batch, n_max, True, gen)
        cells.append((n_max, mixed_lengths, f"mixed 2..{n_max}"))

    code_state = git_state()  # before the timings: the checkout may change meanwhile
    started = time.perf_counter()
    rows: list[Row] = []

    def reps(n, kind):
        return repeats if repeats > 0 else auto_repeats(n, kind)

    def progress(msg):
        print(f"[{time.perf_counter() - started:6.1f}s] {msg}", file=sys.stderr, flush=True)

    if "chain" in wanted:
        for n, lens, label in cells:
            progress(f"linear chain N={label}")
            rows += chain_rows(
                n, lens, batch, labels, warmup, reps(n, "chain"), rounds, gen, label, timer
            )
    for kind, projective in (("nonproj", False), ("proj", True)):
        if kind not in wanted:
            continue
        for single_root in (True, False):
            for kd in [step == "kd" for step in steps.split(",")]:
                for n, lens, label in cells:
                    progress(f"{kind} single_root={single_root} kd={kd} N={label}")
                    rows.append(
                        dependency_row(
                            n,
                            lens,
                            batch,
                            projective,
                            single_root,
                            warmup,
                            reps(n, kind),
                            rounds,
                            gen,
                            label,
                            kd,
                            timer,
                        )
                    )
    # Keep each structure's rows together (pair rows after the unary rows).
    order = []
    for r in rows:
        if r.structure not in order:
            order.append(r.structure)
    rows.sort(key=lambda r: order.index(r.structure))

    elapsed = time.perf_counter() - started
    mixed_note = ""
    if mixed:
        mixed_note = f" Mixed lengths: {mixed_lengths.tolist()}."
    info = (
        f"{code_state}; torch {torch.__version__}, torch-struct {ts_version()}, "
        f"Python {platform.python_version()}, {platform.machine()} "
        f"({os.cpu_count()} CPUs visible), torch threads {torch.get_num_threads()}; "
        f"B={batch}, float32 timings, {clock} clock, {rounds} rounds, warm-up {warmup} per block; "
        f"{datetime.datetime.now().isoformat(timespec='seconds')}; total {elapsed:.0f} s."
    )
    notes = [
        f"Times: median ms ({clock} clock) of one step (build + log Z + marginals + backward of "
        "logZ.sum(); 'KD step' rows: marginals of a teacher built from the same scores "
        "without grad, then a student's log Z and its backward, as in distillation); "
        "the repetitions are split into blocks and the libraries take turns block by "
        "block, each block after untimed warm-up call(s); ratio = torch-struct / ours "
        "(> 1: ours faster); IQR % = interquartile range "
        "of the timed calls over their median (a noisy cell has a large one).",
        "Δ marg.: max |ours - torch-struct| over the marginals after converting layouts "
        "(linear chain: torch-struct's edge marginals summed to unary ones, or transposed "
        "to compare with our pair_marginals; dependency: ROOT row moved to the diagonal), "
        "computed in float32 and again in float64 for both libraries.",
        "torch-struct's matrix-tree code adds eps=1e-5 to every exp(arc score), so its "
        "non-projective logZ/marginals are biased by O(1e-5) per arc even in float64 "
        "(and, in the mixed row, padded words keep arcs of weight eps to real words).",
    ]
    if "chain" in wanted:
        notes.append(
            "Rows 'ours + pair_marginals': our step also computes pair_marginals "
            "[B,N-1,L,L], the quantity torch-struct's LinearChainCRF.marginals returns; "
            "their torch-struct time is the same measurement as in the unary rows."
        )
    eps0 = [r.eps0 for r in rows if r.eps0 is not None]
    if eps0:
        notes.append(
            "Non-projective rows, float64, torch-struct's own functions "
            "(torch_struct.deptree.deptree_nonproj / deptree_part) called with eps=0: "
            f"max abs Δ marg. = {max(d[0] for d in eps0):.1e}, "
            f"max abs Δ logZ = {max(d[1] for d in eps0):.1e} over all those rows."
        )
    if "proj" in wanted:
        notes.append(
            "torch-struct DependencyCRF (projective) on scores that do NOT require grad "
            f"(e.g. plain inference): {probe_ts_projective_without_grad(gen).rstrip('.')}. "
            "The timed rows use requires_grad=True inputs."
        )
    report = "\n".join([render(rows), "", info + mixed_note, ""] + [f"- {n}" for n in notes]) + "\n"
    print(report)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report)


if __name__ == "__main__":
    app()
