#!/usr/bin/env python3
"""Plot profiles per query to a first feasible plan, per application: Vulcan, Compass
searching alone, and Compass reading its application's earlier profiles.

    cargo run --release -p compass-testbed --example search_cost -- 10 docs/search-cost.csv
    python3 scripts/plot_search_cost.py docs/search-cost.csv docs/search-cost.png

Means over queries and seeds, as in the example's second table (a miss counts what it
spent). Needs matplotlib (pip install matplotlib).
"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SEARCHERS = [
    ("vulcan_profiles", "Vulcan (each query alone)", "tab:red"),
    ("compass_profiles", "Compass, each query alone", "tab:blue"),
    ("compass_sharing_profiles", "Compass, reading its application's profiles", "tab:green"),
]
SETTINGS = [("catalogue", "The catalogue's SLO classes"),
            ("tight", "Tight SLOs (about 5% of plans feasible)")]


def main():
    src, dst = sys.argv[1], sys.argv[2]
    rows = list(csv.DictReader(open(src)))
    apps = list(dict.fromkeys(r["app"] for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=120, sharey=True)
    width = 0.27
    for ax, (setting, title) in zip(axes, SETTINGS):
        sums = defaultdict(float)
        counts = defaultdict(int)
        for r in rows:
            if r["slos"] != setting:
                continue
            counts[r["app"]] += 1
            for col, _, _ in SEARCHERS:
                sums[(r["app"], col)] += float(r[col])
        for k, (col, label, color) in enumerate(SEARCHERS):
            # A mean of zero cannot sit on a log axis; none occurs in practice.
            means = [max(sums[(a, col)] / max(counts[a], 1), 1e-2) for a in apps]
            xs = [i + (k - 1) * width for i in range(len(apps))]
            ax.bar(xs, means, width, label=label, color=color)
        ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(len(apps)))
        ax.set_xticklabels([a.replace("-", "\n", 1) for a in apps], fontsize=8)
        ax.grid(axis="y", which="both", linewidth=0.3)
    axes[0].set_ylabel("profiles per query to a first feasible plan (mean)")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(dst)


if __name__ == "__main__":
    main()
