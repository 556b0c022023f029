package host

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMountCannotBeEscaped gives a hostile module a directory and plants symlinks to a
// secret beside it: no read, write, rename or link reaches outside the directory, and
// ordinary work inside it still succeeds.
func TestMountCannotBeEscaped(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "registry")
	require.NoError(t, os.Mkdir(dir, 0o755))
	secret := filepath.Join(base, "secret.txt")
	require.NoError(t, os.WriteFile(secret, []byte("TOP-SECRET"), 0o600))
	require.NoError(t, os.Symlink(secret, filepath.Join(dir, "planted-abs")))
	require.NoError(t, os.Symlink("../secret.txt", filepath.Join(dir, "planted-rel")))
	require.NoError(t, os.Symlink(base, filepath.Join(dir, "dirlink")))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "own.txt"), []byte("mine"), 0o644))

	m := load(t, newRuntime(t, nil), hostileWasm, ModuleOptions{Mounts: []Mount{{HostDir: dir, GuestPath: "/registry"}}})
	res, err := m.Call(context.Background(), &Request{Endpoint: "Hostile.Escape"})
	require.NoError(t, err)
	report := string(res.Body)
	t.Log(report)
	assert.NotContains(t, report, "TOP-SECRET")
	assert.NotContains(t, report, "root:")
	for _, line := range strings.Split(strings.TrimSpace(report), "\n") {
		name, result, _ := strings.Cut(line, ": ")
		if name == "rename-link-in" || name == "hardlink" {
			continue // renaming or hard-linking the planted link itself is allowed; following it is not
		}
		assert.True(t, strings.HasPrefix(result, "refused"), "%s succeeded: %s", name, result)
	}
	b, err := os.ReadFile(secret)
	require.NoError(t, err)
	assert.Equal(t, "TOP-SECRET", string(b), "the secret was overwritten")
	entries, err := os.ReadDir(base)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"registry", "secret.txt"}, names, "files appeared outside the mount")

	res, err = m.Call(context.Background(), &Request{Endpoint: "Hostile.Files", Body: []byte(`{"id":"n1"}`)})
	require.NoError(t, err)
	assert.Equal(t, `1 {"id":"n1"}`, string(res.Body))
}
