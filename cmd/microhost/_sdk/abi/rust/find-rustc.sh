#!/usr/bin/env bash
# find-rustc.sh [TARGET]: prints the path of a rustc that can build for TARGET (default
# wasm32-unknown-unknown), that is one whose sysroot holds the target's standard library.
# It tries $RUSTC when set, else every rustc on PATH in order, then /usr/bin/rustc (Debian's
# rustc + libstd-rust-dev-wasm32): a rustup toolchain first on PATH without the wasm32
# targets is skipped. When none has the target it says so on stderr and exits 1.
set -u
target=${1:-wasm32-unknown-unknown}

has_target() {
	local libdir
	libdir=$("$1" --print target-libdir --target "$target" 2>/dev/null) || return 1
	compgen -G "$libdir/libstd-*.rlib" >/dev/null
}

candidates=()
if [ -n "${RUSTC:-}" ]; then
	candidates=("$RUSTC")
else
	IFS=: read -r -a dirs <<<"${PATH:-}"
	for d in "${dirs[@]}"; do
		[ -x "${d:-.}/rustc" ] && candidates+=("${d:-.}/rustc")
	done
	candidates+=(/usr/bin/rustc)
fi
tried=()
for r in "${candidates[@]}"; do
	[ -x "$r" ] || command -v "$r" >/dev/null 2>&1 || continue
	if has_target "$r"; then
		echo "$r"
		exit 0
	fi
	tried+=("$r")
done
{
	echo "find-rustc: no rustc with the $target standard library${tried:+ (tried: ${tried[*]})}."
	echo "  Debian/Ubuntu: apt-get install rustc libstd-rust-dev-wasm32 (or \`make deps\` in a microhost checkout);"
	echo "  rustup: rustup target add $target; or set RUSTC=/path/to/rustc."
} >&2
exit 1
