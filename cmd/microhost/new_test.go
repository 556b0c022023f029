package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/internal/guestbuild"
)

// requireTools stops t when a tool a scaffold needs is not installed: a failure under CI,
// where `make deps` installs them, a skip elsewhere.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed: run `make deps`", tool)
			}
			t.Skipf("%s is not installed (run `make deps`)", tool)
		}
	}
}

// requireRustc stops t, as requireTools does, when no rustc has the wasm32 target.
func requireRustc(t *testing.T) {
	t.Helper()
	if _, err := guestbuild.FindRustc(context.Background(), guestbuild.RustTarget); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// makeIn runs make in dir with args and returns its combined output.
func makeIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("make", append([]string{"-C", dir}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Run(), "make %s in %s:\n%s", strings.Join(args, " "), dir, out.String())
	return out.String()
}

// TestNewScaffoldsBuildServeAndCall writes a project in every language with only the binary,
// from a folder outside any checkout (so against the SDKs the binary carries), builds it
// with its one command, runs its own test, serves it with its config and calls it.
func TestNewScaffoldsBuildServeAndCall(t *testing.T) {
	langs := []struct {
		lang  string
		tools []string
	}{
		{"go", []string{"go"}},
		{"c", []string{"clang", "wasm-ld"}},
		{"assemblyscript", []string{"node", "npm"}},
		{"wat", []string{"wat2wasm"}},
		{"rust", nil},
	}
	for _, l := range langs {
		t.Run(l.lang, func(t *testing.T) {
			requireTools(t, append([]string{"make"}, l.tools...)...)
			if l.lang == "rust" {
				requireRustc(t)
			}
			// No --sdk, no MICROHOST_SDK and no checkout around: the binary alone.
			outside := t.TempDir()
			dir := filepath.Join(outside, "hello-world")
			out, errOut, code := cliIn(t, outside, []string{"MICROHOST_SDK="}, "new", "handler", "hello-world", "--lang", l.lang)
			require.Equal(t, 0, code, errOut)
			if l.lang != "wat" {
				assert.Contains(t, out, filepath.Join("hello-world", sdkProjectDir)+"/ (")
				assert.NoFileExists(t, filepath.Join(dir, "..", "go.mod"))
			}
			assert.Contains(t, out, "Created handler hello-world")
			assert.Contains(t, out, "make test")
			assert.Contains(t, out, "microhost call hello-world HelloWorld.Hello")
			require.FileExists(t, filepath.Join(dir, "Makefile"))
			require.FileExists(t, filepath.Join(dir, "microhost.toml"))

			makeIn(t, dir)
			require.FileExists(t, filepath.Join(dir, "hello-world.wasm"))
			out = makeIn(t, dir, "test", "MICROHOST="+binary)
			assert.Contains(t, out, "name          hello-world")
			assert.Contains(t, out, `ok    HelloWorld.Hello answered {"greeting":"Hello World"}`)

			env := []string{"MICROHOST_REGISTRY_ADDRESS=" + t.TempDir()}
			startServer(t, filepath.Join(dir, "microhost.toml"), env...)
			out, errOut, code = cli(t, env, "call", "hello-world", "HelloWorld.Hello", `{"name":"Zoë"}`)
			require.Equal(t, 0, code, errOut)
			assert.Equal(t, "{\"greeting\":\"Hello Zoë\"}\n", out)
			_, errOut, code = cli(t, env, "call", "hello-world", "HelloWorld.Hello", `{"name":""}`)
			assert.Equal(t, 1, code)
			assert.Contains(t, errOut, `"detail":"name is required"`)
		})
	}
}

// TestNewRendersTheRepositoryGreeters requires the C, AssemblyScript, WAT and Rust scaffolds,
// rendered for "greeter" inside the repository, to be the greeters under handlers/, which
// the conformance tests hold to the Go greeter's behaviour.
func TestNewRendersTheRepositoryGreeters(t *testing.T) {
	for lang, dir := range map[string]string{"c": "greeter-c", "assemblyscript": "greeter-as", "wat": "greeter-wat", "rust": "greeter-rust"} {
		t.Run(lang, func(t *testing.T) {
			out := t.TempDir()
			files, err := renderScaffold(lang, scaffoldData{Name: "greeter", SDK: "../.."}.complete(), out)
			require.NoError(t, err)
			for _, f := range files {
				got, err := os.ReadFile(filepath.Join(out, f))
				require.NoError(t, err)
				want, err := os.ReadFile(filepath.Join("..", "..", "handlers", dir, f))
				require.NoError(t, err, "handlers/%s lacks %s: render the scaffold there again", dir, f)
				assert.Equal(t, string(want), string(got), "handlers/%s/%s differs from the scaffold", dir, f)
			}
		})
	}
}

// TestNewPinsTheSDKsCompiler keeps the AssemblyScript scaffold on the compiler the SDK is
// tested with.
func TestNewPinsTheSDKsCompiler(t *testing.T) {
	pkg, err := os.ReadFile(filepath.Join("..", "..", "abi", "assemblyscript", "package.json"))
	require.NoError(t, err)
	assert.Contains(t, string(pkg), `"assemblyscript": "`+ascVersion+`"`)
}

func TestNewUsageErrors(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	runNew := func(env map[string]string, args ...string) (string, int) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"new"}, args...), &stdout, &stderr, func(k string) string { return env[k] })
		return stderr.String(), code
	}
	tmp := t.TempDir()

	errOut, code := runNew(nil, "handler", "Bad_Name", "--dir", filepath.Join(tmp, "a"))
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `bad handler name "Bad_Name"`)

	errOut, code = runNew(nil, "handler", "x", "--lang", "cobol", "--dir", filepath.Join(tmp, "b"))
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `unknown --lang "cobol"`)

	errOut, code = runNew(nil, "component", "x")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "want: new handler NAME")

	full := filepath.Join(tmp, "full")
	require.NoError(t, os.MkdirAll(full, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(full, "keep.txt"), []byte("mine"), 0o644))
	errOut, code = runNew(nil, "handler", "x", "--lang", "wat", "--dir", full)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "exists and is not empty")

	errOut, code = runNew(map[string]string{"MICROHOST_SDK": tmp}, "handler", "x", "--lang", "c", "--dir", filepath.Join(tmp, "c"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "is not a microhost checkout")

	// Outside any checkout, with nothing set, the project gets its own copy of the SDK:
	// for Go, a local module its go.mod replaces the microhost module with.
	t.Chdir(tmp)
	_, code = runNew(nil, "handler", "x", "--lang", "go", "--dir", filepath.Join(tmp, "d"))
	assert.Equal(t, 0, code)
	mod, err := os.ReadFile(filepath.Join(tmp, "d", "go.mod"))
	require.NoError(t, err)
	assert.Contains(t, string(mod), "replace github.com/microhost/microhost => ./"+sdkProjectDir)
	assert.FileExists(t, filepath.Join(tmp, "d", sdkProjectDir, "go.mod"))
	assert.FileExists(t, filepath.Join(tmp, "d", sdkProjectDir, "abi", "guest", "guest.go"))
	assert.NoFileExists(t, filepath.Join(tmp, "d", sdkProjectDir, "abi", "c", "microhost.h"))
	_, code = runNew(nil, "handler", "x", "--lang", "rust", "--dir", filepath.Join(tmp, "r"))
	assert.Equal(t, 0, code)
	info, err := os.Stat(filepath.Join(tmp, "r", sdkProjectDir, "abi", "rust", "find-rustc.sh"))
	require.NoError(t, err)
	assert.NotZero(t, info.Mode()&0o100, "find-rustc.sh must be executable")
	// WAT needs no SDK.
	_, code = runNew(nil, "handler", "x", "--lang", "wat", "--dir", filepath.Join(tmp, "e"))
	assert.Equal(t, 0, code)
	assert.FileExists(t, filepath.Join(tmp, "e", "x.wat"))
	// --sdk names the checkout; outside it, the project refers to it by absolute path.
	_, code = runNew(nil, "handler", "x", "--lang", "go", "--sdk", root, "--dir", filepath.Join(tmp, "f"))
	assert.Equal(t, 0, code)
	assert.NoDirExists(t, filepath.Join(tmp, "f", sdkProjectDir))
	mod, err = os.ReadFile(filepath.Join(tmp, "f", "go.mod"))
	require.NoError(t, err)
	assert.Contains(t, string(mod), "replace github.com/microhost/microhost => "+filepath.ToSlash(root))
}

// TestMakeBuildSkipsMissingToolchains runs the repository's Makefile with a language's tool
// made missing: the greeter is skipped with a line naming the tool and `make deps`, and the
// build goes on; under CI the same is a failure.
func TestMakeBuildSkipsMissingToolchains(t *testing.T) {
	requireTools(t, "make")
	root := filepath.Join("..", "..")
	args := []string{"-s", "-C", root, "wasm-c", "wasm-as", "wasm-rust-plugins",
		"TOOLS_c=no-such-clang", "TOOLS_as=no-such-npm", "TOOLS_rust=no-such-rustc"}
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CI=") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command("make", args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "skip  bin/plugins/greeter-c.wasm: missing no-such-clang (run `make deps`)")
	assert.Contains(t, string(out), "skip  bin/plugins/greeter-as.wasm: missing no-such-npm (run `make deps`)")
	assert.Contains(t, string(out), "skip  the Rust plugins")
	assert.NotContains(t, string(out), "Error")

	cmd = exec.Command("make", args...)
	cmd.Env = append(env, "CI=1")
	out, err = cmd.CombinedOutput()
	require.Error(t, err, "under CI a missing toolchain fails the build")
	assert.Contains(t, string(out), "skip  bin/plugins/greeter-c.wasm: missing no-such-clang")
}

// TestDocumentedMakeTargetsExist requires every `make TARGET…` line of the examples' READMEs,
// the docs pages and the README to name targets the Makefile has.
func TestDocumentedMakeTargetsExist(t *testing.T) {
	requireTools(t, "make")
	root := filepath.Join("..", "..")
	docs, err := filepath.Glob(filepath.Join(root, "examples", "*", "README.md"))
	require.NoError(t, err)
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	require.NoError(t, err)
	docs = append(append(docs, pages...), filepath.Join(root, "README.md"))
	for _, doc := range docs {
		text, err := os.ReadFile(doc)
		require.NoError(t, err)
		for line := range strings.Lines(string(text)) {
			fields := strings.Fields(strings.SplitN(line, "#", 2)[0])
			if len(fields) < 2 || fields[0] != "make" {
				continue
			}
			var targets []string
			for _, f := range fields[1:] {
				if !strings.Contains(f, "=") && !strings.HasPrefix(f, "-") {
					targets = append(targets, f)
				}
			}
			if len(targets) == 0 {
				continue
			}
			out, err := exec.Command("make", append([]string{"-n", "-C", root}, targets...)...).CombinedOutput()
			assert.NotContains(t, string(out), "No rule to make target", "%s: %s", doc, strings.TrimSpace(line))
			_ = err // a dry run may still fail for other reasons (a missing tool); the rule is what counts
		}
	}
}
