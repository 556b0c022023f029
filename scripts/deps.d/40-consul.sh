#!/usr/bin/env bash
# A real Consul agent for the registry tests, at bin/tools/consul. Skipped when consul is on
# PATH or already there.
#
# By default it is Debian's build of Consul 1.8.7 (bullseye's consul package), downloaded from
# deb.debian.org, checked against the SHA-256 pinned below, and unpacked without installing
# the package: seconds, where building Consul takes five to six minutes on two cores.
# CONSUL_FROM=source builds Consul 1.15.4 instead, from the Go module tools/consul pins; the
# suite passes against both (docs/registries.md). When the download fails, it builds too.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/deps-lib.sh
if command -v consul >/dev/null 2>&1; then
	echo "consul: $(command -v consul)"
	exit 0
fi
if [ -x bin/tools/consul ]; then
	exit 0
fi
mkdir -p bin/tools

DEB_URL=http://deb.debian.org/debian/pool/main/c/consul/consul_1.8.7+dfsg1-2+b3_amd64.deb
DEB_SHA256=e4e888bba104daba1d9161f49bfc52649a7e4efd45b1a7ead5bc54f2cb9c89d9

# from_debian: fetches the package, checks it and takes its binary; fails without a trace.
from_debian() {
	[ "$(uname -m)" = x86_64 ] || return 1
	command -v curl >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 || return 1
	local tmp
	tmp=$(mktemp -d)
	if curl -fsS --retry 2 -m 120 -o "$tmp/consul.deb" "$DEB_URL" &&
		echo "$DEB_SHA256  $tmp/consul.deb" | sha256sum -c --status &&
		dpkg-deb --fsys-tarfile "$tmp/consul.deb" | tar -xO ./usr/bin/consul >"$tmp/consul" &&
		chmod +x "$tmp/consul" && "$tmp/consul" version >/dev/null; then
		mv "$tmp/consul" bin/tools/consul
		rm -rf "$tmp"
		return 0
	fi
	rm -rf "$tmp"
	return 1
}

# from_source: builds the pinned module. A build is kept in the user's cache folder, under a
# key of what it is built from (the pinned module versions and the Go version), so that a
# fresh checkout copies it instead of linking it again.
from_source() {
	local key cached
	key=$(cat tools/consul/go.mod tools/consul/go.sum <(go version) | sha256sum | cut -c1-16)
	cached="${XDG_CACHE_HOME:-$HOME/.cache}/microhost/tools/consul-$key"
	if [ -x "$cached" ]; then
		cp "$cached" bin/tools/consul
		echo "consul: copied the build kept in $cached"
		return 0
	fi
	echo "consul: building bin/tools/consul from tools/consul (five to six minutes on two cores)"
	# A line every 30 s while it builds; the compiler's output goes to bin/deps-logs/consul.log.
	quietly consul go -C tools/consul build -trimpath -o ../../bin/tools/consul github.com/hashicorp/consul
	# Kept builds of other keys are stale: each is about 150 MB.
	mkdir -p "$(dirname "$cached")" && rm -f "$(dirname "$cached")"/consul-* &&
		cp bin/tools/consul "$cached.tmp.$$" && mv "$cached.tmp.$$" "$cached" || rm -f "$cached.tmp.$$"
}

case "${CONSUL_FROM:-debian}" in
debian)
	if from_debian; then
		echo "consul: took Debian's build from $DEB_URL"
	else
		echo "consul: could not take Debian's build from $DEB_URL; building from source instead"
		from_source
	fi
	;;
source) from_source ;;
*)
	echo "consul: CONSUL_FROM is debian or source, not ${CONSUL_FROM}" >&2
	exit 2
	;;
esac
# sed reads the whole output, so the pipeline cannot die of SIGPIPE under pipefail.
bin/tools/consul version | sed -n 1p
