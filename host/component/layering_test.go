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

// TestCoreImportsNoPlugin holds the component model's one layering rule: the core owns the
// interfaces and plugins depend on it, never the reverse. No core package may depend,
// directly or not, on a package under plugins/ (test files aside); the command fills the
// catalogue with the stock twins through plugins/standard.
func TestCoreImportsNoPlugin(t *testing.T) {
	const module = "github.com/microhost/microhost"
	args := []string{"list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`}
	for _, p := range core {
		args = append(args, module+"/"+p)
	}
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < len(core)+3 {
		t.Fatalf("go list found only %d core packages:\n%s", len(lines), out)
	}
	for _, line := range lines {
		fields := strings.Fields(line)
		var bad []string
		for _, dep := range fields[1:] {
			if strings.HasPrefix(dep, module+"/plugins/") {
				bad = append(bad, strings.TrimPrefix(dep, module+"/"))
			}
		}
		if len(bad) > 0 {
			t.Errorf("%s depends on %s", strings.TrimPrefix(fields[0], module+"/"), strings.Join(bad, ", "))
		}
	}
}

// TestGuestsStaySmall holds what keeps the Go modules small: a package a guest imports
// brings its whole initialisation into the module, used or not. No stock component build
// (but the Consul registry's, whose Consul client speaks HTTP) and no Go handler may link
// net/http, which costs a module about 2 MB and its start-up the same share; the greeter,
// whose messages protoc-gen-microhost generates, may not link the protobuf runtime either.
func TestGuestsStaySmall(t *testing.T) {
	const module = "github.com/microhost/microhost"
	forbidden := map[string]string{
		"net/http":   "2 MB of HTTP and TLS (a status code is a number: see abi.StatusText)",
		"crypto/tls": "TLS",
	}
	check := func(pkg string, extra map[string]string) {
		t.Helper()
		cmd := exec.Command("go", "list", "-deps", module+"/"+pkg)
		cmd.Env = append(cmd.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list %s found only %v", pkg, deps)
		}
		for _, dep := range deps {
			if why, ok := forbidden[dep]; ok {
				t.Errorf("%s links %s: %s", pkg, dep, why)
			}
			if why, ok := extra[dep]; ok {
				t.Errorf("%s links %s: %s", pkg, dep, why)
			}
		}
	}
	for _, p := range []string{"json-codec", "proto-codec", "jsonrpc-codec", "protorpc-codec", "http-transport", "random-selector", "http-broker", "local-registry"} {
		check("plugins/"+p+"/wasm", nil)
	}
	for _, h := range []string{"api", "counter", "publisher", "subscriber"} {
		check("handlers/"+h, nil)
	}
	check("handlers/greeter", map[string]string{
		"google.golang.org/protobuf/proto":             "the protobuf runtime (the greeter's messages are protoc-gen-microhost's own)",
		"google.golang.org/protobuf/runtime/protoimpl": "the protobuf runtime (the greeter's messages are protoc-gen-microhost's own)",
	})
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
		"github.com/microhost/microhost/plugins/json-codec/wasm")
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
