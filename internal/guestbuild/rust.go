package guestbuild

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// RustTarget is the target Rust guests are built for: no WASI imports, the standard
// library's allocator, a panic traps.
const RustTarget = "wasm32-unknown-unknown"

// RustFlags are the rustc flags every Rust guest (and the SDK under it) is built with, as
// the scaffold's Makefile does.
var RustFlags = []string{"--edition", "2021", "--target", RustTarget, "-C", "opt-level=3", "-C", "lto", "-C", "strip=symbols", "-C", "target-feature=+bulk-memory"}

// FindRustc returns a rustc that can build for target: $RUSTC when set, else the first
// rustc on PATH whose sysroot holds the target's standard library, else /usr/bin/rustc
// (Debian's rustc with libstd-rust-dev-wasm32). A rustup toolchain without the wasm32
// targets, first on PATH, is passed over. When none has the target, the error wraps
// ErrToolMissing and lists the ones tried. abi/rust/find-rustc.sh does the same for
// Makefiles.
func FindRustc(ctx context.Context, target string) (string, error) {
	var candidates []string
	if r := os.Getenv("RUSTC"); r != "" {
		candidates = []string{r}
	} else {
		for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
			if dir == "" {
				dir = "."
			}
			candidates = append(candidates, filepath.Join(dir, "rustc"))
		}
		candidates = append(candidates, "/usr/bin/rustc")
	}
	var tried []string
	seen := map[string]bool{}
	for _, c := range candidates {
		path, err := exec.LookPath(c)
		if err != nil || seen[path] {
			continue
		}
		seen[path] = true
		tried = append(tried, path)
		out, err := exec.CommandContext(ctx, path, "--print", "target-libdir", "--target", target).Output()
		if err != nil {
			continue
		}
		if libs, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "libstd-*.rlib")); len(libs) > 0 {
			return path, nil
		}
	}
	triedText := "none found"
	if len(tried) > 0 {
		triedText = "tried " + strings.Join(tried, ", ")
	}
	return "", fmt.Errorf("no rustc with the %s standard library (%s; Debian: rustc libstd-rust-dev-wasm32, rustup: rustup target add %s): %w",
		target, triedText, target, ErrToolMissing)
}

// Rust builds the Rust handler project in dir (relative to the module root, such as
// "./handlers/greeter-rust"): the SDK (abi/rust) as an rlib, then dir/src/lib.rs as a
// cdylib against it, with plain rustc and no crate registry, into outDir/<dir's name>.wasm,
// and returns that path. The crate is named after dir, dashes made underscores.
func Rust(ctx context.Context, dir, outDir string) (string, error) {
	rustc, err := FindRustc(ctx, RustTarget)
	if err != nil {
		return "", fmt.Errorf("build %s: %w", dir, err)
	}
	root, dir, err := resolve(dir)
	if err != nil {
		return "", err
	}
	src := filepath.Join(dir, "src", "lib.rs")
	if _, err := os.Stat(src); err != nil {
		return "", fmt.Errorf("build %s: %w", dir, err)
	}
	name := filepath.Base(dir)
	out, err := output(outDir, name)
	if err != nil {
		return "", err
	}
	crate := strings.ReplaceAll(name, "-", "_")
	sdkSrc := filepath.Join(root, "abi", "rust", "src")
	flags := append(append([]string{}, RustFlags...), "--crate-name", crate)
	key := inputKey(ctx, "rust", root, rustc, []string{"-vV"}, flags, filepath.Join(dir, "src"), sdkSrc)
	err = throughCache(key, out, func() error {
		sdk := filepath.Join(filepath.Dir(out), "rust-sdk-"+name)
		if err := os.MkdirAll(sdk, 0o755); err != nil {
			return err
		}
		defer os.RemoveAll(sdk)
		rlib := filepath.Join(sdk, "libmicrohost.rlib")
		args := append(append([]string{}, RustFlags...), "--crate-type", "rlib", "--crate-name", "microhost", "-o", rlib, filepath.Join(sdkSrc, "lib.rs"))
		if err := runTool(ctx, root, rustc, args...); err != nil {
			return fmt.Errorf("build the Rust SDK with %s: %w", rustc, err)
		}
		args = append(append([]string{}, RustFlags...), "--crate-type", "cdylib", "--crate-name", crate,
			"--extern", "microhost="+rlib, "-o", out, src)
		if err := runTool(ctx, dir, rustc, args...); err != nil {
			return fmt.Errorf("build %s with %s: %w", dir, rustc, err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return out, nil
}
