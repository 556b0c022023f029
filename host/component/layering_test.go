package component_test

import (
	"os/exec"
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
