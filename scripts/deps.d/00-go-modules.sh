#!/usr/bin/env bash
# Go modules of the main module, fetched once into the module cache.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/deps-lib.sh
quietly go-mod-download go mod download
