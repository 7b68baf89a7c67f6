#!/usr/bin/env bash
# The Debian package, installed for real: builds it (packaging/build-deb.sh), installs it with
# apt-get, checks the installed files (`mailcase check --offline` on the installed config and
# templates, as root and as the service user; the unit; the man pages; the completions), then
# removes it (the config stays) and purges it (the config goes; the secrets an admin put in
# /etc/mailcase/credentials stay, and the mailcase system user, as Debian leaves system users).
# Run as root on Debian 12 where mailcase is not installed; CI runs it from .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }
fail() {
    echo "ci-check: FAILED: $*" >&2
    echo "ci-check: to clean up: apt-get purge -y mailcase" >&2
    exit 1
}
apt_get() {
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"
}

[[ $(id -u) -eq 0 ]] || { echo "ci-check: run as root (it installs the package)" >&2; exit 1; }
if dpkg-query -W -f '${db:Status-Status}' mailcase 2>/dev/null | grep -qv '^not-installed$' ||
    [[ -e /etc/mailcase || -e /usr/bin/mailcase ]]; then
    echo "ci-check: mailcase is installed here, or /etc/mailcase or /usr/bin/mailcase exists;" \
        "this script installs, removes and purges the package, so it refuses to run" >&2
    exit 1
fi

step "build"
# Its output goes on to ours and into a file whose last line is the .deb's path. Not `tee
# /dev/stderr`: when stderr is a file (a CI log), that reopens and truncates it.
build_log=$(mktemp)
packaging/build-deb.sh | tee "$build_log"
deb=$(tail -n 1 "$build_log")
rm -f "$build_log"
[[ $deb == /*.deb && -f $deb ]] || fail "build-deb.sh did not end with the path of a .deb: $deb"
ls -l "$deb"
dpkg-deb --info "$deb"
dpkg-deb --contents "$deb"

step "install"
apt_get install -y "$deb" || { apt_get update && apt_get install -y "$deb"; }
dpkg-query -W -f '${db:Status-Status}\n' mailcase | grep -qx installed || fail "not installed"

step "installed files"
unit=/usr/lib/systemd/system/mailcase.service
for f in /usr/bin/mailcase "$unit" /usr/lib/sysusers.d/mailcase.conf \
    /usr/lib/tmpfiles.d/mailcase.conf /etc/mailcase/mailcase.toml \
    /usr/share/bash-completion/completions/mailcase /usr/share/zsh/vendor-completions/_mailcase \
    /usr/share/fish/vendor_completions.d/mailcase.fish; do
    [[ -f $f ]] || fail "$f missing"
done
grep -qx 'ExecStart=/usr/bin/mailcase --config /etc/mailcase/mailcase.toml run' "$unit" ||
    fail "the unit's ExecStart is not /usr/bin/mailcase"
for t in templates/*.tera; do
    [[ -f /usr/share/mailcase/templates/${t#templates/} ]] || fail "template $t not installed"
done
dpkg-query -W -f '${Conffiles}\n' mailcase | grep -q '^ /etc/mailcase/mailcase.toml ' ||
    fail "/etc/mailcase/mailcase.toml is not a conffile"
id mailcase || fail "postinst did not create the mailcase user"
[[ $(stat -c '%a %U' /etc/mailcase/credentials) == "700 root" ]] ||
    fail "/etc/mailcase/credentials is not 700 root"
if systemctl is-enabled mailcase 2>/dev/null | grep -qx enabled; then
    fail "the unit was enabled on install"
fi

step "mailcase check --offline on the installed files"
# Dummy secrets where the unit's LoadCredential= reads them (it needs all three; check
# --offline reads only token-key, the passwords are read at login). First with
# CREDENTIALS_DIRECTORY set as systemd sets it for the service, then as in a shell.
creds=/etc/mailcase/credentials
for name in imap-password smtp-password; do
    printf 'dummy %s\n' "$name" | install -m 600 /dev/stdin "$creds/$name"
done
printf '%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" |
    install -m 600 /dev/stdin "$creds/token-key"
out=$(CREDENTIALS_DIRECTORY=$creds /usr/bin/mailcase --config /etc/mailcase/mailcase.toml check --offline) ||
    fail "check --offline"
echo "$out"
grep -q '^templates /usr/share/mailcase/templates: ok' <<<"$out" ||
    fail "check did not read the installed templates"
# As an admin types it in a shell (README), without systemd's CREDENTIALS_DIRECTORY: the
# credentials are read from [service] credentials_dir, where the unit loads them from.
env -u CREDENTIALS_DIRECTORY /usr/bin/mailcase --config /etc/mailcase/mailcase.toml check --offline >/dev/null ||
    fail "check --offline from a shell, without CREDENTIALS_DIRECTORY"
echo "from a shell without CREDENTIALS_DIRECTORY: ok"
# As the service runs: the mailcase user, its state directory (made by systemd-tmpfiles at
# install when systemd runs; here, for a container, made the same way), credentials it can read.
[[ -d /var/lib/mailcase ]] || systemd-tmpfiles --create /usr/lib/tmpfiles.d/mailcase.conf
user_creds=$(mktemp -d)
cp "$creds"/* "$user_creds/"
chown -R mailcase: "$user_creds"
CREDENTIALS_DIRECTORY=$user_creds runuser -u mailcase -- \
    /usr/bin/mailcase --config /etc/mailcase/mailcase.toml check --offline >/dev/null ||
    fail "check --offline as the mailcase user"
rm -rf "$user_creds"
echo "as the mailcase user: ok"

step "unit"
if command -v systemd-analyze >/dev/null; then
    if command -v man >/dev/null && [[ -f /usr/share/man/man1/mailcase.1.gz ]]; then
        # Also checks that Documentation=man:mailcase(1) resolves.
        systemd-analyze verify "$unit" || fail "systemd-analyze verify $unit"
    else
        echo "man or the installed man pages are missing here: systemd-analyze verify --man=no"
        systemd-analyze verify --man=no "$unit" || fail "systemd-analyze verify $unit"
    fi
    echo "systemd-analyze verify: ok"
else
    echo "skipped systemd-analyze verify: systemd-analyze is not installed"
fi

step "man pages"
pages=(mailcase $(/usr/bin/mailcase --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF && $1 != "help" { print "mailcase-" $1 }'))
[[ ${#pages[@]} -gt 10 ]] || fail "cannot read the subcommands from mailcase --help"
if grep -qsE '^path-exclude[= ]+/usr/share/man' /etc/dpkg/dpkg.cfg /etc/dpkg/dpkg.cfg.d/*; then
    echo "dpkg is configured not to install man pages here (path-exclude): checking the package's list"
    for p in "${pages[@]}"; do
        dpkg-deb --contents "$deb" | grep -q " \./usr/share/man/man1/$p\.1\.gz$" || fail "$p.1.gz not packaged"
    done
else
    for p in "${pages[@]}"; do
        [[ -f /usr/share/man/man1/$p.1.gz ]] || fail "/usr/share/man/man1/$p.1.gz missing"
    done
    if command -v man >/dev/null; then
        man -w mailcase mailcase-check || fail "man -w mailcase"
    fi
fi
echo "${#pages[@]} pages: ${pages[*]}"

step "completions"
bash -c 'source /usr/share/bash-completion/completions/mailcase && complete -p mailcase' ||
    fail "the bash completion does not load"
grep -q '^#compdef mailcase' /usr/share/zsh/vendor-completions/_mailcase || fail "zsh completion"
grep -q '^complete -c mailcase ' /usr/share/fish/vendor_completions.d/mailcase.fish || fail "fish completion"
echo "bash, zsh, fish: ok"

step "remove: the config stays"
apt_get remove -y mailcase
[[ ! -e /usr/bin/mailcase && ! -e $unit ]] || fail "remove left the binary or the unit"
[[ ! -e /usr/share/mailcase ]] || fail "remove left /usr/share/mailcase"
[[ -f /etc/mailcase/mailcase.toml ]] || fail "remove deleted /etc/mailcase/mailcase.toml"
dpkg-query -W -f '${db:Status-Status}\n' mailcase | grep -qx config-files || fail "not in config-files state"
echo "removed; /etc/mailcase/mailcase.toml kept"

step "purge: the config goes, the secrets stay"
out=$(apt_get purge -y mailcase) || { echo "$out"; fail "apt-get purge"; }
echo "$out"
[[ ! -e /etc/mailcase/mailcase.toml ]] || fail "purge left /etc/mailcase/mailcase.toml"
[[ -f $creds/token-key ]] || fail "purge deleted the secrets in $creds"
grep -q "purge keeps $creds" <<<"$out" || fail "purge did not say it keeps $creds"
[[ ! -e /var/lib/mailcase ]] || fail "purge left an empty /var/lib/mailcase"
if dpkg-query -W -f '${db:Status-Status}\n' mailcase 2>/dev/null | grep -qv '^not-installed$'; then
    fail "still known to dpkg after purge"
fi
# The dummy secrets were ours: with them gone, nothing of the package is left in /etc.
rm -f "$creds/imap-password" "$creds/smtp-password" "$creds/token-key"
rmdir "$creds" /etc/mailcase
echo "purged; /etc/mailcase/mailcase.toml gone, $creds kept"

step "ci-check: ok"
