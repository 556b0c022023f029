package main

import (
	"flag"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateSDK = flag.Bool("update-sdk", false, "copy the SDK sources into _sdk (go generate runs this)")

// sdkSources lists the repository's files `microhost new` embeds, relative to the
// repository root: the Go guest SDK (abi, abi/guest and abi/jsonstr, tests left out), the C header, the
// AssemblyScript package and the Rust crate.
func sdkSources(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	add := func(dir string, keep func(name string) bool) {
		entries, err := os.ReadDir(filepath.Join(root, filepath.FromSlash(dir)))
		require.NoError(t, err)
		for _, e := range entries {
			if !e.IsDir() && keep(e.Name()) {
				files = append(files, path.Join(dir, e.Name()))
			}
		}
	}
	goSource := func(name string) bool {
		return strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go")
	}
	all := func(string) bool { return true }
	add("abi", goSource)
	add("abi/guest", goSource)
	add("abi/jsonstr", goSource)
	add("abi/c", func(name string) bool { return name == "microhost.h" })
	add("abi/assemblyscript", func(name string) bool { return name != "package-lock.json" })
	add("abi/assemblyscript/assembly", all)
	add("abi/rust", all)
	add("abi/rust/src", all)
	return files
}

// TestEmbeddedSDKIsCurrent fails when the SDK copies `microhost new` embeds drift from
// the originals; `go generate ./cmd/microhost` copies them again.
func TestEmbeddedSDKIsCurrent(t *testing.T) {
	root := filepath.Join("..", "..")
	srcs := sdkSources(t, root)
	goVer, err := goVersion(root)
	require.NoError(t, err)
	want := map[string]string{sdkGoVersionFile: goVer + "\n"}
	for _, src := range srcs {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(src)))
		require.NoError(t, err)
		want[src] = string(b)
	}
	if *updateSDK {
		require.NoError(t, os.RemoveAll(sdkDir))
		for name, text := range want {
			file := filepath.Join(sdkDir, filepath.FromSlash(name))
			require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
			require.NoError(t, os.WriteFile(file, []byte(text), 0o644))
		}
		return // the binary embeds the copies from its next build on
	}
	got := map[string]string{}
	require.NoError(t, walkSDK(func(name string, text []byte) error {
		got[name] = string(text)
		return nil
	}))
	for name, text := range want {
		assert.Equal(t, text, got[name], "%s/%s differs from %s: run `go generate ./cmd/microhost`", sdkDir, name, name)
	}
	for name := range got {
		_, ok := want[name]
		assert.True(t, ok, "%s/%s has no original: run `go generate ./cmd/microhost`", sdkDir, name)
	}
}
