#!/usr/bin/env bash
# Go modules of the main module, fetched once into the module cache.
set -euo pipefail
go mod download
