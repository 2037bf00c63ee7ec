#!/usr/bin/env python3
"""docs/observability.md's metrics table against the code: every series the host registers
(`r.add("name", …, self.field…)` in host/src/metrics/names.rs) must be a row of the table with
the same type and labels, and every row must be registered. Types come from the field's
declaration in `struct Metrics` (Counter, Gauge, Histogram), labels from the label struct it
is a `Family` of (host/src/metrics/labels.rs). Reads the sources (no build needed); part of
`make lint`, so of `make test`.
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METRICS = ROOT / "host/src/metrics/mod.rs"
NAMES = ROOT / "host/src/metrics/names.rs"
LABELS = ROOT / "host/src/metrics/labels.rs"
DOC = ROOT / "docs/observability.md"


def label_structs():
    text = LABELS.read_text()
    out = {}
    for name, body in re.findall(r"struct (\w+) \{(.*?)\n\}", text, re.S):
        out[name] = tuple(re.findall(r"pub (\w+):", body))
    return out


def code_series():
    text = METRICS.read_text()
    fields = {}
    body = re.search(r"pub struct Metrics \{(.*?)\n\}", text, re.S).group(1)
    structs = label_structs()
    for field, ty in re.findall(r"^\s+(\w+): (.+),$", body, re.M):
        kind = "histogram" if "Histogram" in ty else "gauge" if "Gauge" in ty else "counter" if "Counter" in ty else None
        family = re.match(r"(?:Family|Histograms)<(\w+)", ty)
        labels = structs[family.group(1)] if family else ()
        fields[field] = (kind, labels)
    series = {}
    for name, field in re.findall(r'r\.add\(\s*"(spinfer_\w+)",.*?self\.(\w+)\.clone\(\)', NAMES.read_text(), re.S):
        series[name] = fields[field]
    return series


def doc_series():
    table = DOC.read_text().split("<!-- metrics-table -->", 2)
    if len(table) != 3:
        sys.exit(f"{DOC}: no <!-- metrics-table --> … <!-- metrics-table --> section")
    series = {}
    for row in table[1].splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        m = re.fullmatch(r"`(spinfer_\w+)`", cells[0]) if cells else None
        if m and len(cells) >= 3:
            labels = tuple(re.findall(r"`(\w+)`", cells[2]))
            series[m.group(1)] = (cells[1], labels)
    return series


def main():
    code, doc = code_series(), doc_series()
    problems = []
    for name in sorted(code.keys() - doc.keys()):
        problems.append(f"docs/observability.md lacks {name} (registered in the code)")
    for name in sorted(doc.keys() - code.keys()):
        problems.append(f"docs/observability.md has {name}, which the code does not register")
    for name in sorted(code.keys() & doc.keys()):
        if code[name] != doc[name]:
            problems.append(f"{name}: the docs say {doc[name]}, the code {code[name]} (type, labels)")
    for p in problems:
        print(p)
    print(f"metrics table: {len(doc)} rows, {len(code)} series in the code, {len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
