#!/usr/bin/env python3
"""Validate JSON lines (or the examples in a Markdown file) against a schema.

usage: check_examples.py [--expect-invalid] [--kind KIND] SCHEMA FILE

SCHEMA  a JSON Schema (draft 2020-12), e.g. docs/schema/alert.schema.json
FILE    NDJSON: one JSON value per line ('-' = stdin); empty lines are
        skipped and a trailing CR is dropped, as `fanzha replay` does.
        A Markdown file (*.md): its fenced code blocks whose info string
        is "json KIND" (the block is one JSON document) or "ndjson KIND"
        (one document per line) are checked; KIND defaults to the schema
        file name up to its first dot (alert.schema.json -> alert). A block
        whose info string also holds the word "invalid" must NOT validate.

--expect-invalid  every line of FILE must fail validation (negative samples).

A Markdown file without any block of that KIND is an error (exit 1).

Prints "FILE:LINE: message" for every line that is not as expected and
exits 1 if there was any, 2 on usage or schema errors, 0 otherwise.
Needs only the standard library and jsonschema (Debian: python3-jsonschema).
"""
import argparse
import json
import os
import re
import sys

try:
    import jsonschema
    from jsonschema import Draft202012Validator
except ImportError:  # pragma: no cover
    sys.stderr.write("check_examples.py: needs jsonschema (apt-get install python3-jsonschema)\n")
    sys.exit(2)


def _no_constants(name):
    raise ValueError("%s is not JSON" % name)


def parse(text):
    """Strict JSON: NaN/Infinity are rejected, duplicate keys: last wins (as fanzha)."""
    return json.loads(text, parse_constant=_no_constants)


def ndjson_docs(path):
    """Yield (line number, text, expect_valid) for each non-empty line."""
    data = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
    for n, raw in enumerate(data.split(b"\n"), 1):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw:
            continue
        try:
            yield n, raw.decode("utf-8"), None
        except UnicodeDecodeError as e:
            yield n, None, "invalid UTF-8: %s" % e


FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*(\S.*)?$")


def markdown_docs(path, kind):
    """Yield (line number, text, error, expect_valid) from the tagged blocks."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info = m.group(2), (m.group(3) or "").split()
        start = i + 1
        j = start
        while j < len(lines) and not lines[j].strip().startswith(fence):
            j += 1
        body = lines[start:j]
        i = j + 1
        if len(info) < 2 or info[0] not in ("json", "ndjson") or info[1] != kind:
            continue
        valid = "invalid" not in info[2:]
        if info[0] == "json":
            yield start + 1, "\n".join(body), None, valid
        else:
            for k, line in enumerate(body):
                if line.strip():
                    yield start + 1 + k, line, None, valid


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--expect-invalid", action="store_true",
                    help="every line must fail validation")
    ap.add_argument("--kind", help="Markdown block tag (default: from the schema file name)")
    ap.add_argument("schema")
    ap.add_argument("file")
    a = ap.parse_args(argv)

    try:
        with open(a.schema, encoding="utf-8") as f:
            schema = json.load(f)
        Draft202012Validator.check_schema(schema)
    except (OSError, ValueError, jsonschema.exceptions.SchemaError) as e:
        print("%s: bad schema: %s" % (a.schema, e), file=sys.stderr)
        return 2
    validator = Draft202012Validator(schema)

    if a.file.endswith(".md"):
        kind = a.kind or os.path.basename(a.schema).split(".")[0]
        docs = markdown_docs(a.file, kind)
    else:
        docs = ((n, t, e, not a.expect_invalid) for n, t, e in ndjson_docs(a.file))

    bad = checked = 0
    try:
        for n, text, err, expect_valid in docs:
            checked += 1
            errors = []
            if err is None:
                try:
                    doc = parse(text)
                except ValueError as e:
                    errors = ["not JSON: %s" % e]
                else:
                    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
                    errors = ["%s: %s" % (e.json_path, e.message) for e in errors]
            else:
                errors = [err]
            if expect_valid and errors:
                bad += 1
                for msg in errors:
                    print("%s:%d: %s" % (a.file, n, msg))
            elif not expect_valid and not errors:
                bad += 1
                print("%s:%d: expected to be invalid against %s, but it validates"
                      % (a.file, n, a.schema))
    except (OSError, UnicodeDecodeError) as e:
        print("%s: %s" % (a.file, e), file=sys.stderr)
        return 2

    if checked == 0:
        print("%s: nothing to check" % a.file, file=sys.stderr)
        return 1 if a.file.endswith(".md") else 0
    print("%s: %d checked, %d not as expected (%s)" % (a.file, checked, bad, a.schema),
          file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
