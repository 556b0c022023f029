package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/client"
	"github.com/microhost/microhost/internal/consultest"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
	hostregistry "github.com/microhost/microhost/internal/registry"
	"github.com/microhost/microhost/internal/registrycache"
)

// registryPlugins returns a plugin folder holding the handler modules TestMain built and the
// two registry plugins, built from source once per test binary.
var registryPlugins = sync.OnceValues(func() (string, error) {
	dir := filepath.Join(filepath.Dir(pluginDir), "registry-plugins")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	entries, err := os.ReadDir(pluginDir)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if err := os.Symlink(filepath.Join(pluginDir, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return "", err
		}
	}
	ctx := context.Background()
	for pkg, name := range map[string]string{
		"./plugins/consul-registry/wasm":     hostregistry.ConsulPlugin,
		"./plugins/local-registry/wasm":      hostregistry.LocalPlugin,
		"./internal/host/testdata/callguest": "callguest.wasm",
	} {
		tmp, err := os.MkdirTemp(filepath.Dir(pluginDir), "build-")
		if err != nil {
			return "", err
		}
		out, err := guestbuild.Go(ctx, pkg, tmp)
		if err != nil {
			return "", err
		}
		if err := os.Rename(out, filepath.Join(dir, name)); err != nil {
			return "", err
		}
	}
	return dir, nil
})

func regPluginDir(t *testing.T) string {
	t.Helper()
	dir, err := registryPlugins()
	require.NoError(t, err)
	return dir
}

// consulConfig writes a config for service name registered in the agent at addr, serving
// the greeter and any extra handler modules.
func consulConfig(t *testing.T, name, addr, mode, ttl, interval string, extra ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	text := fmt.Sprintf(`
[service]
name = %q
version = "1.0.0"

[server]
address = "127.0.0.1:0"

[registry]
name = "consul"
address = %q
mode = %q
ttl = %q
interval = %q
deregister_critical_after = "1s"

[plugins]
dir = %q

[[handler]]
module = "greeter"
`, name, addr, mode, ttl, interval, regPluginDir(t))
	for _, m := range extra {
		text += fmt.Sprintf("\n[[handler]]\nmodule = %q\ncalls = [\"*\"]\n", m)
	}
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

func consulClient(t *testing.T, agent *consultest.Agent) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: agent.Addr})
	require.NoError(t, err)
	return c
}

// nodeOf returns the node ID a server logged at start.
func nodeOf(t *testing.T, s *server) string {
	t.Helper()
	for _, line := range strings.Split(s.logs.String(), "\n") {
		if strings.Contains(line, "msg=listening") {
			for _, f := range strings.Fields(line) {
				if v, ok := strings.CutPrefix(f, "node="); ok {
					return v
				}
			}
		}
	}
	t.Fatalf("no node in the logs:\n%s", s.logs.String())
	return ""
}

// checkStatus returns the status of the node's TTL check on the agent, or "" when the agent
// does not have it.
func checkStatus(t *testing.T, c *api.Client, node string) string {
	t.Helper()
	checks, err := c.Agent().Checks()
	require.NoError(t, err)
	if ch, ok := checks["service:"+node]; ok {
		return ch.Status
	}
	return ""
}

var registryModes = []string{"wasm", "native"}

// TestConsulSIGKILLIsReaped: a node killed without deregistering turns critical when its TTL
// lapses — and is left out of lookups at once — then Consul removes it. Consul reaps no
// sooner than one minute after the check turned critical and looks every 30 s (neither can
// be changed from the command line). So the nodes are killed first, with the package's
// serial tests still to run, and the wait for the reap (up to two and a half minutes) is
// left to the parallel phase, after them: the reaper's clock runs meanwhile. It comes first in
// the file for that.
func TestConsulSIGKILLIsReaped(t *testing.T) {
	agent := consultest.Start(t)
	c := consulClient(t, agent)
	killed := map[string]string{} // mode → the node killed in it
	for _, mode := range registryModes {
		t.Run(mode, func(t *testing.T) {
			name := "killed-" + mode
			s := startServer(t, consulConfig(t, name, agent.Addr, mode, "2s", "500ms"))
			node := nodeOf(t, s)
			require.Eventually(t, func() bool {
				return checkStatus(t, c, node) == api.HealthPassing
			}, 30*time.Second, 20*time.Millisecond)
			require.NoError(t, s.cmd.Process.Signal(syscall.SIGKILL))
			<-s.done

			// Bounds of 30 s: on a loaded machine the agent's sync of the check to the catalog
			// took over 10 s.
			require.Eventually(t, func() bool {
				return checkStatus(t, c, node) == api.HealthCritical
			}, 30*time.Second, 50*time.Millisecond, "the TTL check turns critical")
			cat, err := stockCatalogue()
			require.NoError(t, err)
			reg, err := hostregistry.Open(context.Background(), hostregistry.Options{
				Name: "consul", Addresses: []string{agent.Addr}, Mode: hostregistry.ModeNative,
			}, cat, nil, nil)
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				_, err := reg.GetService(context.Background(), name)
				return err != nil
			}, 30*time.Second, 50*time.Millisecond, "a critical node is left out of lookups")
			killed[mode] = node
		})
	}

	t.Parallel()
	for _, mode := range registryModes {
		node, ok := killed[mode]
		if !ok {
			continue // its subtest failed, and said why
		}
		require.Eventually(t, func() bool {
			return checkStatus(t, c, node) == ""
		}, 150*time.Second, 500*time.Millisecond, "Consul reaps the node killed in mode %s", mode)
		services, err := c.Agent().Services()
		require.NoError(t, err)
		assert.NotContains(t, services, node)
	}
}

// TestConsulRunServicesCallSIGTERM: two services register in Consul with passing checks, the
// CLI lists them and calls each through Consul, and SIGTERM deregisters.
func TestConsulRunServicesCallSIGTERM(t *testing.T) {
	agent := consultest.Start(t)
	c := consulClient(t, agent)
	for _, mode := range registryModes {
		t.Run(mode, func(t *testing.T) {
			greeter := "greeter-" + mode
			other := "hello-" + mode
			a := startServer(t, consulConfig(t, greeter, agent.Addr, mode, "10s", "2s"))
			b := startServer(t, consulConfig(t, other, agent.Addr, mode, "10s", "2s"))
			nodeA, nodeB := nodeOf(t, a), nodeOf(t, b)
			require.True(t, strings.HasPrefix(nodeA, greeter+"-"), nodeA)
			for _, n := range []string{nodeA, nodeB} {
				require.Eventually(t, func() bool {
					return checkStatus(t, c, n) == api.HealthPassing
				}, 30*time.Second, 20*time.Millisecond, "%s registered with a passing check", n)
			}

			env := []string{"MICROHOST_PLUGIN_DIR=" + regPluginDir(t), "MICROHOST_REGISTRY_MODE=" + mode}
			// Both services are in the catalog once the agent has synced them.
			require.Eventually(t, func() bool {
				out, _, code := cli(t, env, "services", "--registry", "consul", "--registry-address", agent.Addr)
				return code == 0 && strings.Contains(out, nodeA) && strings.Contains(out, nodeB)
			}, 60*time.Second, 100*time.Millisecond)
			out, errOut, code := cli(t, env, "services", "--registry", "consul", "--registry-address", agent.Addr, greeter)
			require.Equal(t, 0, code, errOut)
			assert.Contains(t, out, greeter+" 1.0.0\n")
			assert.Regexp(t, `node\s+`+nodeA+`\s+`+a.addr, out)
			assert.Contains(t, out, "endpoint   Greeter.Hello")

			// Each service is found through Consul and answers, given by flag or by
			// Consul's own environment variable.
			out, errOut, code = cli(t, env, "call", "--registry", "consul", "--registry-address", agent.Addr, greeter, "Greeter.Hello", `{"name":"John"}`)
			require.Equal(t, 0, code, errOut)
			assert.Contains(t, out, "Hello John")
			envVars := append([]string{"MICROHOST_REGISTRY=consul", "CONSUL_HTTP_ADDR=" + agent.Addr}, env...)
			out, errOut, code = cli(t, envVars, "call", other, "Greeter.Hello", `{"name":"Jane"}`)
			require.Equal(t, 0, code, errOut)
			assert.Contains(t, out, "Hello Jane")

			// SIGTERM: deregistered before the process exits.
			a.stop(t, syscall.SIGTERM)
			assert.Empty(t, checkStatus(t, c, nodeA), "the agent no longer has the node")
			assert.Contains(t, a.logs.String(), "msg=deregistered")
			require.Eventually(t, func() bool {
				out, _, code := cli(t, env, "services", "--registry", "consul", "--registry-address", agent.Addr)
				return code == 0 && !strings.Contains(out, nodeA) && strings.Contains(out, nodeB)
			}, 60*time.Second, 100*time.Millisecond)
			b.stop(t, syscall.SIGINT)
			assert.Empty(t, checkStatus(t, c, nodeB))
		})
	}
}

// TestConsulServicesCallEachOther: two services, each calling the other by name from a
// handler, find each other through Consul.
func TestConsulServicesCallEachOther(t *testing.T) {
	agent := consultest.Start(t)
	for _, mode := range registryModes {
		t.Run(mode, func(t *testing.T) {
			a, b := "alpha-"+mode, "beta-"+mode
			sa := startServer(t, consulConfig(t, a, agent.Addr, mode, "10s", "2s", "callguest"))
			sb := startServer(t, consulConfig(t, b, agent.Addr, mode, "10s", "2s", "callguest"))
			for _, pair := range [][2]*server{{sa, sb}, {sb, sa}} {
				from, to := pair[0], pair[1]
				target := b
				if to == sa {
					target = a
				}
				body := fmt.Sprintf(`{"service":%q,"endpoint":"Greeter.Hello","body":{"name":"from %s"}}`, target, from.addr)
				// The bound covers a lookup cache that missed the registration and waits out
				// one blocking query (30 s) before it asks again.
				var last atomic.Value // the last answer, for the failure message
				if !assert.Eventually(t, func() bool {
					code, _, rsp := post(t, from.addr, "Call.Relay", "application/json", body)
					last.Store(fmt.Sprintf("%d %s", code, rsp))
					return code == 200 && strings.Contains(rsp, "Hello from "+from.addr)
				}, 60*time.Second, 50*time.Millisecond, "%s reaches %s", from.addr, target) {
					t.Fatalf("the last answer was: %v", last.Load())
				}
			}
		})
	}
}

// TestConsulAgentRestart: with the agent stopped, calls keep succeeding from the cache and
// the service logs the outage once; when the agent is back (empty, as a dev agent is) the
// service registers again and logs the recovery once.
func TestConsulAgentRestart(t *testing.T) {
	agent := consultest.Start(t)
	c := consulClient(t, agent)
	ctx := context.Background()
	for _, mode := range registryModes {
		t.Run(mode, func(t *testing.T) {
			name := "restart-" + mode
			s := startServer(t, consulConfig(t, name, agent.Addr, mode, "3s", "200ms"))
			node := nodeOf(t, s)

			cat, err := stockCatalogue()
			require.NoError(t, err)
			reg, err := hostregistry.Open(ctx, hostregistry.Options{
				Name: "consul", Addresses: []string{agent.Addr},
				Mode: hostregistry.Mode(mode), PluginDir: regPluginDir(t), CacheDir: host.DefaultCacheDir(),
			}, cat, nil, nil)
			require.NoError(t, err)
			defer reg.Close(ctx)
			cache := registrycache.New(reg, registrycache.Options{RetryMax: 200 * time.Millisecond})
			defer cache.Close()
			cl := client.New(cache, client.Options{Timeout: 5 * time.Second, Codecs: stockCodecs()})
			var calls, failed int
			var firstErr error
			call := func() {
				calls++
				rsp, err := cl.Call(ctx, &client.Request{Service: name, Endpoint: "Greeter.Hello", Body: []byte(`{"name":"R"}`)})
				if err == nil && !strings.Contains(string(rsp), "Hello R") {
					err = fmt.Errorf("unexpected reply %s", rsp)
				}
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = fmt.Errorf("call %d: %w", calls, err)
					}
				}
			}
			require.Eventually(t, func() bool {
				_, err := cache.GetService(ctx, name)
				return err == nil
			}, 30*time.Second, 20*time.Millisecond)
			for range 20 {
				call()
			}

			agent.Stop(t)
			// Calls go on while the service fails to register, tick after tick.
			for i := 0; i < 5000 && strings.Count(s.logs.String(), "registration failed") == 0; i++ {
				call()
			}
			require.Equal(t, 1, strings.Count(s.logs.String(), "registration failed"), s.logs.String())
			for range 100 {
				call()
			}

			agent.Restart(t)
			require.Eventually(t, func() bool {
				call()
				return checkStatus(t, c, node) == api.HealthPassing
			}, 30*time.Second, 20*time.Millisecond, "the service registered again")
			require.Eventually(t, func() bool {
				call()
				return strings.Contains(s.logs.String(), "registration restored")
			}, 30*time.Second, 20*time.Millisecond)
			for range 20 {
				call()
			}
			require.NoError(t, firstErr, "%d of %d calls failed", failed, calls)
			logs := s.logs.String()
			assert.Equal(t, 1, strings.Count(logs, "registration failed"), "the outage is logged once")
			assert.Equal(t, 1, strings.Count(logs, "registration restored"), "the recovery is logged once")
			t.Logf("%d calls, none failed", calls)
			s.stop(t, syscall.SIGTERM)
		})
	}
}

// TestConsulBadSettings: mistakes in registry settings are reported, not crashed on.
func TestConsulBadSettings(t *testing.T) {
	_, errOut, code := cli(t, nil, "services", "--registry", "zookeeper")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `unknown registry "zookeeper"`)
	_, errOut, code = cli(t, nil, "services", "--registry", "consul", "--registry-mode", "turbo")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `unknown mode "turbo"`)
	_, errOut, code = cli(t, []string{"CONSUL_HTTP_SSL=perhaps"}, "services", "--registry", "consul")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "CONSUL_HTTP_SSL")
	_, errOut, code = cli(t, nil, "services", "--registry", "consul", "--registry-mode", "native", "--registry-address", "127.0.0.1:1")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "127.0.0.1:1")
	assert.NotContains(t, errOut, abi.ErrServiceNotFound.Error())
}
