package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/guestbuild"
)

// stockFolder is a plugin folder holding the stock builds of a few plugins, and a microhost
// binary linked with their digests, as `make build` makes them.
type stockFolder struct {
	binary, dir string
	built       map[string]string // plugin name → its stock build
}

// newStockFolder builds the plugins and a binary that knows their digests.
func newStockFolder(t *testing.T, plugins ...string) *stockFolder {
	t.Helper()
	ctx := context.Background()
	f := &stockFolder{dir: t.TempDir(), built: map[string]string{}}
	var digests []string
	for _, p := range plugins {
		out, err := guestbuild.Go(ctx, "./plugins/"+p+"/wasm", t.TempDir())
		require.NoError(t, err)
		path := filepath.Join(f.dir, p+".wasm")
		require.NoError(t, copyFile(out, path))
		d, err := component.Digest(path)
		require.NoError(t, err)
		digests = append(digests, p+"="+d)
		f.built[p] = out
	}
	for _, src := range []string{"greeter.wasm"} {
		require.NoError(t, copyFile(filepath.Join(pluginDir, src), filepath.Join(f.dir, src)))
	}
	f.binary = filepath.Join(t.TempDir(), "microhost")
	cmd := exec.Command("go", "build", "-ldflags", "-X main.stockDigests="+strings.Join(digests, ","), "-o", f.binary, ".")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return f
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// componentLines returns, per component name, what the service's log says runs.
func componentLines(logs string) map[string]string {
	out := map[string]string{}
	re := regexp.MustCompile(`msg=component component=\S+ name=(\S+) runs=(\S+)`)
	for _, m := range re.FindAllStringSubmatch(logs, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// TestStockFilesRunAsNativeTwins is `make run`'s situation: the plugin folder holds the stock
// builds and the binary knows their digests, so every kind runs its native twin and says so;
// replace one file with a different build and that kind alone runs as Wasm after a restart.
func TestStockFilesRunAsNativeTwins(t *testing.T) {
	f := newStockFolder(t, "json-codec", "http-transport", "random-selector", "local-registry")
	config := filepath.Join(t.TempDir(), "config.toml")
	require.NoError(t, os.WriteFile(config, []byte(`
[service]
name = "greeter"
[server]
address = "127.0.0.1:0"
[registry]
address = "`+t.TempDir()+`"
[plugins]
dir = "`+f.dir+`"
[[handler]]
module = "greeter"
`), 0o644))

	s := startServerWith(t, f.binary, config)
	runs := componentLines(s.logs.String())
	for _, name := range []string{"json-codec", "http-transport", "random-selector", "local-registry"} {
		assert.Equal(t, "native", runs[name], "%s: %s", name, s.logs.String())
	}
	assert.Contains(t, s.logs.String(), `why="the module file is the stock build"`)
	_, _, body := post(t, s.addr, "Greeter.Hello", "application/json", `{"name":"Stock"}`)
	assert.JSONEq(t, `{"greeting":"Hello Stock"}`, body)
	s.stop(t, os.Interrupt)

	// A different build of json-codec: the same source without symbols, so other bytes.
	other := filepath.Join(t.TempDir(), "json-codec.wasm")
	cmd := exec.Command("go", "build", "-trimpath", "-buildmode=c-shared", "-ldflags=-s -w", "-o", other, "./plugins/json-codec/wasm")
	root, err := guestbuild.ModuleRoot(".")
	require.NoError(t, err)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NoError(t, copyFile(other, filepath.Join(f.dir, "json-codec.wasm")))

	s = startServerWith(t, f.binary, config)
	runs = componentLines(s.logs.String())
	assert.Equal(t, "wasm", runs["json-codec"], s.logs.String())
	for _, name := range []string{"http-transport", "random-selector", "local-registry"} {
		assert.Equal(t, "native", runs[name], "%s: %s", name, s.logs.String())
	}
	assert.Contains(t, s.logs.String(), `why="the module file is not the stock build"`)
	_, _, body = post(t, s.addr, "Greeter.Hello", "application/json", `{"name":"Wasm"}`)
	assert.JSONEq(t, `{"greeting":"Hello Wasm"}`, body)
}

// TestValidate checks a good config and reports every problem of a bad one, naming each key,
// without listening or registering anything.
func TestValidate(t *testing.T) {
	regDir := t.TempDir()
	// The extra lines go into the last [[handler]] table (testguest) before [registry].
	good := writeConfig(t, "calls = [\"greeter\", \"billing.Charge\"]\npublishes = [\"events.*\"]\n[registry]\naddress = \""+regDir+"\"\n")
	stdout, stderr, code := cli(t, nil, "validate", good)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, good+": ok\n"+
		"grants (anything not listed is denied):\n"+
		"  handler[0] greeter: calls none; publishes none; forwards none\n"+
		"  handler[1] testguest: calls greeter, billing.Charge; publishes events.*; forwards none\n", stdout)
	entries, err := os.ReadDir(regDir)
	require.NoError(t, err)
	assert.Empty(t, entries, "validate registered something")

	ctx := context.Background()
	dir := t.TempDir()
	rpc, err := guestbuild.Go(ctx, "./plugins/jsonrpc-codec/wasm", t.TempDir())
	require.NoError(t, err)
	require.NoError(t, copyFile(rpc, filepath.Join(dir, "json-codec.wasm")))
	require.NoError(t, copyFile(filepath.Join(pluginDir, "greeter.wasm"), filepath.Join(dir, "greeter.wasm")))
	bad := filepath.Join(t.TempDir(), "bad.toml")
	require.NoError(t, os.WriteFile(bad, []byte(`
[service]
name = "greeter"
[server]
address = "127.0.0.1:0"
[registry]
address = "`+regDir+`"
[plugins]
dir = "`+dir+`"
[selector]
mode = "wasm"
[transport]
mode = "native"
module = "my-transport"
[[handler]]
module = "greeter"
[[handler]]
path = "`+filepath.Join(dir, "json-codec.wasm")+`"
[[handler]]
module = "nothere"
`), 0o644))
	stdout, stderr, code = cli(t, nil, "validate", bad)
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	for _, want := range []string{
		"5 problem(s)",
		`selector "random-selector": mode is wasm but the module cannot be read`,
		"handler[1].path: load module " + filepath.Join(dir, "json-codec.wasm") + ": it is a codec module, not a handler",
		"handler[2].module: load module: open " + filepath.Join(dir, "nothere.wasm"),
		`it declares itself the codec "jsonrpc-codec", not "json-codec"`,
		`transport "my-transport" has no native twin`,
	} {
		assert.Contains(t, stderr, want)
	}

	// A config error is reported as run reports it.
	_, stderr, code = cli(t, nil, "validate", writeConfig(t, "[selector]\nmode = \"turbo\"\n"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `selector.mode: unknown mode "turbo"`)
}

// TestInspectConform runs a kind's conformance suite on a module file: the stock build passes,
// a broken module fails with each failed check named.
func TestInspectConform(t *testing.T) {
	ctx := context.Background()
	stock, err := guestbuild.Go(ctx, "./plugins/random-selector/wasm", t.TempDir())
	require.NoError(t, err)
	stdout, stderr, code := cli(t, nil, "inspect", "--conform", stock)
	require.Equal(t, 0, code, stderr)
	assert.Regexp(t, `selector "random-selector": \d+ passed, 0 failed`, stdout)

	broken, err := guestbuild.WAT(ctx, "./internal/conformance/testdata/broken-selector.wat", t.TempDir())
	require.NoError(t, err)
	stdout, stderr, code = cli(t, nil, "inspect", "--conform", broken)
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "FAIL  honours the version filter")
	assert.Contains(t, stderr, "does not conform")

	// A handler has no suite: said so, exit 1.
	_, stderr, code = cli(t, nil, "inspect", "--conform", filepath.Join(pluginDir, "greeter.wasm"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "no conformance suite for this kind")
}

// TestRustCodecServesJSON serves application/json through the codec written in Rust, in place
// of the stock json-codec, and calls the greeter through it.
func TestRustCodecServesJSON(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rust, err := guestbuild.Rust(ctx, "./plugins/json-codec-rust", dir)
	if errors.Is(err, guestbuild.ErrToolMissing) && os.Getenv("CI") == "" {
		t.Skipf("%v (make deps installs it; under CI this fails)", err)
	}
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "json-codec-rust.wasm"), rust)
	require.NoError(t, copyFile(filepath.Join(pluginDir, "greeter.wasm"), filepath.Join(dir, "greeter.wasm")))
	config := filepath.Join(t.TempDir(), "config.toml")
	require.NoError(t, os.WriteFile(config, []byte(`
[service]
name = "greeter"
[server]
address = "127.0.0.1:0"
[registry]
address = "`+t.TempDir()+`"
[plugins]
dir = "`+dir+`"
[codec]
modules = ["json-codec-rust", "proto-codec", "jsonrpc-codec", "protorpc-codec"]
[[handler]]
module = "greeter"
`), 0o644))
	s := startServer(t, config)
	assert.Equal(t, "wasm", componentLines(s.logs.String())["json-codec-rust"], s.logs.String())
	code, _, body := post(t, s.addr, "Greeter.Hello", "application/json", `{"name":"Ferris"}`)
	assert.Equal(t, 200, code)
	assert.JSONEq(t, `{"greeting":"Hello Ferris"}`, body)
	code, _, body = post(t, s.addr, "Greeter.Hello", "application/json", `{"name":`)
	assert.Equal(t, 400, code, body)
	stdout, stderr, exit := cli(t, nil, "call", "--address", s.addr, "greeter", "Greeter.Hello", `{"name":"Crab"}`)
	require.Equal(t, 0, exit, stderr)
	assert.JSONEq(t, `{"greeting":"Hello Crab"}`, stdout)
}
