package host_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCoreImportsNoPlugin holds the component model's one layering rule: the core owns the
// interfaces and plugins depend on it, never the reverse. No package under host/ may depend,
// directly or not, on a package under plugins/ (test files aside); the command fills the
// catalogue with the stock twins through plugins/standard.
func TestCoreImportsNoPlugin(t *testing.T) {
	const module = "github.com/microhost/microhost"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, module+"/host/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 10 {
		t.Fatalf("go list found only %d host packages:\n%s", len(lines), out)
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
