#!/usr/bin/env python3
"""Plot the matcher's time per epoch against instance size.

    MATCHING_CSV=docs/matching-scale.csv \
        cargo run --release -p compass-planners --features milp --example matching
    python3 scripts/plot_matching.py docs/matching-scale.csv docs/matching-scale.png

Needs matplotlib (pip install matplotlib).
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    src, dst = sys.argv[1], sys.argv[2]
    rows = list(csv.DictReader(open(src)))
    q = [int(r["queries"]) for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for col, label in [("solve_ms_1_thread", "from scratch, 1 thread"),
                       ("solve_ms_2_threads", "from scratch, 2 threads"),
                       ("warm_ms", "next epoch, warm start, 1 thread")]:
        ax.plot(q, [float(r[col]) for r in rows], marker="o", label=label)
    ax.axhline(1000, color="grey", linestyle="--", linewidth=1)
    ax.text(q[0], 780, "target: 1 s per epoch", color="grey", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("queries (machines = queries / 10, 5 candidates each)")
    ax.set_ylabel("time per epoch, ms")
    ax.set_title("Compass fast matcher: time per epoch")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(dst)
    print(f"wrote {dst}")


if __name__ == "__main__":
    main()
