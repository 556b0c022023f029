#!/usr/bin/env bash
# A real Consul agent for the registry tests: bin/tools/consul, built from the Go module the
# tools/consul module pins (github.com/hashicorp/consul v1.15.4). Skipped when consul is on
# PATH or already built. A cold build takes a few minutes; Go's build cache makes reruns fast,
# and a kept build (below) makes a fresh checkout's fast.
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
# A build is kept in the user's cache folder, under a key of what it is built from (the
# pinned module versions and the Go version), so that a fresh checkout copies it instead of
# linking it again.
key=$(cat tools/consul/go.mod tools/consul/go.sum <(go version) | sha256sum | cut -c1-16)
cached="${XDG_CACHE_HOME:-$HOME/.cache}/microhost/tools/consul-$key"
if [ -x "$cached" ]; then
	cp "$cached" bin/tools/consul
	echo "consul: copied the build kept in $cached"
else
	echo "consul: building bin/tools/consul from tools/consul (a few minutes the first time)"
	# A line every 30 s while it builds; the compiler's output goes to bin/deps-logs/consul.log.
	quietly consul go -C tools/consul build -trimpath -o ../../bin/tools/consul github.com/hashicorp/consul
	# Kept builds of other keys are stale: each is about 150 MB.
	mkdir -p "$(dirname "$cached")" && rm -f "$(dirname "$cached")"/consul-* &&
		cp bin/tools/consul "$cached.tmp.$$" && mv "$cached.tmp.$$" "$cached" || rm -f "$cached.tmp.$$"
fi
# sed reads the whole output, so the pipeline cannot die of SIGPIPE under pipefail.
bin/tools/consul version | sed -n 1p
