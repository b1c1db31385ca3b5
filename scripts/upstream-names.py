#!/usr/bin/env python3
"""Extract the metric names two community dashboards query, as data.

The dashboards themselves are their authors' work and are not kept in this
repository; the tests need only the names they query. This script reads the
two dashboard files (as published at the commits named in
testdata/upstream/README.md) and writes one name per line, sorted, to
testdata/upstream/dashboard-names/. The scan is on the raw JSON text, as the
tests did when they read the dashboards:

- node-exporter-full.txt: every `node_` at a word start (the character
  before it is not [A-Za-z0-9_]), extended over [A-Za-z0-9_];
- nut-exporter-druggeri.txt: every `network_ups_tools_`, extended over
  [A-Za-z0-9_].

Usage: scripts/upstream-names.py NODE_EXPORTER_FULL.json NUT_EXPORTER_DASHBOARD.json
"""
import pathlib
import re
import sys

WORD = re.compile(r"[A-Za-z0-9_]*")


def node_names(text):
    return {m.group(0) for m in re.finditer(r"(?<![A-Za-z0-9_])node_[A-Za-z0-9_]*", text)}


def nut_names(text):
    return {WORD.match(text, m.start()).group(0) for m in re.finditer("network_ups_tools_", text)}


def write(path, names, source):
    header = (
        f"# The metric names queried by {source}, one per line, sorted.\n"
        "# Extracted by scripts/upstream-names.py; see testdata/upstream/README.md.\n"
    )
    path.write_text(header + "".join(f"{n}\n" for n in sorted(names)))
    print(f"{path}: {len(names)} names")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    out = pathlib.Path(__file__).resolve().parent.parent / "testdata/upstream/dashboard-names"
    out.mkdir(parents=True, exist_ok=True)
    node = pathlib.Path(sys.argv[1]).read_text(encoding="utf-8")
    nut = pathlib.Path(sys.argv[2]).read_text(encoding="utf-8")
    write(out / "node-exporter-full.txt", node_names(node),
          '"Node Exporter Full" (rfmoz/grafana-dashboards prometheus/node-exporter-full.json, commit 4b1729d)')
    write(out / "nut-exporter-druggeri.txt", nut_names(nut),
          "the Go NUT exporter's dashboard (DRuggeri/nut_exporter dashboard/dashboard.json, commit de46e1d)")


if __name__ == "__main__":
    main()
