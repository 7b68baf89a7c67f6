#!/bin/sh
# The whole benchmark: accuracy/speed table, then binary sizes. Output is Markdown.
set -eu
cd "$(dirname "$0")"
cargo build -q --release --bin langbench
"${CARGO_TARGET_DIR:-target}/release/langbench" samples.tsv
echo
echo "Binary size (stripped release \`tiny\` binary, one candidate each):"
echo
./size.sh
