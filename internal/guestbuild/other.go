package guestbuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrToolMissing is wrapped by the builders' errors when a compiler is not installed;
// `make deps` installs them all.
var ErrToolMissing = errors.New("toolchain missing (run `make deps`)")

// CFlags are the clang flags every C guest is built with: a WASI reactor, optimised and
// stripped, warnings as errors.
var CFlags = []string{"--target=wasm32-wasi", "-mexec-model=reactor", "-O2", "-s", "-Wall", "-Wextra", "-Werror"}

// C builds the .c files of dir (relative to the module root, such as "./handlers/greeter-c")
// with clang and wasi-libc, with the C SDK (abi/c) on the include path, into
// outDir/<dir's name>.wasm, and returns that path.
func C(ctx context.Context, dir, outDir string) (string, error) {
	clang, err := exec.LookPath("clang")
	if err != nil {
		return "", fmt.Errorf("build %s: clang: %w", dir, ErrToolMissing)
	}
	root, dir, err := resolve(dir)
	if err != nil {
		return "", err
	}
	srcs, err := filepath.Glob(filepath.Join(dir, "*.c"))
	if err != nil || len(srcs) == 0 {
		return "", fmt.Errorf("build %s: no .c files", dir)
	}
	out, err := output(outDir, filepath.Base(dir))
	if err != nil {
		return "", err
	}
	sdk := filepath.Join(root, "abi", "c")
	key := inputKey(ctx, "c", root, clang, []string{"--version"}, CFlags, append([]string{sdk}, srcs...)...)
	err = throughCache(key, out, func() error {
		args := append(append([]string{}, CFlags...), "-I", sdk, "-o", out)
		if err := runTool(ctx, root, clang, append(args, srcs...)...); err != nil {
			if missingWASISysroot(err.Error()) {
				return fmt.Errorf("build %s with clang: wasi-libc or the wasm32 runtime library: %w: %w", dir, ErrToolMissing, err)
			}
			return fmt.Errorf("build %s with clang: %w", dir, err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return out, nil
}

// missingWASISysroot recognises clang's complaints when wasi-libc (the headers and libc.a of
// the wasm32-wasi sysroot), wasm-ld or the wasm32 builtins are not installed.
func missingWASISysroot(out string) bool {
	for _, sign := range []string{"'stdlib.h' file not found", "'stdint.h' file not found", "crt1-reactor.o", "libclang_rt.builtins-wasm32", "unable to execute command", `"wasm-ld"`} {
		if strings.Contains(out, sign) {
			return true
		}
	}
	return false
}

// AssemblyScript builds the AssemblyScript project in dir (assembly/index.ts with the
// project's asconfig.json, its compiler from the project's node_modules, which `npm ci`
// installs) into outDir/<dir's name>.wasm, and returns that path.
func AssemblyScript(ctx context.Context, dir, outDir string) (string, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("build %s: node: %w", dir, ErrToolMissing)
	}
	root, dir, err := resolve(dir)
	if err != nil {
		return "", err
	}
	asc := filepath.Join(dir, "node_modules", "assemblyscript", "bin", "asc.js")
	if _, err := os.Stat(asc); err != nil {
		return "", fmt.Errorf("build %s: the AssemblyScript compiler is not in its node_modules (npm ci there): %w", dir, ErrToolMissing)
	}
	out, err := output(outDir, filepath.Base(dir))
	if err != nil {
		return "", err
	}
	// The key: node's version, the project (its lock file pins the compiler) and the SDK it
	// links to from node_modules.
	inputs := []string{filepath.Join(dir, "assembly"), filepath.Join(dir, "asconfig.json"), filepath.Join(dir, "package-lock.json")}
	if sdk, err := filepath.EvalSymlinks(filepath.Join(dir, "node_modules", "@microhost", "guest")); err == nil {
		inputs = append(inputs, sdk)
	}
	flags := []string{"--target", "release"}
	err = throughCache(inputKey(ctx, "assemblyscript", root, node, []string{"--version"}, flags, inputs...), out, func() error {
		args := append([]string{asc, filepath.Join("assembly", "index.ts")}, flags...)
		if err := runTool(ctx, dir, node, append(args, "--outFile", out)...); err != nil {
			return fmt.Errorf("build %s with asc: %w", dir, err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return out, nil
}

// WAT assembles WebAssembly text with wat2wasm (WABT) into outDir and returns the .wasm
// file's path. src is a .wat file, whose name the output takes, or a directory holding one,
// whose name the output takes.
func WAT(ctx context.Context, src, outDir string) (string, error) {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		return "", fmt.Errorf("assemble %s: wat2wasm: %w", src, ErrToolMissing)
	}
	root, src, err := resolve(src)
	if err != nil {
		return "", err
	}
	file, name := src, strings.TrimSuffix(filepath.Base(src), ".wat")
	if fi, err := os.Stat(src); err == nil && fi.IsDir() {
		files, _ := filepath.Glob(filepath.Join(src, "*.wat"))
		if len(files) != 1 {
			return "", fmt.Errorf("assemble %s: want one .wat file, found %d", src, len(files))
		}
		file, name = files[0], filepath.Base(src)
	}
	out, err := output(outDir, name)
	if err != nil {
		return "", err
	}
	if err := runTool(ctx, root, wat2wasm, file, "-o", out); err != nil {
		return "", fmt.Errorf("assemble %s: %w", file, err)
	}
	return out, nil
}

// resolve returns the module root and p made absolute against it.
func resolve(p string) (root, abs string, err error) {
	root, err = ModuleRoot(".")
	if err != nil {
		return "", "", err
	}
	if filepath.IsAbs(p) {
		return root, filepath.Clean(p), nil
	}
	return root, filepath.Join(root, p), nil
}

func output(outDir, name string) (string, error) {
	outDir, err := filepath.Abs(outDir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	return filepath.Join(outDir, name+".wasm"), nil
}

func runTool(ctx context.Context, dir, tool string, args ...string) error {
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Dir = dir
	var combined bytes.Buffer
	cmd.Stdout, cmd.Stderr = &combined, &combined
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(combined.String()))
	}
	return nil
}
