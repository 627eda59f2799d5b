"""First-fit overhead of skmoe in a fresh process, cold and warm Numba cache.

One question: how long does the first fit of a new Python process take
compared with the second fit of the same model, when Numba's on-disk cache
is empty (a first install, CI) and when it is filled (every later run)?

Each measurement is a fresh subprocess with ``NUMBA_CACHE_DIR`` pointing to a
temporary directory: it times ``import skmoe`` (which compiles nothing, see
``tests/test_import.py``), then two identical fits on tiny data (n=200, d=2,
K=2, 5 EM iterations). ``first - second`` is the compile (cold) or cache-load
(warm) overhead. Cold and warm runs alternate ``--repeats`` times (a new empty
directory for each cold run, then a warm run on the directory it filled), and
medians are reported; the machine may be loaded, so the spread is printed.

Usage::

    python benchmarks/bench_startup.py --repeats 3
"""

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np

# the fresh-process timing code is bench_em's (same directory)
from bench_em import first_fit_subprocess

DEFAULT_JSON = Path(__file__).parent / "results" / "bench_startup.json"


def fresh_process(cache_dir):
    rec = first_fit_subprocess(cache_dir)
    rec["overhead_s"] = rec["first_fit_s"] - rec["second_fit_s"]
    return rec


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = p.parse_args(argv)
    runs = {"cold": [], "warm": []}
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="skmoe-numba-cache-") as tmp:
            runs["cold"].append(fresh_process(tmp))
            runs["warm"].append(fresh_process(tmp))
    print(f"nproc={os.cpu_count()} loadavg={os.getloadavg()}")
    print(f"{'cache':>6}{'import s':>10}{'1st fit s':>11}{'2nd fit s':>11}"
          f"{'overhead s':>12}   overhead runs")
    summary = {}
    for kind, recs in runs.items():
        med = {k: float(np.median([r[k] for r in recs])) for k in recs[0]}
        summary[kind] = med
        print(f"{kind:>6}{med['import_s']:10.3f}{med['first_fit_s']:11.3f}"
              f"{med['second_fit_s']:11.4f}{med['overhead_s']:12.3f}   "
              f"{[round(r['overhead_s'], 2) for r in recs]}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"benchmark": "bench_startup", "runs": runs,
                                     "median": summary}, indent=1))
    print(f"JSON written to {args.json}")


if __name__ == "__main__":
    main()
