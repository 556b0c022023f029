// Package guestbuild builds Go guest modules from source for tests and benchmarks, so that
// every test runs against real .wasm files made from the code in this repository.
package guestbuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
func Go(ctx context.Context, pkg, outDir string) (string, error) {
	root, err := ModuleRoot(".")
	if err != nil {
		return "", err
	}
	out := filepath.Join(outDir, filepath.Base(pkg)+".wasm")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildmode=c-shared", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build %s for wasip1: %w: %s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
