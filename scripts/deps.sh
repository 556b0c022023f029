#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine that has Go, Node and the package
# registries. Each step in scripts/deps.d runs in name order and skips itself when its tool is
# already present, so a second run costs almost nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
# One line per step; each step's long commands log to bin/deps-logs, shown on failure.
steps=(scripts/deps.d/*.sh)
# The package lists are updated once per run, by the first step that installs a package,
# which then leaves this file.
export DEPS_APT_STAMP=${DEPS_LOG_DIR:-bin/deps-logs}/apt-updated.$$
trap 'rm -f "$DEPS_APT_STAMP"' EXIT
n=0
for step in "${steps[@]}"; do
	[ -e "$step" ] || continue
	n=$((n + 1))
	start=$SECONDS
	echo "deps: [$n/${#steps[@]}] $(basename "$step" .sh)"
	bash "$step"
	echo "deps: [$n/${#steps[@]}] $(basename "$step" .sh): ok ($((SECONDS - start)) s)"
done
