#!/usr/bin/env python3
"""docs/api.md's error table against the code: every (status, code) pair the components and
the host can answer must be in the table, and every row of the table must be answered by
some code path. Reads the sources (no build needed); part of `make test` (via `make lint`).

Where codes come from:
  * `ApiError::new(STATUS, "code", …)`, `json_error(STATUS, "code", …)`, `fail(STATUS,
    "code", …)` and `(STATUS, "code")` arms: any `STATUS, "code"` pair in non-test code;
  * frontend/src/upload.rs `err("code", …)`: answered 400 by frontend;
  * pipeline/src/error.rs: `PipelineError::status()` and `code()`, joined by variant.

The Open Inference Protocol routes (`/v2/...`) answer `{"error": "<message>"}` with no
code: their statuses (`OipError::status()` in oip/src/error.rs) must be exactly the rows
of docs/api.md's `<!-- oip-error-table -->` section.
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["api/src", "classify/src", "frontend/src", "host/src", "pipeline/src"]
# Where the tables live (the README points there).
DOC = ROOT / "docs/api.md"
PAIR = re.compile(r'\b([1-5]\d\d),\s*"([a-z][a-z0-9_]*)"')


def non_test(text):
    """Source text before its `#[cfg(test)]` module."""
    return text.split("#[cfg(test)]", 1)[0]


def pipeline_pairs(text):
    def arms(fn):
        body = re.search(r"fn " + fn + r"\(&self\)[^{]*\{(.*?)\n    \}", text, re.S).group(1)
        out = {}
        for lhs, rhs in re.findall(r"((?:Self::\w+[^=|]*\|?\s*)+)=>\s*([^,\n]+),", body):
            for variant in re.findall(r"Self::(\w+)", lhs):
                out[variant] = rhs.strip().strip('"')
        return out
    status, code = arms("status"), arms("code")
    assert status.keys() == code.keys(), (status, code)
    return {(int(status[v]), code[v]) for v in status}


def code_pairs():
    pairs = set()
    for d in SOURCES:
        for f in sorted((ROOT / d).rglob("*.rs")):
            text = non_test(f.read_text())
            pairs |= {(int(s), c) for s, c in PAIR.findall(text)}
            if f.name == "upload.rs" and "frontend" in f.parts:
                pairs |= {(400, c) for c in re.findall(r'\berr\(\s*"([a-z_]+)"', text)}
            if f.name == "error.rs" and "pipeline" in f.parts:
                pairs |= pipeline_pairs(text)
    return pairs


def doc_pairs():
    table = DOC.read_text().split("<!-- error-table -->", 2)
    if len(table) != 3:
        sys.exit(f"{DOC.relative_to(ROOT)}: no <!-- error-table --> … <!-- error-table --> section")
    pairs = set()
    for row in table[1].splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].isdigit():
            for code in re.findall(r"`([a-z][a-z0-9_]*)`", cells[1]):
                pairs.add((int(cells[0]), code))
    return pairs


def oip_statuses():
    """(statuses `OipError::status()` returns, statuses in docs/api.md's OIP table)."""
    text = non_test((ROOT / "oip/src/error.rs").read_text())
    body = re.search(r"fn status\(&self\)[^{]*\{(.*?)\n    \}", text, re.S).group(1)
    code = {int(s) for s in re.findall(r"=>\s*([1-5]\d\d)\b", body)}
    table = DOC.read_text().split("<!-- oip-error-table -->", 2)
    if len(table) != 3:
        sys.exit(f"{DOC.relative_to(ROOT)}: no <!-- oip-error-table --> … <!-- oip-error-table --> section")
    doc = set()
    for row in table[1].splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if cells and cells[0].isdigit():
            doc.add(int(cells[0]))
    return code, doc


def main():
    oip_code, oip_doc = oip_statuses()
    for s in sorted(oip_code - oip_doc):
        print(f"docs/api.md OIP error table lacks status {s} (OipError::status answers it)")
    for s in sorted(oip_doc - oip_code):
        print(f"docs/api.md OIP error table has status {s}, which OipError::status never answers")
    print(f"OIP error table: statuses {sorted(oip_doc)}, OipError::status {sorted(oip_code)}")
    code, doc = code_pairs(), doc_pairs()
    missing, stale = sorted(code - doc), sorted(doc - code)
    for s, c in missing:
        print(f"docs/api.md error table lacks {s} `{c}` (answered by the code)")
    for s, c in stale:
        print(f"docs/api.md error table has {s} `{c}`, which no code answers")
    print(f"error table: {len(doc)} rows' codes, {len(code)} in the code, "
          f"{len(missing)} missing, {len(stale)} stale")
    sys.exit(1 if missing or stale or oip_code != oip_doc else 0)


if __name__ == "__main__":
    if "--list" in sys.argv:
        for s, c in sorted(code_pairs()):
            print(s, c)
    else:
        main()
