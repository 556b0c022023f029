#!/usr/bin/env bash
# A real Consul agent for the registry tests: bin/tools/consul, built from the Go module the
# tools/consul module pins (github.com/hashicorp/consul v1.15.4). Skipped when consul is on
# PATH or already built. A cold build takes a few minutes; Go's build cache makes reruns fast.
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
echo "consul: building bin/tools/consul from tools/consul (a few minutes the first time)"
mkdir -p bin/tools
# A line every 30 s while it builds; the compiler's output goes to bin/deps-logs/consul.log.
quietly consul go -C tools/consul build -trimpath -o ../../bin/tools/consul github.com/hashicorp/consul
# sed reads the whole output, so the pipeline cannot die of SIGPIPE under pipefail.
bin/tools/consul version | sed -n 1p
