#!/usr/bin/env bash
# Builds the Debian package: target/debian/mailcase_<version>-1_<arch>.deb (under
# $CARGO_TARGET_DIR when set). The man pages, shell completions and the installed config are
# generated first into <target>/release/packaging/, where Cargo.toml's
# [package.metadata.deb] assets take them from.
# Needs cargo-deb (`cargo install --locked cargo-deb`) and dpkg-shlibdeps (dpkg-dev) for the
# computed Depends; as root, missing ones are installed.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.8.0
if ! cargo deb --version >/dev/null 2>&1; then
    echo "build-deb: installing cargo-deb $CARGO_DEB_VERSION (takes a few minutes)"
    cargo install --locked "cargo-deb@$CARGO_DEB_VERSION"
fi
if ! command -v dpkg-shlibdeps >/dev/null; then
    if [[ $(id -u) -ne 0 ]]; then
        echo "build-deb: dpkg-shlibdeps is missing: apt-get install dpkg-dev" >&2
        exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends dpkg-dev \
        || { apt-get -o DPkg::Lock::Timeout=600 update &&
             DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends dpkg-dev; }
fi

target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
[[ -n $target ]] || { echo "build-deb: cannot find cargo's target directory" >&2; exit 1; }

cargo build --release --locked
bin="$target/release/mailcase"
stage="$target/release/packaging"
rm -rf "$stage"
mkdir -p "$stage/man" "$stage/completions"

# Man pages: mailcase.1 and one per subcommand (mailcase-check.1, mailcase-template-preview.1...).
"$bin" man "$stage/man"
gzip -9n "$stage/man"/*.1
"$bin" completions bash >"$stage/completions/mailcase"
"$bin" completions zsh >"$stage/completions/_mailcase"
"$bin" completions fish >"$stage/completions/mailcase.fish"

# The example config as /etc/mailcase/mailcase.toml, reading the templates where the package
# puts them (the repo's example says /etc/mailcase/templates, where the manual install copies them).
from='dir = "/etc/mailcase/templates"'
to='dir = "/usr/share/mailcase/templates"   # the packaged ones; to change them, copy the folder to /etc/mailcase/templates and point here'
grep -qxF "$from" config/mailcase.example.toml || {
    echo "build-deb: config/mailcase.example.toml no longer has the line: $from" >&2
    exit 1
}
sed "s|^${from}\$|${to}|" config/mailcase.example.toml >"$stage/mailcase.toml"

# The binary stripped, as Debian ships binaries; the line tables of [profile.release] go into
# the separate mailcase-dbgsym package (.ddeb).
built=$(cargo deb --no-build --locked --dbgsym)
deb=$(grep '\.deb$' <<<"$built") || { echo "build-deb: cargo deb made no .deb: $built" >&2; exit 1; }
grep '\.ddeb$' <<<"$built" | sed 's/^/debug symbols: /' || true
# Last line: the package (packaging/ci-check.sh reads it).
echo "$deb"
