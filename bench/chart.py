#!/usr/bin/env python3
"""The book's benchmark chart, from the runner's `--csv` output.

    python3 chart.py [CSV] [SVG]
    (defaults: results/latest.csv and ../book/src/img/benchmark.svg)

Grouped bars: server throughput per scenario in same-core mode, for ours, rmp-rpc 0.3,
msgpack-rpc 0.4 and the limit server, normalized to the limit server (= 1.0), the ratio
printed on each bar. Python 3 standard library only. The SVG uses `currentColor` for text
and axes so that it reads in mdBook's light and dark themes; it must be included inline
(`{{#include img/benchmark.svg}}`), not as an <img>, for `currentColor` to follow the theme.
"""

import csv
import os
import sys
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = [
    ("seq", "req/s", "sequential"),
    ("pipe", "req/s", "pipelined x 64"),
    ("conns", "req/s", "16 conns x 16"),
    ("big", "MiB/s", "1 MiB param"),
]
# (label in the CSV, legend, fill colour): mid-saturation, readable on white and on dark.
SERVERS = [
    ("ours", "ours (rmp-rpc-demo)", "#3b82f6"),
    ("rmp-rpc 0.3", "rmp-rpc 0.3", "#f59e0b"),
    ("msgpack-rpc 0.4", "msgpack-rpc 0.4", "#a855f7"),
    ("limit", "limit server", "#6b7280"),
]


def load(path):
    """{(who, scenario, metric): median} of the servers in same-core mode."""
    values = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["mode"] == "same" and row["kind"] == "server":
                values[(row["who"], row["scenario"], row["metric"])] = float(row["median"])
    return values


def absolute(x, unit):
    if unit == "MiB/s":
        return "%.0f MiB/s" % x
    if x >= 1e6:
        return "%.2f M req/s" % (x / 1e6)
    return "%.1f k req/s" % (x / 1e3)


def chart(values):
    width, height = 720, 400
    left, right, top, bottom = 56, 16, 64, 72
    plot_w, plot_h = width - left - right, height - top - bottom
    ratios = {}
    for sc, unit, _ in SCENARIOS:
        limit = values.get(("limit", sc, unit))
        for who, _, _ in SERVERS:
            x = values.get((who, sc, unit))
            if limit and x is not None:
                ratios[(who, sc)] = x / limit
    top_ratio = max([1.0] + list(ratios.values()))
    y_max = max(1.25, (int(top_ratio * 4) + 1) / 4.0)

    def y(r):
        return top + plot_h * (1 - r / y_max)

    out = []
    desc = []
    out.append(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" '
        'role="img" aria-labelledby="benchmark-title benchmark-desc" class="diagram" '
        'font-family="sans-serif" font-size="13" fill="currentColor">' % (width, height, width, height)
    )
    out.append('  <title id="benchmark-title">Server throughput relative to the limit server, same core</title>')
    for sc, unit, title in SCENARIOS:
        parts = ["%s %.2f" % (who, ratios[(who, sc)]) for who, _, _ in SERVERS if (who, sc) in ratios]
        limit = values.get(("limit", sc, unit))
        desc.append("%s (limit %s): %s." % (title, absolute(limit, unit) if limit else "no data", ", ".join(parts)))
    out.append(
        '  <desc id="benchmark-desc">Throughput of each server divided by the limit server\'s, '
        "server and load generator pinned to the same CPU. %s</desc>" % escape(" ".join(desc))
    )
    # Legend.
    lx = left
    for who, legend, colour in SERVERS:
        out.append(
            '  <rect x="%d" y="14" width="14" height="14" rx="2" fill="%s" fill-opacity="0.85" '
            'stroke="currentColor" stroke-width="0.8"/>' % (lx, colour)
        )
        out.append('  <text x="%d" y="26">%s</text>' % (lx + 20, escape(legend)))
        lx += 40 + 8 * len(legend)
    # Grid and y axis.
    out.append('  <g stroke="currentColor" stroke-width="1">')
    r = 0.0
    while r <= y_max + 1e-9:
        opacity = "0.6" if abs(r - 1.0) < 1e-9 else "0.15"
        dash = ' stroke-dasharray="5 4"' if abs(r - 1.0) < 1e-9 else ""
        out.append(
            '    <line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke-opacity="%s"%s/>'
            % (left, y(r), width - right, y(r), opacity, dash)
        )
        r += 0.25
    out.append('    <line x1="%d" y1="%d" x2="%d" y2="%d"/>' % (left, top, left, top + plot_h))
    out.append("  </g>")
    r = 0.0
    while r <= y_max + 1e-9:
        out.append('  <text x="%d" y="%.1f" text-anchor="end">%.2f</text>' % (left - 6, y(r) + 4, r))
        r += 0.25
    out.append(
        '  <text transform="translate(16 %d) rotate(-90)" text-anchor="middle">'
        "throughput / limit server</text>" % (top + plot_h // 2)
    )
    # Bars.
    group_w = plot_w / len(SCENARIOS)
    bar_w = min(34.0, group_w * 0.8 / len(SERVERS))
    for gi, (sc, unit, title) in enumerate(SCENARIOS):
        x0 = left + gi * group_w + (group_w - bar_w * len(SERVERS)) / 2
        for bi, (who, legend, colour) in enumerate(SERVERS):
            x = x0 + bi * bar_w
            ratio = ratios.get((who, sc))
            if ratio is None:
                out.append('  <text x="%.1f" y="%.1f" text-anchor="middle" font-size="11">n/a</text>' % (x + bar_w / 2, y(0) - 4))
                continue
            shown = min(ratio, y_max)
            out.append(
                '  <rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="0.85" '
                'stroke="currentColor" stroke-width="0.8"><title>%s, %s: %.2f x limit</title></rect>'
                % (x + 2, y(shown), bar_w - 4, y(0) - y(shown), colour, escape(legend), escape(title), ratio)
            )
            out.append(
                '  <text x="%.1f" y="%.1f" text-anchor="middle" font-size="11">%.2f</text>'
                % (x + bar_w / 2, y(shown) - 4, ratio)
            )
        cx = left + gi * group_w + group_w / 2
        out.append('  <text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (cx, top + plot_h + 20, escape(title)))
        limit = values.get(("limit", sc, unit))
        if limit:
            out.append(
                '  <text x="%.1f" y="%d" text-anchor="middle" font-size="11" fill-opacity="0.75">'
                "limit = %s</text>" % (cx, top + plot_h + 38, absolute(limit, unit))
            )
    out.append(
        '  <text x="%d" y="%d" font-size="11" fill-opacity="0.75">Same core: server and load generator '
        "pinned to CPU 0; medians of the rounds; shared 2-core machine.</text>" % (left, height - 10)
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "results", "latest.csv")
    dst = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "book", "src", "img", "benchmark.svg")
    values = load(src)
    if not values:
        sys.exit("chart.py: no same-core server figures in %s" % src)
    with open(dst, "w") as f:
        f.write(chart(values))
    print("wrote %s" % dst)


if __name__ == "__main__":
    main()
