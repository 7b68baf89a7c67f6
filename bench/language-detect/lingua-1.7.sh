#!/bin/sh
# The same benchmark against lingua 1.7.2, the release before 1.8.0 (edition 2021; 1.8.0
# uses let chains, rustc >= 1.88). 1.7.2 asks for its models as "^1.2.0", which now resolves to
# the 1.3.0 model crates made for 1.8.0: 1.7.2 cannot read them and silently answers "unknown"
# for everything, so the eight model crates are pinned to =1.2.0 as well. Works on a copy of
# this project in a temporary folder; prints the lingua rows and the `tiny` binary size.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
target=${CARGO_TARGET_DIR:-$here/target}/lingua-1.7
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$here/Cargo.toml" "$here/src" "$here/samples.tsv" "$tmp/"
cd "$tmp"
sed -i 's/^lingua = { version = "1.8.0"/lingua = { version = "=1.7.2"/' Cargo.toml
for l in english german french spanish italian dutch portuguese japanese; do
    sed -i "/^\[dependencies\]/a lingua-$l-language-model = \"=1.2.0\"" Cargo.toml
done
grep -q '"=1.7.2"' Cargo.toml
export CARGO_TARGET_DIR="$target"
cargo build -q --release --bin langbench
"$target/release/langbench" samples.tsv | grep -E '^\|( variant|---| lingua)|^- lingua'
cargo build -q --release --bin tiny --no-default-features --features lingua
echo
echo "tiny with lingua 1.7.2, stripped: $(stat -c %s "$target/release/tiny") bytes"
