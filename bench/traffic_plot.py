#!/usr/bin/python3
"""bench/traffic_plot.py: draws what bench/traffic.sh printed (background frames and bytes
per node per simulated second against the number of nodes) as an SVG, and as a PNG when
Chromium is there to render it (docs/simulation.md, "Background traffic per node").

Usage: traffic_plot.py OUT.svg LABEL=TABLE [LABEL=TABLE ...]
  TABLE: a file holding traffic.sh's output (its header line, then one row per size:
  nodes, ping/pong, gossip, aae, background frames, background bytes, node-s per CPU s).
  Each LABEL is one line on both panels (log-scaled axes). With CHROMIUM (default
  /usr/bin/chromium) present, OUT.png is written beside OUT.svg.

Standard library only: the SVG is written by hand.
"""
import math
import os
import subprocess
import sys
import tempfile

W, H = 900, 410
PANEL_W, PANEL_H = 360, 260
COLOURS = ["#c0392b", "#2471a3", "#1e8449", "#7d3c98"]


def read_table(path):
    """[(nodes, frames, bytes)] from traffic.sh's output."""
    rows = []
    with open(path) as f:
        for line in f:
            cells = line.split()
            if len(cells) >= 6 and cells[0].isdigit():
                rows.append((int(cells[0]), float(cells[4]), float(cells[5])))
    return rows


def log_axis(lo, hi):
    """Decade bounds covering lo..hi."""
    return 10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi))


def panel(x0, y0, title, series, col, xlim, ylim, ylabel):
    """One panel's SVG: series = [(label, colour, [(x, y)])]."""
    out = [f'<text x="{x0 + PANEL_W / 2}" y="{y0 - 12}" text-anchor="middle" font-size="15">{title}</text>',
           f'<rect x="{x0}" y="{y0}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#444"/>']

    def px(v):
        return x0 + PANEL_W * (math.log10(v) - math.log10(xlim[0])) / (math.log10(xlim[1]) - math.log10(xlim[0]))

    def py(v):
        return y0 + PANEL_H * (1 - (math.log10(v) - math.log10(ylim[0])) / (math.log10(ylim[1]) - math.log10(ylim[0])))

    d = xlim[0]
    while d <= xlim[1]:
        out.append(f'<line x1="{px(d):.1f}" y1="{y0}" x2="{px(d):.1f}" y2="{y0 + PANEL_H}" stroke="#ddd"/>')
        out.append(f'<text x="{px(d):.1f}" y="{y0 + PANEL_H + 16}" text-anchor="middle" font-size="12">{d:g}</text>')
        d *= 10
    d = ylim[0]
    while d <= ylim[1]:
        out.append(f'<line x1="{x0}" y1="{py(d):.1f}" x2="{x0 + PANEL_W}" y2="{py(d):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 - 6}" y="{py(d) + 4:.1f}" text-anchor="end" font-size="12">{d:,.0f}</text>')
        d *= 10
    out.append(f'<text x="{x0 + PANEL_W / 2}" y="{y0 + PANEL_H + 34}" text-anchor="middle" font-size="13">nodes</text>')
    out.append(f'<text x="{x0 - 52}" y="{y0 + PANEL_H / 2}" text-anchor="middle" font-size="13" '
               f'transform="rotate(-90 {x0 - 52} {y0 + PANEL_H / 2})">{ylabel}</text>')
    for label, colour, pts in series:
        pts = [(x, y[col]) for x, *y in pts]
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in pts:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{colour}"/>')
    return out


def main():
    if len(sys.argv) < 3 or any("=" not in a for a in sys.argv[2:]):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    out_svg = sys.argv[1]
    series = []
    for i, arg in enumerate(sys.argv[2:]):
        label, path = arg.split("=", 1)
        rows = read_table(path)
        if not rows:
            print(f"traffic_plot.py: no rows in {path}", file=sys.stderr)
            return 2
        series.append((label, COLOURS[i % len(COLOURS)], rows))
    xs = [r[0] for _, _, rows in series for r in rows]
    frames = [r[1] for _, _, rows in series for r in rows]
    nbytes = [r[2] for _, _, rows in series for r in rows]
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif">',
           f'<rect width="{W}" height="{H}" fill="white"/>']
    svg += panel(90, 40, "background frames per node per second", series, 0, log_axis(min(xs), max(xs)),
                 log_axis(min(frames), max(frames)), "frames / s")
    svg += panel(520, 40, "background bytes per node per second", series, 1, log_axis(min(xs), max(xs)),
                 log_axis(min(nbytes), max(nbytes)), "bytes / s")
    for i, (label, colour, _) in enumerate(series):
        y = H - 14 - 18 * (len(series) - 1 - i)
        svg.append(f'<rect x="100" y="{y - 10}" width="14" height="4" fill="{colour}"/>')
        svg.append(f'<text x="120" y="{y - 4}" font-size="13">{label}</text>')
    svg.append("</svg>")
    with open(out_svg, "w") as f:
        f.write("\n".join(svg) + "\n")
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if os.access(chromium, os.X_OK):
        png = os.path.splitext(out_svg)[0] + ".png"
        with tempfile.TemporaryDirectory() as prof:
            subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={prof}",
                            f"--window-size={W},{H}", f"--screenshot={os.path.abspath(png)}",
                            "file://" + os.path.abspath(out_svg)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60, check=False)
        print(f"wrote {out_svg} and {png}" if os.path.exists(png) else f"wrote {out_svg} (no PNG: chromium failed)")
    else:
        print(f"wrote {out_svg} (no chromium for a PNG)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
