package service

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/host/client"
)

// findChromium returns the path of a Chromium or Chrome binary, or "". Without one the
// browser test skips on a developer's machine and fails in CI (CI set), where `make deps`
// must have installed Debian's chromium.
func findChromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no browser")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium found in CI: `make deps` installs it (scripts/deps.d/50-chromium.sh)")
	}
	t.Skip("no chromium found (run `make deps` to install it)")
	return ""
}

// artifactDir is where a test's artifacts go: $MICROHOST_TEST_ARTIFACTS when set, else the
// system's temporary folder, so the file outlives the test.
func artifactDir(t *testing.T) string {
	dir := os.Getenv("MICROHOST_TEST_ARTIFACTS")
	if dir == "" {
		dir = os.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// TestAdminPageInBrowser loads the admin page in headless Chromium and watches the greeter's
// call count follow the calls made, then keeps a screenshot.
func TestAdminPageInBrowser(t *testing.T) {
	browser := findChromium(t)
	svc, reg := start(t)
	page := "http://" + svc.AdminAddr() + "/"

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	greeterCalls := chromedp.CSS(`tr[data-module="handler/greeter"] td.calls`)
	text := func(sel chromedp.CSS) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Text(sel))
		require.NoError(t, err)
		return strings.TrimSpace(v)
	}
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(page), chromedp.WaitVisible(greeterCalls)))
	title, err := chromedp.Run(bctx, chromedp.Title())
	require.NoError(t, err)
	assert.Equal(t, "0", text(greeterCalls))
	assert.Equal(t, "greeter · microhost admin", title)
	assert.Contains(t, text("#endpoints"), "Greeter.Hello")
	modules := text("#modules")
	assert.Contains(t, modules, "Wasm")
	assert.Contains(t, modules, "native", "the components served by native twins are listed")

	c := client.New(reg, client.Options{Codecs: stockCodecs()})
	const n = 4
	for range n {
		_, err := c.Call(ctx, &client.Request{Service: "greeter", Endpoint: "Greeter.Hello", Body: []byte(`{"name":"Page"}`)})
		require.NoError(t, err)
	}
	// The page polls: the count it shows catches up without a reload.
	var calls string
	require.Eventually(t, func() bool {
		v, err := chromedp.Run(bctx, chromedp.Text(greeterCalls))
		calls = strings.TrimSpace(v)
		return err == nil && calls == "4"
	}, 20*time.Second, 100*time.Millisecond, "the page shows %q calls, want %d", calls, n)
	assert.Contains(t, text(`tr[data-module="handler/greeter"] td.p50`), "ms", "a latency estimate once calls were made")
	assert.Contains(t, text(`tr[data-service="greeter"]`), "1.0.0", "the registry's services are listed with their versions")
	assert.Equal(t, "ready", text("#state"))

	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	path := filepath.Join(artifactDir(t), "microhost-admin-page.png")
	require.NoError(t, os.WriteFile(path, shot, 0o644))
	t.Logf("admin page screenshot: %s", path)
}
