//go:build !wasip1

package conformance_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/server"
)

// specExample returns the ```wat code block of the ABI specification's section titled
// heading.
func specExample(t *testing.T, heading string) string {
	t.Helper()
	root, err := guestbuild.ModuleRoot(".")
	require.NoError(t, err)
	spec, err := os.ReadFile(filepath.Join(root, "abi", "ABI.md"))
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(spec), "\n"+heading+"\n")
	require.True(t, ok, "ABI.md has no heading %q", heading)
	if next := strings.Index(section, "\n## "); next >= 0 {
		section = section[:next]
	}
	_, code, ok := strings.Cut(section, "```wat\n")
	require.True(t, ok, "%q has no ```wat block", heading)
	code, _, ok = strings.Cut(code, "\n```")
	require.True(t, ok, "unterminated ```wat block in %q", heading)
	return code
}

// TestSpecWATExample assembles the complete handler of ABI.md §9 exactly as printed, serves
// it and calls it, so the specification's example cannot rot.
func TestSpecWATExample(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "echo.wat")
	require.NoError(t, os.WriteFile(src, []byte(specExample(t, "## 9. A complete handler in WAT")), 0o644))
	wasm, err := guestbuild.WAT(ctx, src, t.TempDir())
	requireToolchain(t, err)

	rt, err := host.NewRuntime(ctx, host.Options{CacheDir: host.DefaultCacheDir()})
	require.NoError(t, err)
	defer rt.Close(ctx)
	m, err := rt.Load(ctx, wasm, host.ModuleOptions{})
	require.NoError(t, err)
	defer m.Close(ctx)
	assert.Equal(t, abi.Descriptor{Kind: "handler", Name: "echo", Version: "1.0.0", Endpoints: []abi.Endpoint{{Name: "Echo.Call"}}}, m.Descriptor())

	rsp, err := m.Call(ctx, &host.Request{Endpoint: "Echo.Call", ContentType: "application/json", Body: []byte(`{"hello":"world"}`)})
	require.NoError(t, err)
	assert.Equal(t, `{"hello":"world"}`, string(rsp.Body))

	big := `"` + strings.Repeat("x", 60000) + `"`
	_, err = m.Call(ctx, &host.Request{Endpoint: "Echo.Call", ContentType: "application/json", Body: []byte(big)})
	var ae *abi.Error
	require.True(t, errors.As(err, &ae), "want a handler error, got %v", err)
	assert.Equal(t, int32(413), ae.Code)
	assert.Equal(t, "body too large", ae.Detail)

	// Served, as the section says to use it.
	srv, err := server.New(server.Options{Name: "echo", Codecs: stockCodecs()}, m)
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	req, err := http.NewRequest(http.MethodPost, ts.URL, strings.NewReader(`{"hello":"world"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Micro-Service", "echo")
	req.Header.Set("Micro-Endpoint", "Echo.Call")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, `{"hello":"world"}`, string(body))
}
