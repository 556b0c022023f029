package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/internal/logbuffer"
)

// `microhost dev` on a project made by `microhost new`: a saved edit is rebuilt and answers
// the next call, a broken edit prints the compiler's errors and leaves the last good module
// serving, and the process is the same throughout.
func TestDevRebuildsAndSwapsOnSave(t *testing.T) {
	langs := []struct {
		lang, source string
		// edit is the greeting's text in the source, as replaced by the edit.
		edit  string
		tools []string
	}{
		{"go", "main.go", `"Hello " + req.Name`, []string{"go"}},
		{"c", "hello-dev.c", `Hello ");`, []string{"clang", "wasm-ld"}},
	}
	for _, l := range langs {
		t.Run(l.lang, func(t *testing.T) {
			requireTools(t, append([]string{"make"}, l.tools...)...)
			dir := filepath.Join(t.TempDir(), "hello-dev")
			_, errOut, code := cli(t, []string{"MICROHOST_SDK="}, "new", "handler", "hello-dev", "--lang", l.lang, "--dir", dir)
			require.Equal(t, 0, code, errOut)
			env := []string{"MICROHOST_REGISTRY_ADDRESS=" + t.TempDir(), "MICROHOST_SERVER_ADDRESS=127.0.0.1:0"}

			logs := &logbuffer.Buffer{}
			cmd := exec.Command(binary, "dev", dir)
			cmd.Env = append(os.Environ(), env...)
			cmd.Stdout, cmd.Stderr = io.Discard, logs
			require.NoError(t, cmd.Start())
			pid := cmd.Process.Pid
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-done
				if t.Failed() {
					t.Logf("dev logs:\n%s", logs.String())
				}
			})
			require.Eventually(t, func() bool { return strings.Contains(logs.String(), "watching sources") }, 2*time.Minute, 20*time.Millisecond)
			greet := func() string {
				out, _, code := cli(t, env, "call", "hello-dev", "HelloDev.Hello", `{"name":"Dev"}`)
				if code != 0 {
					return ""
				}
				return strings.TrimSpace(out)
			}
			require.Eventually(t, func() bool { return greet() == `{"greeting":"Hello Dev"}` }, 30*time.Second, 50*time.Millisecond)

			src := filepath.Join(dir, l.source)
			text, err := os.ReadFile(src)
			require.NoError(t, err)
			require.Contains(t, string(text), l.edit)
			edited := strings.Replace(string(text), l.edit, strings.Replace(l.edit, "Hello", "Howdy", 1), 1)
			require.NoError(t, os.WriteFile(src, []byte(edited), 0o644))
			require.Eventually(t, func() bool { return greet() == `{"greeting":"Howdy Dev"}` }, 2*time.Minute, 100*time.Millisecond)

			// A broken save: the compiler's errors are printed, the last good module serves.
			require.NoError(t, os.WriteFile(src, []byte(edited+"\nthis does not compile\n"), 0o644))
			require.Eventually(t, func() bool {
				return strings.Contains(logs.String(), "build failed; the last good module keeps serving")
			}, 2*time.Minute, 100*time.Millisecond)
			assert.Contains(t, logs.String(), filepath.Base(l.source), "the compiler's errors name the source file")
			assert.Equal(t, `{"greeting":"Howdy Dev"}`, greet())

			select {
			case <-done:
				t.Fatal("microhost dev exited")
			default:
			}
			assert.Equal(t, pid, cmd.Process.Pid)
			assert.Equal(t, 1, strings.Count(logs.String(), "msg=listening"), "served by one process, never restarted")
		})
	}
}
