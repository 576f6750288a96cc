#!/usr/bin/env python3
"""Record how PyYAML's SafeLoader (YAML 1.1) types scalars, as a fixture for clipig's loader.

Each case is a one-key document `v: <scalar>`; the fixture stores what `yaml.safe_load` gives
for `v`: its type (null, bool, int, float, str, timestamp, error) and its value as text
(ints in decimal, floats as repr(), bools as true/false, timestamps as the source text).

Regenerate (needs PyYAML; CI never runs Python):
    python3 scripts/gen_yaml_typing.py > Tests/FormatsTests/Fixtures/yaml-typing.json
"""
import datetime
import json
import sys

import yaml

CASES = [
    # null
    "", "~", "null", "Null", "NULL", "nULL", "nul", "None", "none",
    # bool: YAML 1.1 words in three case variants; single letters are strings
    "yes", "Yes", "YES", "yEs", "no", "No", "NO", "nO",
    "true", "True", "TRUE", "tRUE", "false", "False", "FALSE",
    "on", "On", "ON", "oN", "off", "Off", "OFF",
    "y", "Y", "n", "N",
    # int: decimal, signs, underscores
    "0", "1", "-1", "+1", "10", "224", "-0", "+0", "1_000", "1__0", "1__", "_1",
    "9223372036854775807", "-9223372036854775808", "12345678901234567890",
    # int: binary, hexadecimal, octal
    "0b101", "-0b11", "0b_1", "0b", "0b_", "0b2", "0B1",
    "0x1F", "0xff", "0x_A", "-0x10", "0X10", "0x", "0x1G",
    "017", "-017", "0_17", "00", "0_", "08", "09", "0o17",
    # int: sexagesimal
    "1:30", "1:30:59", "-1:30", "190:20:30", "1:5", "1:60", "0:30", "1:3:",
    # float
    "0.5", ".5", "-.5", "+.5", "1.", "1.0", "-1.0", "+1.5", "1_0.5", "0.1",
    "3.14159265358979", "1.0e-3", "1.0e+3", "1.0e3", "1.0E-3", "1.e-3", ".5e-3", ".5e3",
    "6.02e+23", "1.0e-03", "1.0e+400", "1.0e-400", "1._5", "1._", "09.5",
    "1e3", "1e-3", "1E3", "1.2.3", "1.0e-", "1.0e", ".", "._", "._5",
    # float: sexagesimal, inf, nan
    "1:30.5", "-1:30.5", "0:30.5", "1:30.", "1:30.5_5",
    ".inf", "-.inf", "+.inf", ".Inf", ".INF", ".iNF", "inf", "-inf",
    ".nan", ".NaN", ".NAN", "-.nan", "nan", "NaN",
    # strings CLIPig configs rely on
    "1/2", "1/10", "1/5*ti", "-30 30", "0 1", "10%", "50%", "99.9%", "224*3", "224 224",
    "224*2 224//2", "640, 480", "1 2 3", "t * .5", "edge", "rmsprob",
    "a cat made of salami.", "sin(3.14159265)",
    # other strings
    "a", "hello world", "a  b", "abc:def", "http://x.org/a.png", "a#b", "1.0.0",
    "héllo", "日本語", "-", "-a", "?x", "x?", "@", "%", "`x",
    # timestamps (PyYAML constructs dates; clipig keeps the text)
    "2001-12-14", "2001-12-14 21:59:43.10 -5", "2001-12-14t21:59:43.10-05:00", "2001-1-1",
    # special indicators PyYAML refuses as values
    "=", "<<",
    # quoted scalars are always strings
    '"12"', "'yes'", '"null"', "''", '""', '"1.5"', "'~'", "'1:30'", '"a\\tb"', "'it''s'",
    # explicit tags
    "!!str 12", "!!str yes", "!!str", "!!str ~", "!!int '12'", "!!int 0x1F", "!!int 1:30",
    "!!int 017", "!!float 1e3", "!!float '1'", "!!float .inf", "!!float 1:30",
    "!!bool yes", "!!bool 'true'", "!!null ''", "!!null", "! 12", "! '12'", "! yes",
    "!!int abc", "!!int 1.5", "!!float abc", "!!bool maybe", "!!binary aGVsbG8=",
    "!foo bar", "!!timestamp 2001-12-14",
    # block scalars
    "|\n  line one\n  line two\n", ">\n  folded\n  text\n", "|-\n  12\n",
]


def record(text):
    doc = "v: " + text
    try:
        value = yaml.safe_load(doc)["v"]
    except Exception as e:  # YAMLError, or ValueError/KeyError from a constructor
        return {"yaml": doc, "type": "error", "value": str(e).splitlines()[0]}
    if value is None:
        kind, rendered = "null", ""
    elif isinstance(value, bool):
        kind, rendered = "bool", "true" if value else "false"
    elif isinstance(value, int):
        kind, rendered = "int", str(value)
    elif isinstance(value, float):
        kind, rendered = "float", repr(value)
    elif isinstance(value, str):
        kind, rendered = "str", value
    elif isinstance(value, (datetime.date, datetime.datetime)):
        kind, rendered = "timestamp", text
    elif isinstance(value, bytes):
        kind, rendered = "binary", value.hex()
    else:
        raise SystemExit(f"unexpected type {type(value)} for {doc!r}")
    return {"yaml": doc, "type": kind, "value": rendered}


def main():
    records = [record(t) for t in CASES]
    json.dump({"generator": "scripts/gen_yaml_typing.py", "pyyaml": yaml.__version__,
               "cases": records}, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
