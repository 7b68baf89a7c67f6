"""Prints the example config's categories the test config lacks, its classification rules,
and its [[acknowledgment.found]] and [[acknowledgment.ask]] entries, as TOML to append to the
demo's config (the test config it starts from knows English rules only)."""
import re
import sys
import tomllib

example_path, base_path = sys.argv[1], sys.argv[2]
with open(example_path, "rb") as f:
    example = tomllib.load(f)
with open(base_path) as f:
    # The test config has @PLACEHOLDER@ ports: read only the category names from it.
    have = set(re.findall(r'^\[\[categories\]\]\s*\nname\s*=\s*"([^"]+)"', f.read(), re.M))


def value(v):
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(value(x) for x in v) + "]"
    return str(v)


def table(name, entries):
    for e in entries:
        print(f"\n[[{name}]]")
        for k, v in e.items():
            print(f"{k} = {value(v)}")


table("categories", [c for c in example["categories"] if c["name"] not in have])
table("classify.rules", example["classify"]["rules"])
table("acknowledgment.found", example["acknowledgment"].get("found", []))
table("acknowledgment.ask", example["acknowledgment"].get("ask", []))
