#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine that has Go, Node and the package
# registries. Each step in scripts/deps.d runs in name order and skips itself when its tool is
# already present, so a second run costs almost nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
for step in scripts/deps.d/*.sh; do
	[ -e "$step" ] || continue
	bash "$step"
done
