package component_test

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// core lists the packages of the core: the public host packages and the internal ones they
// are built from. The command, the tests and the test tools may use plugins (through
// plugins/standard); these may not.
var core = []string{
	"host/...",
	"internal/host", "internal/broker", "internal/codec", "internal/conformance",
	"internal/registry", "internal/registrycache", "internal/selector", "internal/server",
	"internal/transport", "internal/wasmcomponent",
}

// module is the project's module path.
const module = "github.com/microhost/microhost"

// listDeps returns the dependencies, direct or not, of each of pkgs (paths in the module),
// by package path, as `go list` sees them with env added (GOOS, GOARCH).
func listDeps(t *testing.T, env []string, pkgs ...string) map[string][]string {
	t.Helper()
	args := []string{"list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`}
	for _, p := range pkgs {
		args = append(args, module+"/"+p)
	}
	cmd := exec.Command("go", args...)
	cmd.Env = append(cmd.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		deps[strings.TrimPrefix(fields[0], module+"/")] = fields[1:]
	}
	return deps
}

// TestCoreImportsNoPlugin holds the component model's one layering rule: the core owns the
// interfaces and plugins depend on it, never the reverse. No core package may depend,
// directly or not, on a package under plugins/ (test files aside); the command fills the
// catalogue with the stock twins through plugins/standard.
func TestCoreImportsNoPlugin(t *testing.T) {
	all := listDeps(t, nil, core...)
	if len(all) < len(core)+3 {
		t.Fatalf("go list found only %d core packages: %v", len(all), all)
	}
	for pkg, deps := range all {
		var bad []string
		for _, dep := range deps {
			if strings.HasPrefix(dep, module+"/plugins/") {
				bad = append(bad, strings.TrimPrefix(dep, module+"/"))
			}
		}
		if len(bad) > 0 {
			t.Errorf("%s depends on %s", pkg, strings.Join(bad, ", "))
		}
	}
}

// TestGuestsStaySmall holds what keeps the Go modules small: a package a guest imports
// brings its whole initialisation into the module, used or not. No stock component build
// (but the Consul registry's, whose Consul client speaks HTTP) and no Go handler may link
// net/http, which costs a module about 2 MB and its start-up the same share; the greeter,
// whose messages protoc-gen-microhost generates, may not link the protobuf runtime either.
func TestGuestsStaySmall(t *testing.T) {
	const runtime = "the protobuf runtime (the greeter's messages are protoc-gen-microhost's own)"
	forbidden := map[string]map[string]string{}
	for _, p := range []string{"json-codec", "proto-codec", "jsonrpc-codec", "protorpc-codec", "http-transport", "random-selector", "http-broker", "local-registry"} {
		forbidden["plugins/"+p+"/wasm"] = nil
	}
	for _, h := range []string{"api", "counter", "publisher", "subscriber"} {
		forbidden["handlers/"+h] = nil
	}
	forbidden["handlers/greeter"] = map[string]string{
		"google.golang.org/protobuf/proto":             runtime,
		"google.golang.org/protobuf/runtime/protoimpl": runtime,
	}
	everywhere := map[string]string{
		"net/http":   "2 MB of HTTP and TLS (a status code is a number: see abi.StatusText)",
		"crypto/tls": "TLS",
	}
	pkgs := make([]string, 0, len(forbidden))
	for p := range forbidden {
		pkgs = append(pkgs, p)
	}
	all := listDeps(t, []string{"GOOS=wasip1", "GOARCH=wasm"}, pkgs...)
	for pkg, extra := range forbidden {
		deps, ok := all[pkg]
		if !ok || len(deps) < 10 {
			t.Fatalf("go list found for %s only %v", pkg, deps)
		}
		for _, dep := range deps {
			if why, ok := everywhere[dep]; ok {
				t.Errorf("%s links %s: %s", pkg, dep, why)
			}
			if why, ok := extra[dep]; ok {
				t.Errorf("%s links %s: %s", pkg, dep, why)
			}
		}
	}
}

// TestComponentsNeedNoEncodingJSON holds that a stock component build links no encoding/json
// code: the SDK writes its descriptor and errors itself (abi.Descriptor.AppendJSON,
// abi.Error.Error), which took 0.36 MB, a tenth, off each module. encoding/json stays
// imported by the SDK for guest.HandleJSON, so the linker's own record of what it keeps
// (-dumpdep) is what is checked, on the JSON codec's build.
func TestComponentsNeedNoEncodingJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds a module")
	}
	out := filepath.Join(t.TempDir(), "json-codec.wasm")
	cmd := exec.Command("go", "build", "-trimpath", "-buildmode=c-shared", "-ldflags=-dumpdep", "-o", out,
		module+"/plugins/json-codec/wasm")
	cmd.Env = append(cmd.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	deps, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, deps)
	}
	if !strings.Contains(string(deps), "->") {
		t.Fatalf("the linker printed no dependencies:\n%s", deps)
	}
	if m := regexp.MustCompile(`(?m)^(\S+) -> encoding/json\.(Marshal|Unmarshal|NewEncoder|NewDecoder)\b`).FindSubmatch(deps); m != nil {
		t.Errorf("the JSON codec's module links encoding/json: %s calls it", m[1])
	}
}
