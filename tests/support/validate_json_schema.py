#!/usr/bin/env python3
"""Checks JSON documents against a JSON Schema (draft 2020-12), for tests of what safegate sends.

Usage: validate_json_schema.py SCHEMA.json < documents   (one JSON document per line)
Exit 0 when every line is valid; 1 with each violation printed as "line N: path: message".
Uses Debian's python3-jsonschema, the reference validator, rather than a check of our own.
"""
import json
import sys

import jsonschema


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    validator.check_schema(schema)
    bad = 0
    count = 0
    for n, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        count += 1
        for error in validator.iter_errors(json.loads(line)):
            bad += 1
            path = "/".join(str(p) for p in error.absolute_path) or "(root)"
            print(f"line {n}: {path}: {error.message}")
    if count == 0:
        print("no documents on standard input")
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
