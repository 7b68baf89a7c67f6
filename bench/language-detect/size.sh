#!/bin/sh
# Stripped release size of the `tiny` binary (detects its argument's language) with each
# candidate alone, against the same binary with none. Prints a Markdown table.
set -eu
cd "$(dirname "$0")"
target=${CARGO_TARGET_DIR:-target}
echo "| candidate | stripped bytes | delta vs empty |"
echo "|---|---:|---:|"
base=
for c in none whatlang lingua whichlang; do
    if [ "$c" = none ]; then feats=; else feats="--features $c"; fi
    # shellcheck disable=SC2086
    cargo build -q --release --bin tiny --no-default-features $feats
    bytes=$(stat -c %s "$target/release/tiny")
    [ -n "$base" ] || base=$bytes
    echo "| $c | $bytes | +$(( (bytes - base) / 1024 )) KiB |"
done
