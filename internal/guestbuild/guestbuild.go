// Package guestbuild builds Go guest modules from source for tests and benchmarks, so that
// every test runs against real .wasm files made from the code in this repository.
package guestbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ModuleRoot returns the directory of the go.mod that encloses dir.
func ModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		dir = parent
	}
}

// Go builds the Go package pkg (a path relative to the module root, such as
// "./handlers/greeter") as a wasip1 reactor into outDir and returns the .wasm file's path,
// named after the package's last element.
//
// Builds are shared between test packages and runs through a cache folder (see CacheDir):
// a module whose Go toolchain and sources — every file of every package it imports, outside
// the standard library — are unchanged is copied from there instead of linked again. The
// copy is the caller's own to change.
func Go(ctx context.Context, pkg, outDir string) (string, error) {
	root, err := ModuleRoot(".")
	if err != nil {
		return "", err
	}
	outDir, err = filepath.Abs(outDir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(outDir, filepath.Base(pkg)+".wasm")
	key, err := sourceKey(ctx, root, pkg)
	if err != nil {
		key = "" // built, not cached
	}
	err = throughCache(key, out, func() error {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildmode=c-shared", "-o", out, pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), wasmEnv...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s for wasip1: %w: %s", pkg, err, strings.TrimSpace(stderr.String()))
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return out, nil
}

// wasmEnv is the environment of a Go guest build.
var wasmEnv = []string{"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0"}

// CacheDir is where built modules are kept for the next test package or run:
// $MICROHOST_TEST_MODULES when set ("off" turns the cache off), else microhost/test-modules
// in the user's cache folder. Entries unused for a week are removed.
func CacheDir() string {
	switch dir := os.Getenv("MICROHOST_TEST_MODULES"); dir {
	case "off":
		return ""
	case "":
		base, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(base, "microhost", "test-modules")
	default:
		return dir
	}
}

// sourceKey hashes what a build of pkg depends on: the Go version, the package path, and the
// files of every non-standard package it imports. Packages in the module cache are named by
// their versioned folder, which never changes; the others are hashed file by file.
func sourceKey(ctx context.Context, root, pkg string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-deps",
		"-f", "{{if not .Standard}}{{.Dir}}\t{{join .GoFiles \" \"}} {{join .SFiles \" \"}} {{join .EmbedFiles \" \"}}\n{{end}}", pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), wasmEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("list %s: %w: %s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	version, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", strings.TrimSpace(string(version)), pkg, strings.Join(wasmEnv, " "))
	for line := range strings.Lines(stdout.String()) {
		dir, files, _ := strings.Cut(strings.TrimSpace(line), "\t")
		if strings.Contains(dir, "@v") { // a module cache folder: immutable
			h.Write([]byte(line))
			continue
		}
		// Builds are -trimpath: where the checkout is does not matter, only what is in it.
		name := dir
		if rel, err := filepath.Rel(root, dir); err == nil && filepath.IsLocal(rel) {
			name = rel
		}
		fmt.Fprintf(h, "%s\n", name)
		for _, f := range strings.Fields(files) {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%s %d\n", f, len(b))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// store puts a copy of the built file into the cache under key, atomically, and removes
// entries unused for a week. A failure only costs the next build.
func store(cache, key, built string) {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return
	}
	tmp, err := os.CreateTemp(cache, key+".*.tmp")
	if err != nil {
		return
	}
	tmp.Close()
	if err := copyFile(built, tmp.Name()); err != nil || os.Rename(tmp.Name(), filepath.Join(cache, key+".wasm")) != nil {
		os.Remove(tmp.Name())
		return
	}
	entries, _ := os.ReadDir(cache)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > 7*24*time.Hour {
			os.Remove(filepath.Join(cache, e.Name()))
		}
	}
}

// copyFile copies src to dst, replacing dst.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// SwapVariants is how many variants (see Variant) of each stock plugin the swap tests load:
// variants 1 to SwapVariants, which the suite's warm-up compiles ahead.
const SwapVariants = 2

// Variant returns wasm with a custom section named microhost-test-build, holding n, appended:
// another build of the same module, with another digest and the same behaviour, for the
// tests that swap one build of a module for another.
func Variant(wasm []byte, n int) []byte {
	name := "microhost-test-build"
	payload := fmt.Sprint(n)
	out := make([]byte, 0, len(wasm)+3+len(name)+len(payload))
	out = append(out, wasm...)
	out = append(out, 0, byte(1+len(name)+len(payload)), byte(len(name)))
	out = append(out, name...)
	return append(out, payload...)
}
