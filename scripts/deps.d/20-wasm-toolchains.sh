#!/usr/bin/env bash
# Toolchains for handlers in languages other than Go:
#   C               clang, wasm-ld and wasi-libc (Debian: clang lld wasi-libc libclang-rt-N-dev-wasm32)
#   WAT             wat2wasm (Debian: wabt)
#   AssemblyScript  the compiler from npm, installed by `npm ci` into the SDK's and the
#                   greeter's node_modules (versions pinned by their package-lock.json)
# Each part skips itself when its tool is already there.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/deps-lib.sh

# c_ok: clang builds a WASI reactor (which needs wasm-ld, wasi-libc and the wasm32 builtins).
c_ok() {
	command -v clang >/dev/null 2>&1 || return 1
	local tmp
	tmp=$(mktemp -d)
	printf 'int answer(void) { return 42; }\n' >"$tmp/probe.c"
	if clang --target=wasm32-wasi -mexec-model=reactor -O2 -o "$tmp/probe.wasm" "$tmp/probe.c" >/dev/null 2>&1; then
		rm -rf "$tmp"
		return 0
	fi
	rm -rf "$tmp"
	return 1
}

if ! c_ok; then
	echo "deps: installing clang and wasi-libc for C handlers"
	command -v clang >/dev/null 2>&1 || apt_install clang lld
	# The wasm32 builtins package is versioned like clang itself.
	major=$(clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | sed -n 1p)
	apt_install lld wasi-libc "libclang-rt-${major:-14}-dev-wasm32"
	c_ok || { echo "deps: clang still cannot build for wasm32-wasi" >&2; exit 1; }
fi

if ! command -v wat2wasm >/dev/null 2>&1; then
	echo "deps: installing wabt for WAT handlers"
	apt_install wabt
fi

for dir in abi/assemblyscript handlers/greeter-as; do
	if [ ! -x "$dir/node_modules/.bin/asc" ]; then
		echo "deps: npm ci in $dir"
		quietly "npm-ci-$(basename "$dir")" npm ci --prefix "$dir" --no-audit --no-fund
	fi
done
