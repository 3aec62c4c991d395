#!/usr/bin/env python3
"""Summarises CubeCL's kernel profile: what one benchmark iteration launches on the GPU.

CubeCL (burn's GPU runtime) times every kernel when its profiling logger is on and, at each
device sync, writes a table of the kernels run since the previous sync (name, total time,
launches). `margan bench` syncs once per timed iteration, so the last table is one iteration.
This script reads that table, groups kernels by family (the name without its hash and type
arguments: `KernelBinop | MulOp`, `Matmul`, `ReduceKernel`, a WGSL `SourceKernel`, ...) and
prints launches and time per family, and the totals: how many kernels an iteration launches
and how much of the iteration's wall time they account for (the rest is launch overhead, host
work and waiting).

Turn the logger on with a cubecl.toml in the directory the benchmark runs from
(`python3 bench/kernel_profile.py --setup DIR` writes one there, logging to DIR/kernels.log):

    [profiling.logger]
    level = "basic"
    file = "/tmp/kernels.log"
    append = false

then: python3 bench/kernel_profile.py /tmp/kernels.log [--table -1] [--top 25] [--wall-ms MS]
      python3 bench/kernel_profile.py /tmp/kernels.log --phases

With `bench --phases`, the last eight tables are the phases of one iteration, in order.
"""
import argparse
import os
import re
import sys

DURATION = re.compile(r"^([0-9.]+)(ns|µs|us|ms|s)$")
SCALE_MS = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_duration_ms(text):
    m = DURATION.match(text.strip())
    if not m:
        raise ValueError(f"not a duration: {text!r}")
    return float(m.group(1)) * SCALE_MS[m.group(2)]


def table(lines, index=-1):
    """Rows (name, ms, launches) of a summary table in the log (the last one by default)."""
    starts = [i for i, line in enumerate(lines) if re.match(r"^\| Name\s+\| Duration", line)]
    if not starts or not -len(starts) <= index < len(starts):
        return None
    rows = []
    for line in lines[starts[index] + 1:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4:
            continue  # the table's rules
        name = " | ".join(cells[:-3])
        if name == "Total":
            break
        try:
            rows.append((name, parse_duration_ms(cells[-3]), int(cells[-2])))
        except ValueError:
            continue
    return rows


def family(name):
    """The kernel's family: its name without the hash and the generic arguments."""
    if name.startswith("MatmulEntry"):
        return "Matmul"
    if "Conv" in name and "Entry" in name.split(" | ")[0]:
        return name.split(" | ")[0]
    parts = [p for p in name.split(" | ") if p]
    parts = [re.sub(r"_[0-9a-f]{8}$", "", p) for p in parts]
    # Keep the kernel kind and its operation (e.g. `KernelBinop | MulOp`), drop type plumbing.
    keep = [p for p in parts if p not in ("FloatTensorOps", "TensorArgs")][:2]
    return " | ".join(keep)


PHASES = ["D fakes", "D fwd", "D pen", "D bwd", "D Adam", "G fwd", "G bwd", "G Adam"]


def print_phases(lines):
    """Launches and kernel time per phase: the last eight tables of a `bench --phases` run."""
    print(f"{'phase':<8} {'launches':>9} {'ms':>10}  most launched")
    total_n, total_ms = 0, 0.0
    for i, phase in enumerate(PHASES):
        rows = table(lines, i - len(PHASES))
        if rows is None:
            sys.exit("kernel_profile: fewer than eight tables: was the benchmark run with --phases?")
        fams = {}
        for name, ms, n in rows:
            fams[family(name)] = fams.get(family(name), 0) + n
        n, ms = sum(r[2] for r in rows), sum(r[1] for r in rows)
        total_n, total_ms = total_n + n, total_ms + ms
        top = ", ".join(f"{f} {c}" for f, c in sorted(fams.items(), key=lambda kv: -kv[1])[:3])
        print(f"{phase:<8} {n:>9} {ms:>10.3f}  {top}")
    print(f"{'sum':<8} {total_n:>9} {total_ms:>10.3f}")


def setup(directory):
    """Writes DIR/cubecl.toml: CubeCL then times every kernel of a run started in DIR.

    Also removes an earlier DIR/kernels.log: CubeCL's `append = false` writes from the start of
    the file without truncating it, so a shorter run would leave the old run's tail behind.
    Run --setup again before every profiled run in the same DIR."""
    directory = os.path.abspath(directory)
    os.makedirs(directory, exist_ok=True)
    log = os.path.join(directory, "kernels.log")
    if os.path.exists(log):
        os.remove(log)
    with open(os.path.join(directory, "cubecl.toml"), "w", encoding="utf-8") as f:
        f.write(f'[profiling.logger]\nlevel = "basic"\nfile = "{log}"\nappend = false\n')
    print(log)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--setup":
        setup(sys.argv[2])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log", help="the profiling log (or `--setup DIR` to write DIR/cubecl.toml)")
    ap.add_argument("--table", type=int, default=-1,
                    help="which table: -1 the last (default), -2 the one before, 0 the first...")
    ap.add_argument("--top", type=int, default=25, help="families to list (default 25)")
    ap.add_argument("--phases", action="store_true",
                    help="per phase instead: the last eight tables of a `bench --phases` run")
    ap.add_argument("--wall-ms", type=float, help="the iteration's wall time, to show the share kernels take")
    args = ap.parse_args()
    try:
        lines = open(args.log, encoding="utf-8", errors="replace").read().splitlines()
    except OSError as e:
        sys.exit(f"kernel_profile: cannot read {args.log}: {e}")
    if args.phases:
        print_phases(lines)
        return
    rows = table(lines, args.table)
    if not rows:
        sys.exit(f"kernel_profile: no profile table {args.table} in {args.log}: was CubeCL's profiling logger on "
                 "(a cubecl.toml with [profiling.logger] level = \"basic\" in the working directory)?")
    fams = {}
    for name, ms, n in rows:
        f = fams.setdefault(family(name), [0.0, 0, 0])
        f[0] += ms
        f[1] += n
        f[2] += 1
    total_ms = sum(f[0] for f in fams.values())
    total_n = sum(f[1] for f in fams.values())
    print(f"{'kernel family':<44} {'launches':>9} {'kernels':>8} {'ms':>10} {'share':>6}")
    for name, (ms, n, k) in sorted(fams.items(), key=lambda kv: -kv[1][0])[: args.top]:
        print(f"{name[:44]:<44} {n:>9} {k:>8} {ms:>10.3f} {100 * ms / max(total_ms, 1e-12):>5.1f}%")
    print(f"{'all kernels':<44} {total_n:>9} {len(rows):>8} {total_ms:>10.3f} 100.0%")
    if args.wall_ms:
        print(f"kernels account for {100 * total_ms / args.wall_ms:.0f}% of the iteration's {args.wall_ms:.1f} ms "
              f"(profiled run: each kernel is timed, so both are slower than unprofiled)")


if __name__ == "__main__":
    main()
