package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/internal/guestbuild"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// plugins are protoc-gen-microhost built from this package and protoc-gen-go at the version
// go.mod requires, built once for the package's tests.
var plugins struct {
	microhost, gogen string
	err              error
}

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "protoc-gen-microhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	plugins.microhost = filepath.Join(dir, "protoc-gen-microhost")
	plugins.gogen = filepath.Join(dir, "protoc-gen-go")
	plugins.err = buildPlugins()
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildPlugins() error {
	for _, b := range [][]string{
		{"-o", plugins.microhost, "."},
		{"-o", plugins.gogen, "google.golang.org/protobuf/cmd/protoc-gen-go"},
	} {
		cmd := exec.Command("go", append([]string{"build"}, b...)...)
		cmd.Env = append(os.Environ(), "GOOS=", "GOARCH=")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", b[len(b)-1], err, out)
		}
	}
	return nil
}

// requireProtoc stops t when protoc is missing: a failure under CI, where `make deps`
// installs it, a skip elsewhere.
func requireProtoc(t *testing.T) {
	t.Helper()
	require.NoError(t, plugins.err)
	if _, err := exec.LookPath("protoc"); err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("protoc is not installed (scripts/deps.d/30-protoc.sh installs it)")
		}
		t.Fatal("protoc is not installed, and CI is set")
	}
}

// protoc runs protoc in dir with both plugins and args, and returns what it wrote to stderr.
func protoc(t *testing.T, dir string, args ...string) string {
	t.Helper()
	all := append([]string{
		"--plugin=protoc-gen-microhost=" + plugins.microhost,
		"--plugin=protoc-gen-go=" + plugins.gogen,
	}, args...)
	cmd := exec.Command("protoc", all...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Run(), "protoc %s: %s", strings.Join(args, " "), stderr.String())
	return stderr.String()
}

// files returns the files under dir, by slash-separated path relative to dir.
func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		out[filepath.ToSlash(rel)] = b
		return err
	}))
	return out
}

// shopArgs generate testdata's protos into out, with the Go module example.com/shop.
func shopArgs(out string, gogen bool) []string {
	args := []string{"--proto_path=.", "--microhost_out=" + out, "--microhost_opt=module=example.com/shop"}
	if gogen {
		args = append(args, "--go_out="+out, "--go_opt=module=example.com/shop")
	}
	return append(args, "common.proto", "shop.proto")
}

// The generator's output for testdata/*.proto matches testdata/golden; -update rewrites it.
func TestGolden(t *testing.T) {
	requireProtoc(t)
	out := t.TempDir()
	stderr := protoc(t, "testdata", shopArgs(out, false)...)
	got := files(t, out)
	golden := filepath.Join("testdata", "golden")
	if *update {
		require.NoError(t, os.RemoveAll(golden))
		for name, b := range got {
			path := filepath.Join(golden, filepath.FromSlash(name))
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			require.NoError(t, os.WriteFile(path, b, 0o644))
		}
	}
	want := files(t, golden)
	require.Equal(t, keys(want), keys(got))
	for name := range want {
		assert.Equal(t, string(want[name]), string(got[name]), "%s differs from its golden file; rerun with -update if the change is intended", name)
	}

	// Streaming methods are generated like the rest, with nothing to warn about.
	assert.NotContains(t, stderr, "protoc-gen-microhost")
	code := string(got["shoppb/shop.microhost.go"])
	for _, want := range []string{
		"Watch(req *GetRequest, stream Catalog_WatchStream) error",
		"Upload(stream Catalog_UploadStream) error",
		"Sync(stream Catalog_SyncStream) error",
		`rpc.HandleServerStream(abi.Endpoint{Name: "Catalog.Watch", Request: "GetRequest", Response: "Item"}, func(s *rpc.HandlerStream) error {`,
		`rpc.HandleStream(abi.Endpoint{Name: "Catalog.Sync", Request: "Item", Response: "Item"}, func(s *rpc.HandlerStream) error {`,
		"Watch(ctx context.Context, req *GetRequest, opts ...rpc.CallOption) (Catalog_WatchClientStream, error)",
		"Upload(ctx context.Context, opts ...rpc.CallOption) (Catalog_UploadClientStream, error)",
		"Sync(ctx context.Context, opts ...rpc.CallOption) (Catalog_SyncClientStream, error)",
	} {
		assert.Contains(t, code, want)
	}
	assert.NotContains(t, code, "left out")
	assert.Contains(t, code, `abi.Endpoint{Name: "Catalog.Quote", Request: "Item_Price", Response: "Money"}`)
	assert.Contains(t, code, `commonpb "example.com/shop/commonpb"`)
}

func keys(m map[string][]byte) []string {
	return slices.Sorted(maps.Keys(m))
}

// The golden output is valid Go for both targets, and works: in a module of its own beside
// protoc-gen-go's code, it passes go vet natively and for wasip1, and a test there serves the
// generated handlers and calls them through the generated clients, in JSON and protobuf.
func TestGoldenCompiles(t *testing.T) {
	requireProtoc(t)
	root, err := guestbuild.ModuleRoot(".")
	require.NoError(t, err)
	mod := t.TempDir()
	protoc(t, "testdata", shopArgs(mod, true)...)
	for name, b := range files(t, filepath.Join("testdata", "golden")) {
		require.NoError(t, os.WriteFile(filepath.Join(mod, filepath.FromSlash(name)), b, 0o644), "the golden files replace the fresh ones")
	}
	gomod := fmt.Sprintf("module example.com/shop\n\ngo 1.26\n\nrequire (\n\tgithub.com/microhost/microhost v0.0.0\n\tgoogle.golang.org/protobuf %s\n)\n\nreplace github.com/microhost/microhost => %s\n",
		requiredVersion(t, root, "google.golang.org/protobuf"), root)
	require.NoError(t, os.WriteFile(filepath.Join(mod, "go.mod"), []byte(gomod), 0o644))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(mod, "go.sum"), sum, 0o644))
	test, err := os.ReadFile(filepath.Join("testdata", "shop_test.go.txt"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(mod, "shoppb", "shop_test.go"), test, 0o644))

	run := func(env []string, args ...string) {
		t.Helper()
		cmd := exec.CommandContext(context.Background(), "go", args...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), append([]string{"GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off"}, env...)...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go %s: %s", strings.Join(args, " "), out)
	}
	run(nil, "vet", "./...")
	run([]string{"GOOS=wasip1", "GOARCH=wasm"}, "vet", "./...")
	run(nil, "test", "-count=1", "./...")
}

// requiredVersion reads module's version from the go.mod in root.
func requiredVersion(t *testing.T, root, module string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(module) + `\s+(v\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal(errors.New(module + " is not required in go.mod"))
	}
	return string(m[1])
}

// protocVersionLine is the line of protoc-gen-go's header that names the protoc that ran,
// which may differ between machines without the code differing.
var protocVersionLine = regexp.MustCompile(`(?m)^// \tprotoc +v\S+$`)

// The committed generated Go code (the greeter's, with its own messages; that of
// host/client/rpccaller's stream test module; abi/rpc's messages of every kind; and
// abi/rpc's wire test messages, with protoc-gen-go's types and with its own) is what `make
// generate` writes from its .proto now.
func TestCommittedUpToDate(t *testing.T) {
	requireProtoc(t)
	root, err := guestbuild.ModuleRoot(".")
	require.NoError(t, err)
	const wire = "github.com/microhost/microhost/abi/rpc/testdata/wire"
	for _, c := range []struct {
		name, dir, proto, pkg string
		// own generates the messages with protoc-gen-microhost (messages=microhost), not
		// protoc-gen-go; gopkg overrides the .proto's go_package.
		own   bool
		gopkg string
	}{
		{name: "greeter", dir: "handlers/greeter", proto: "greeter", pkg: "greeterpb", own: true},
		{name: "tally", dir: "host/client/rpccaller/testdata/tally", proto: "tally", pkg: "tallypb"},
		{name: "kinds", dir: "abi/rpc/testdata/kinds", proto: "kinds", pkg: "kindspb"},
		{name: "wire-go", dir: "abi/rpc/testdata/wire", proto: "wire", pkg: "gopb", gopkg: wire + "/gopb"},
		{name: "wire-own", dir: "abi/rpc/testdata/wire", proto: "wire", pkg: "ownpb", own: true, gopkg: wire + "/ownpb"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(root, filepath.FromSlash(c.dir))
			out := t.TempDir()
			opts := "paths=source_relative"
			if c.gopkg != "" {
				opts += ",M" + c.proto + ".proto=" + c.gopkg
			}
			args := []string{"--proto_path=.", "--microhost_out=" + out}
			want := []string{c.proto + ".microhost.go"}
			if c.own {
				args = append(args, "--microhost_opt="+opts+",messages=microhost")
			} else {
				args = append(args, "--microhost_opt="+opts, "--go_out="+out, "--go_opt="+opts)
				want = append(want, c.proto+".pb.go")
			}
			protoc(t, dir, append(args, c.proto+".proto")...)
			got := files(t, out)
			require.Equal(t, want, keys(got))
			for name, b := range got {
				committed, err := os.ReadFile(filepath.Join(dir, c.pkg, name))
				require.NoError(t, err)
				assert.Equal(t, protocVersionLine.ReplaceAllString(string(committed), ""), protocVersionLine.ReplaceAllString(string(b), ""),
					"%s/%s/%s is stale: run make generate", c.dir, c.pkg, name)
			}
		})
	}
}

// messages=microhost refuses a file whose messages it cannot declare, naming the field, and
// a method whose message is of a file it does not generate; an unknown messages value is
// refused with the two that exist.
func TestOwnMessagesRefused(t *testing.T) {
	requireProtoc(t)
	out := t.TempDir()
	run := func(opt string, files ...string) string {
		t.Helper()
		args := append([]string{"--plugin=protoc-gen-microhost=" + plugins.microhost, "--proto_path=.",
			"--microhost_out=" + out, "--microhost_opt=module=example.com/shop," + opt}, files...)
		cmd := exec.Command("protoc", args...)
		cmd.Dir = "testdata"
		b, err := cmd.CombinedOutput()
		require.Error(t, err, "protoc %s succeeded", opt)
		return string(b)
	}
	assert.Contains(t, run("messages=microhost", "common.proto", "shop.proto"), "shop.proto: field shop.Item.Price.amount: messages=microhost handles scalars, enums, bytes, messages of the same file, repeated ones of those and maps of them, not oneofs, optional fields or messages of other files")
	assert.Contains(t, run("messages=microhost", "choice.proto"), "choice.proto: field choice.Choice.a: messages=microhost handles")
	assert.Contains(t, run("messages=microhost", "clock.proto"), "clock.proto: method clock.Clock.Now: messages=microhost needs google.protobuf.Timestamp generated in the same run")
	assert.Contains(t, run("messages=gogo", "common.proto"), "messages=gogo: want messages=go (protoc-gen-go's message types, the default) or messages=microhost (its own)")
	assert.Empty(t, files(t, out), "nothing is written")
}
