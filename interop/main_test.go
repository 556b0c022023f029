// Package interop proves that microhost and Go Micro v2.9.1 call each other over Go Micro's
// mucp HTTP protocol, with every stock codec in both its Wasm and its native form. It is a
// module of its own so that Go Micro's dependencies stay out of the main module.
package interop

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pluginDir holds greeter.wasm, counter.wasm (the stream example), the transport and the four
// codec modules, built from this repository.
var pluginDir string

// codecModules are the stock codecs' Wasm twins.
var codecModules = []string{"json-codec", "proto-codec", "jsonrpc-codec", "protorpc-codec"}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "microhost-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	pluginDir = dir
	pkgs := map[string]string{"greeter": "./handlers/greeter", "counter": "./handlers/counter", "http-transport": "./plugins/http-transport/wasm"}
	for _, c := range codecModules {
		pkgs[c] = "./plugins/" + c + "/wasm"
	}
	for name, pkg := range pkgs {
		if err := buildWasm(pkg, filepath.Join(dir, name+".wasm")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

// buildWasm builds a Go guest package of the main module (the parent directory) for wasip1.
func buildWasm(pkg, out string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-buildmode=c-shared", "-o", out, pkg)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s: %w: %s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
