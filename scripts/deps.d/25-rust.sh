#!/usr/bin/env bash
# Rust toolchain for handlers in Rust (abi/rust): a rustc with the wasm32 standard libraries.
# Debian packages them as rustc and libstd-rust-dev-wasm32 (bookworm: 1.63), which need no
# crate registry. A rustup toolchain first on PATH without the wasm32 targets is no use (rustup
# cannot download them offline), so the check probes every rustc on PATH and /usr/bin/rustc.
# Skips itself when one of them already builds for wasm32.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/deps-lib.sh

# rust_ok: some rustc has the wasm32-unknown-unknown standard library (abi/rust/find-rustc.sh).
rust_ok() { abi/rust/find-rustc.sh >/dev/null 2>&1; }

if ! rust_ok; then
	echo "deps: installing rustc and the wasm32 standard library for Rust handlers"
	apt_install rustc libstd-rust-dev-wasm32
	rust_ok || { echo "deps: no rustc on PATH or at /usr/bin/rustc builds for wasm32-unknown-unknown" >&2; exit 1; }
fi
