package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/client"
	"github.com/microhost/microhost/host/config"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/localregistry"
	"github.com/microhost/microhost/internal/logbuffer"
)

// TestCapDefaultsMatchTheHost: the config's defaults of the guest output caps are the host's.
func TestCapDefaultsMatchTheHost(t *testing.T) {
	assert.Equal(t, host.DefaultMaxReplyHeaders, config.DefaultMaxReplyHeaders)
	assert.Equal(t, host.DefaultMaxReplyHeaderBytes, config.DefaultMaxReplyHeaderBytes)
	assert.Equal(t, host.DefaultLogBytesPerCall, config.DefaultLogBytesPerCall)
	assert.Equal(t, host.DefaultLogBytesPerSecond, config.DefaultLogBytesPerSecond)
}

// TestConfiguredCaps: [server] max_reply_headers and max_reply_header_bytes and [plugins]
// log_bytes_per_call reach the handler modules.
func TestConfiguredCaps(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, pkg := range []string{"./internal/host/testdata/testguest", "./internal/host/testdata/hostileguest"} {
		_, err := guestbuild.Go(ctx, pkg, dir)
		require.NoError(t, err)
	}
	regDir := t.TempDir()
	path := filepath.Join(t.TempDir(), "config.toml")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `
[service]
name = "caps"
[server]
address = "127.0.0.1:0"
max_reply_headers = 3
max_reply_header_bytes = 100
[registry]
address = %q
[plugins]
dir = %q
cache_dir = %q
log_bytes_per_call = 2048
[[handler]]
module = "testguest"
pool_size = 1
[[handler]]
module = "hostileguest"
pool_size = 1
`, regDir, dir, host.DefaultCacheDir()), 0o644))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	cfg.Override(func(string) string { return "" }, nil)
	require.NoError(t, cfg.Finish())
	reg, err := localregistry.New(regDir)
	require.NoError(t, err)
	var logs logbuffer.Buffer
	runCtx, cancel := context.WithCancel(ctx)
	svc, err := New(runCtx, cfg, Deps{Registry: reg, Catalogue: stockCatalogue(t), Logger: slog.New(slog.NewTextHandler(&logs, nil)), Compilations: testCompilations})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	defer func() {
		cancel()
		<-done
		_ = svc.Close(ctx)
	}()
	c := client.New(nil, client.Options{Codecs: stockCodecs()})
	call := func(endpoint, body string) error {
		_, err := c.CallAddress(ctx, svc.Addr(), &client.Request{Service: "caps", Endpoint: endpoint, Body: []byte(body)})
		return err
	}
	require.Eventually(t, func() bool { return svc.Addr() != "" && call("Hostile.Headers", `"3 5"`) == nil }, 10*time.Second, 10*time.Millisecond,
		"three small headers are within the caps")
	var ae *abi.Error
	require.True(t, errors.As(call("Hostile.Headers", `"4 5"`), &ae))
	assert.EqualValues(t, 500, ae.Code)
	assert.Contains(t, ae.Detail, "more reply headers than the limit of 3")
	require.True(t, errors.As(call("Hostile.Headers", `"2 60"`), &ae))
	assert.EqualValues(t, 500, ae.Code)
	assert.Contains(t, ae.Detail, "over the limit of 100 bytes")

	before := len(logs.String())
	require.NoError(t, call("Test.LogFlood", `"50"`)) // 100 KB asked
	grew := len(logs.String()) - before
	assert.Less(t, grew, 8<<10, "the log grew by %d bytes under a 2 KiB cap", grew)
	assert.True(t, strings.Contains(logs.String(), "guest log over its cap"))
}
