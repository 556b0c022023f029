package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/internal/guestbuild"
)

func TestInspectGreeter(t *testing.T) {
	wasm := filepath.Join(pluginDir, "greeter.wasm")
	out, errOut, code := cli(t, nil, "inspect", wasm)
	require.Equal(t, 0, code, errOut)
	for _, want := range []string{
		"kind          handler",
		"name          greeter",
		"version       1.0.0",
		"abi version   1",
		"endpoints     Greeter.Hello (HelloRequest -> HelloResponse)",
		"host imports  error, log, request_body, request_endpoint, request_header, response_body",
		"wasi imports  ",
		"memory        initial ",
		"status        loads",
	} {
		assert.Contains(t, out, want)
	}

	out, errOut, code = cli(t, nil, "inspect", "--json", wasm)
	require.Equal(t, 0, code, errOut)
	var info infoJSON
	require.NoError(t, json.Unmarshal([]byte(out), &info))
	fi, err := os.Stat(wasm)
	require.NoError(t, err)
	assert.Equal(t, fi.Size(), info.Size)
	assert.Equal(t, 1, info.ABIVersion)
	assert.Equal(t, "greeter", info.Descriptor.Name)
	assert.Contains(t, info.Exports, "microhost_handle")
	require.NotNil(t, info.Memory)
	assert.Positive(t, info.Memory.MinPages)
	assert.Empty(t, info.Refused)

	out, errOut, code = cli(t, nil, "inspect", "--call", "Greeter.Hello", "--body", `{"name":"Ann"}`, wasm)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "{\"greeting\":\"Hello Ann\"}\n", out)
	_, errOut, code = cli(t, nil, "inspect", "--call", "Greeter.Hello", "--body", `{"name":""}`, wasm)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `{"id":"greeter","code":400,"detail":"name is required","status":"Bad Request"}`)
}

// TestInspectExplainsRefusals inspects modules the host refuses and checks each says why.
func TestInspectExplainsRefusals(t *testing.T) {
	dir := t.TempDir()
	notWasm := filepath.Join(dir, "notes.wasm")
	require.NoError(t, os.WriteFile(notWasm, []byte("hello"), 0o644))
	out, errOut, code := cli(t, nil, "inspect", notWasm)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "status  refused:")
	assert.Contains(t, errOut, "the host refuses this module")
	assert.Contains(t, errOut, "not a WebAssembly binary")

	_, errOut, code = cli(t, nil, "inspect", filepath.Join(dir, "absent.wasm"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "absent.wasm")

	_, errOut, code = cli(t, nil, "inspect")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "want exactly one .wasm file")

	cases := map[string]struct{ wat, want string }{
		"v2": {`(module (memory (export "memory") 1)
			(func (export "microhost_abi_version_2"))
			(func (export "microhost_describe") (result i64) (i64.const 0))
			(func (export "microhost_handle") (param i32 i32) (result i32) (i32.const 0)))`,
			"module is built for ABI version 2, this host speaks version 1"},
		"foreign-import": {`(module (import "env" "abort" (func)) (memory (export "memory") 1)
			(func (export "microhost_abi_version_1")))`,
			`imports env.abort: only the "microhost" and "wasi_snapshot_preview1" namespaces are provided`},
		"bad-descriptor": {`(module (memory (export "memory") 1) (data (i32.const 0) "{\"kind\":\"gizmo\",\"name\":\"x\"}")
			(func (export "microhost_abi_version_1"))
			(func (export "microhost_describe") (result i64) (i64.const 27))
			(func (export "microhost_handle") (param i32 i32) (result i32) (i32.const 0)))`,
			`descriptor kind "gizmo" is not one this host knows`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), name+".wat")
			require.NoError(t, os.WriteFile(src, []byte(c.wat), 0o644))
			wasm, err := guestbuild.WAT(context.Background(), src, t.TempDir())
			if err != nil {
				requireTools(t, "wat2wasm")
				require.NoError(t, err)
			}
			out, errOut, code := cli(t, nil, "inspect", wasm)
			assert.Equal(t, 1, code)
			assert.Contains(t, out, "status ")
			assert.Contains(t, errOut, c.want)
		})
	}
}
