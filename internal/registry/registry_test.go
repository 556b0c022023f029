package registry

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/consultest"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/hosttest"
	"github.com/microhost/microhost/internal/registrycache"
	"github.com/microhost/microhost/plugins/standard"
)

// pluginDir holds consul-registry.wasm and local-registry.wasm, built from source.
var pluginDir string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "microhost-registry-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	pluginDir = dir
	if err := buildPlugins(context.Background(), dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// buildPlugins builds the two registry plugins from source into dir.
func buildPlugins(ctx context.Context, dir string) error {
	for pkg, name := range map[string]string{
		"./plugins/consul-registry/wasm": ConsulPlugin,
		"./plugins/local-registry/wasm":  LocalPlugin,
	} {
		tmp, err := os.MkdirTemp(dir, "build-")
		if err != nil {
			return err
		}
		out, err := guestbuild.Go(ctx, pkg, tmp)
		if err != nil {
			return err
		}
		if err := os.Rename(out, filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

var modes = []Mode{ModeWasm, ModeNative}

// stock is the stock catalogue, with no stock digest recorded: mode auto runs a module file
// when there is one.
func stock(t testing.TB) *component.Catalogue {
	t.Helper()
	cat, err := standard.Catalogue("")
	require.NoError(t, err)
	return cat
}

// openWith opens o with the test's plugin folder (unless o names one) and the stock
// catalogue.
func openWith(t testing.TB, o Options) (*Registry, error) {
	t.Helper()
	if o.PluginDir == "" {
		o.PluginDir = pluginDir
	}
	o.CacheDir = host.DefaultCacheDir()
	return Open(context.Background(), o, stock(t), hosttest.Runtime(t, testCompilations), nil)
}

// testCompilations holds the compiled modules of the tests' runtimes, shared by them all,
// and keeps those no module uses: the tests load the same modules again and again, each load
// from the compilation cache a few tenths of a CPU-second or more under the race detector.
var testCompilations = host.NewCompilations(4)

func openConsul(t testing.TB, agent *consultest.Agent, mode Mode, opts Options) *Registry {
	t.Helper()
	ctx := context.Background()
	opts.Name = "consul"
	opts.Addresses = []string{agent.Addr}
	opts.Mode = mode
	r, err := openWith(t, opts)
	require.NoError(t, err)
	require.Equal(t, mode, r.Mode())
	t.Cleanup(func() { _ = r.Close(ctx) })
	return r
}

func consulAPI(t testing.TB, agent *consultest.Agent) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: agent.Addr})
	require.NoError(t, err)
	return c
}

func record(name, id string, port int) *abi.Service {
	return &abi.Service{
		Name:     name,
		Version:  "1.0.0",
		Metadata: map[string]string{"team": "core"},
		Endpoints: []abi.Endpoint{
			{Name: "Greeter.Hello", Request: "HelloRequest", Response: "HelloResponse"},
			{Name: "Greeter.Stream", Metadata: map[string]string{"stream": "true"}},
		},
		Nodes: []abi.Node{{
			ID:       id,
			Address:  fmt.Sprintf("127.0.0.1:%d", port),
			Metadata: map[string]string{"transport": "http", "protocol": "mucp", "registry": "consul", "server": "microhost"},
		}},
	}
}

// visible waits for name to have n live nodes: the agent syncs a registration or a check's
// new status to the catalog asynchronously, within milliseconds.
func visible(t *testing.T, r *Registry, name string, n int) []*abi.Service {
	t.Helper()
	var got []*abi.Service
	require.Eventually(t, func() bool {
		svcs, err := r.GetService(context.Background(), name)
		nodes := 0
		for _, s := range svcs {
			nodes += len(s.Nodes)
		}
		if n == 0 {
			return errors.Is(err, abi.ErrServiceNotFound)
		}
		got = svcs
		return err == nil && nodes == n
	}, 15*time.Second, 10*time.Millisecond, "%s has %d live nodes", name, n)
	return got
}

// zhex is hex(zlib(b)), computed here independently of the code under test.
func zhex(b string) string {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	_, _ = w.Write([]byte(b))
	_ = w.Close()
	return hex.EncodeToString(buf.Bytes())
}

func TestConsulRegisterGetDeregister(t *testing.T) {
	agent := consultest.Start(t)
	c := consulAPI(t, agent)
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			ctx := context.Background()
			r := openConsul(t, agent, mode, Options{DeregisterCriticalAfter: 90 * time.Second})
			name := "greeter-" + string(mode)
			svc := record(name, name+"-6f1c2b0e-0000-4000-8000-000000000001", 4001)
			require.NoError(t, r.Register(ctx, svc, 10*time.Second))

			got := visible(t, r, name, 1)
			require.Len(t, got, 1)
			assert.Equal(t, svc, got[0])

			// What Consul holds: the node ID as service ID, Go Micro's tags, a passing TTL
			// check that Consul will reap.
			checks, err := c.Agent().Checks()
			require.NoError(t, err)
			check := checks["service:"+svc.Nodes[0].ID]
			require.NotNil(t, check)
			assert.Equal(t, api.HealthPassing, check.Status)
			assert.Equal(t, "ttl", check.Type)
			services, err := c.Agent().Services()
			require.NoError(t, err)
			as := services[svc.Nodes[0].ID]
			require.NotNil(t, as)
			assert.Equal(t, name, as.Service)
			assert.Equal(t, 4001, as.Port)
			assert.Contains(t, as.Tags, "v-"+zhex("1.0.0"))
			assert.Contains(t, as.Tags, "t-"+zhex(`{"transport":"http"}`))
			assert.Contains(t, as.Tags, "e-"+zhex(`{"name":"Greeter.Hello","request":{"name":"HelloRequest","type":"HelloRequest","values":null},"response":{"name":"HelloResponse","type":"HelloResponse","values":null},"metadata":null}`))

			names, err := r.ListServices(ctx)
			require.NoError(t, err)
			assert.Contains(t, names, name)
			assert.NotContains(t, names, "consul", "services without a version tag are not Go Micro services")

			// Re-registering an unchanged record only passes the check; a changed one is
			// registered again.
			require.NoError(t, r.Register(ctx, svc, 10*time.Second))
			svc.Version = "1.1.0"
			require.NoError(t, r.Register(ctx, svc, 10*time.Second))
			require.Eventually(t, func() bool {
				got, err := r.GetService(ctx, name)
				return err == nil && got[0].Version == "1.1.0"
			}, 15*time.Second, 10*time.Millisecond)

			require.NoError(t, r.Deregister(ctx, svc))
			visible(t, r, name, 0)
			require.NoError(t, r.Deregister(ctx, svc), "deregistering twice is not an error")
		})
	}
}

// TestConsulReadsGoMicroRegistrations registers services the way Go Micro's Consul registry
// writes them — including the older plain tag form — and reads them back.
func TestConsulReadsGoMicroRegistrations(t *testing.T) {
	agent := consultest.Start(t)
	c := consulAPI(t, agent)
	require.NoError(t, c.Agent().ServiceRegister(&api.AgentServiceRegistration{
		ID: "go.micro.srv.example-1", Name: "go.micro.srv.example", Address: "127.0.0.1", Port: 5001,
		Tags: []string{
			"t-" + zhex(`{"broker":"http"}`), "t-" + zhex(`{"server":"mucp"}`),
			"e-" + zhex(`{"name":"Example.Call","request":{"name":"Request","type":"Request","values":[{"name":"name","type":"string","values":null}]},"response":{"name":"Response","type":"Response","values":null},"metadata":{}}`),
			"v-" + zhex("latest"),
		},
	}))
	require.NoError(t, c.Agent().ServiceRegister(&api.AgentServiceRegistration{
		ID: "old-1", Name: "old", Address: "127.0.0.1", Port: 5002,
		Tags: []string{`t={"a":"b"}`, `e={"name":"Old.Call"}`, "v=0.1"},
	}))
	// A critical node is left out, as Go Micro does.
	require.NoError(t, c.Agent().ServiceRegister(&api.AgentServiceRegistration{
		ID: "go.micro.srv.example-2", Name: "go.micro.srv.example", Address: "127.0.0.1", Port: 5003,
		Tags:  []string{"v-" + zhex("latest")},
		Check: &api.AgentServiceCheck{TTL: "30s", Status: api.HealthCritical},
	}))
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			ctx := context.Background()
			r := openConsul(t, agent, mode, Options{})
			got, err := r.GetService(ctx, "go.micro.srv.example")
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, &abi.Service{
				Name: "go.micro.srv.example", Version: "latest",
				Endpoints: []abi.Endpoint{{Name: "Example.Call", Request: "Request", Response: "Response"}},
				Nodes: []abi.Node{{ID: "go.micro.srv.example-1", Address: "127.0.0.1:5001",
					Metadata: map[string]string{"broker": "http", "server": "mucp"}}},
			}, got[0])
			old, err := r.GetService(ctx, "old")
			require.NoError(t, err)
			assert.Equal(t, "0.1", old[0].Version)
			assert.Equal(t, "Old.Call", old[0].Endpoints[0].Name)
			assert.Equal(t, map[string]string{"a": "b"}, old[0].Nodes[0].Metadata)
			names, err := r.ListServices(ctx)
			require.NoError(t, err)
			assert.Equal(t, []string{"go.micro.srv.example", "old"}, names)
		})
	}
}

// TestConsulModesAgree registers through one mode and reads through the other.
func TestConsulModesAgree(t *testing.T) {
	agent := consultest.Start(t)
	ctx := context.Background()
	w := openConsul(t, agent, ModeWasm, Options{})
	n := openConsul(t, agent, ModeNative, Options{})
	a := record("pair", "pair-a", 6001)
	b := record("pair", "pair-b", 6002)
	b.Version = "2.0.0"
	require.NoError(t, w.Register(ctx, a, 10*time.Second))
	require.NoError(t, n.Register(ctx, b, 10*time.Second))
	visible(t, w, "pair", 2)
	fromWasm, err := w.GetService(ctx, "pair")
	require.NoError(t, err)
	fromNative, err := n.GetService(ctx, "pair")
	require.NoError(t, err)
	assert.Equal(t, fromNative, fromWasm)
	require.Len(t, fromWasm, 2)
	assert.Equal(t, "pair-a", fromWasm[0].Nodes[0].ID)
	assert.Equal(t, "pair-b", fromWasm[1].Nodes[0].ID)
}

func TestConsulTTLExpiryAndAgentRestart(t *testing.T) {
	agent := consultest.Start(t)
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			ctx := context.Background()
			r := openConsul(t, agent, mode, Options{})
			name := "ttl-" + string(mode)
			svc := record(name, name+"-1", 7001)
			require.NoError(t, r.Register(ctx, svc, time.Second))
			visible(t, r, name, 1)
			// Not refreshed: the check turns critical and the node is left out.
			visible(t, r, name, 0)
			// A refresh passes the check again.
			require.NoError(t, r.Register(ctx, svc, time.Second))
			visible(t, r, name, 1)

			// A dev agent usually forgets its services when it restarts (it may still be
			// replaying them for a moment); either way the next refresh makes the node
			// visible again — registering in full when the check is gone.
			agent.Restart(t)
			require.NoError(t, r.Register(ctx, svc, 10*time.Second))
			visible(t, r, name, 1)
		})
	}
}

func TestConsulUnreachable(t *testing.T) {
	ctx := context.Background()
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			r, err := openWith(t, Options{Name: "consul", Addresses: []string{"127.0.0.1:1"}, Mode: mode})
			require.NoError(t, err)
			defer r.Close(ctx)
			err = r.Register(ctx, record("x", "x-1", 1), time.Second)
			require.Error(t, err)
			_, err = r.GetService(ctx, "x")
			require.Error(t, err)
			assert.NotErrorIs(t, err, abi.ErrServiceNotFound, "unreachable is not the same as absent")
		})
	}
}

func TestConsulFailsOverToTheNextAddress(t *testing.T) {
	agent := consultest.Start(t)
	ctx := context.Background()
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			r, err := openWith(t, Options{Name: "consul", Addresses: []string{"127.0.0.1:1", "http://" + agent.Addr}, Mode: mode})
			require.NoError(t, err)
			defer r.Close(ctx)
			require.NoError(t, r.Register(ctx, record("fo-"+string(mode), "fo-"+string(mode)+"-1", 1), 10*time.Second))
			visible(t, r, "fo-"+string(mode), 1)
		})
	}
}

// TestCacheFollowsConsul: a change reaches a cache watching Consul through the watch, well
// before the cache's one-minute TTL would make it look again (the bound is generous for a
// loaded machine; the latency itself is a benchmark's business).
func TestCacheFollowsConsul(t *testing.T) {
	agent := consultest.Start(t)
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			ctx := context.Background()
			r := openConsul(t, agent, mode, Options{})
			other := openConsul(t, agent, ModeNative, Options{})
			cache := registrycache.New(r, registrycache.Options{})
			defer cache.Close()
			name := "watched-" + string(mode)
			_, err := cache.GetService(ctx, name)
			require.ErrorIs(t, err, abi.ErrServiceNotFound)

			a := record(name, name+"-a", 8001)
			require.NoError(t, other.Register(ctx, a, 10*time.Second))
			require.Eventually(t, func() bool {
				got, err := cache.GetService(ctx, name)
				return err == nil && len(got[0].Nodes) == 1
			}, 10*time.Second, 10*time.Millisecond, "registration reached the cache")

			b := record(name, name+"-b", 8002)
			require.NoError(t, other.Register(ctx, b, 10*time.Second))
			require.Eventually(t, func() bool {
				got, err := cache.GetService(ctx, name)
				return err == nil && len(got[0].Nodes) == 2
			}, 10*time.Second, 10*time.Millisecond, "second node reached the cache")

			require.NoError(t, other.Deregister(ctx, a))
			require.NoError(t, other.Deregister(ctx, b))
			require.Eventually(t, func() bool {
				_, err := cache.GetService(ctx, name)
				return err != nil
			}, 10*time.Second, 10*time.Millisecond, "deregistration reached the cache")
		})
	}
}

// TestCacheServesThroughOutage: with the agent gone, the cache keeps the last nodes.
func TestCacheServesThroughOutage(t *testing.T) {
	agent := consultest.Start(t)
	ctx := context.Background()
	r := openConsul(t, agent, ModeWasm, Options{})
	require.NoError(t, r.Register(ctx, record("steady", "steady-1", 9001), 10*time.Second))
	visible(t, r, "steady", 1)
	// A TTL this short sends every lookup to the agent first.
	cache := registrycache.New(r, registrycache.Options{TTL: time.Nanosecond})
	defer cache.Close()
	_, err := cache.GetService(ctx, "steady")
	require.NoError(t, err)
	agent.Stop(t)
	for range 20 {
		got, err := cache.GetService(ctx, "steady")
		require.NoError(t, err)
		require.Equal(t, "steady-1", got[0].Nodes[0].ID)
	}
}

func TestLocalBothModes(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	open := func(mode Mode) *Registry {
		r, err := openWith(t, Options{Dir: dir, PollInterval: 10 * time.Millisecond, Mode: mode})
		require.NoError(t, err)
		require.Equal(t, mode, r.Mode())
		t.Cleanup(func() { _ = r.Close(ctx) })
		return r
	}
	w, n := open(ModeWasm), open(ModeNative)

	a := record("local", "local-a", 1001)
	require.NoError(t, w.Register(ctx, a, time.Minute))
	// The plugin wrote into the host directory it was granted.
	files, err := filepath.Glob(filepath.Join(dir, "local", "*.json"))
	require.NoError(t, err)
	assert.Len(t, files, 1)

	b := record("local", "local-b", 1002)
	require.NoError(t, n.Register(ctx, b, time.Minute))
	fromWasm, err := w.GetService(ctx, "local")
	require.NoError(t, err)
	fromNative, err := n.GetService(ctx, "local")
	require.NoError(t, err)
	assert.Equal(t, fromNative, fromWasm)
	require.Len(t, fromWasm[0].Nodes, 2)
	names, err := w.ListServices(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"local"}, names)

	for _, r := range []*Registry{w, n} {
		cache := registrycache.New(r, registrycache.Options{})
		_, err := cache.GetService(ctx, "local")
		require.NoError(t, err)
		c := record("local", "local-c-"+string(r.Mode()), 1003)
		require.NoError(t, n.Register(ctx, c, time.Minute))
		require.Eventually(t, func() bool {
			got, err := cache.GetService(ctx, "local")
			if err != nil {
				return false
			}
			var ids []string
			for _, nd := range got[0].Nodes {
				ids = append(ids, nd.ID)
			}
			sort.Strings(ids)
			return len(ids) == 3
		}, time.Second, 10*time.Millisecond, "%s cache followed the change", r.Mode())
		require.NoError(t, w.Deregister(ctx, c))
		cache.Close()
	}

	require.NoError(t, w.Deregister(ctx, a))
	require.NoError(t, n.Deregister(ctx, b))
	_, err = w.GetService(ctx, "local")
	require.ErrorIs(t, err, abi.ErrServiceNotFound)
}

func TestModes(t *testing.T) {
	ctx := context.Background()
	_, err := ParseMode("fast")
	require.Error(t, err)
	r, err := openWith(t, Options{Dir: t.TempDir(), PluginDir: t.TempDir()})
	require.NoError(t, err)
	assert.Equal(t, ModeNative, r.Mode(), "auto falls back to native without the plugin file")
	_, err = openWith(t, Options{Dir: t.TempDir(), Mode: ModeWasm, PluginDir: t.TempDir()})
	require.Error(t, err, "wasm mode needs the plugin file")
	r, err = openWith(t, Options{Dir: t.TempDir(), Mode: ModeAuto})
	require.NoError(t, err)
	assert.Equal(t, ModeWasm, r.Mode(), "auto prefers the plugin")
	require.NoError(t, r.Close(ctx))
	_, err = openWith(t, Options{Name: "consul", Addresses: []string{"ftp://x"}})
	require.Error(t, err)
	_, err = openWith(t, Options{Name: "consul", TLS: TLSOptions{CAFile: filepath.Join(t.TempDir(), "missing.pem")}})
	require.Error(t, err)
	_, err = openWith(t, Options{Name: "consul", TLS: TLSOptions{CertFile: "a.pem"}})
	require.ErrorContains(t, err, "together")
}

func TestConsulApplyEnv(t *testing.T) {
	env := map[string]string{
		"CONSUL_HTTP_ADDR":       "https://consul.example:8501",
		"CONSUL_HTTP_TOKEN":      "tok",
		"CONSUL_CACERT":          "ca.pem",
		"CONSUL_CLIENT_CERT":     "c.pem",
		"CONSUL_CLIENT_KEY":      "k.pem",
		"CONSUL_HTTP_SSL":        "true",
		"CONSUL_HTTP_SSL_VERIFY": "false",
	}
	var o Options
	require.NoError(t, o.ApplyEnv(func(k string) string { return env[k] }))
	assert.Equal(t, Options{
		Addresses: []string{"https://consul.example:8501"},
		Token:     "tok",
		TLS:       TLSOptions{Enabled: true, CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem", InsecureSkipVerify: true},
	}, o)
	explicit := Options{Addresses: []string{"127.0.0.1:8500"}, Token: "mine"}
	require.NoError(t, explicit.ApplyEnv(func(k string) string { return env[k] }))
	assert.Equal(t, []string{"127.0.0.1:8500"}, explicit.Addresses, "explicit settings win")
	assert.Equal(t, "mine", explicit.Token)
	bad := Options{}
	require.Error(t, bad.ApplyEnv(func(k string) string { return map[string]string{"CONSUL_HTTP_SSL": "maybe"}[k] }))
	addrs, https, err := parseAddresses([]string{"consul.example", "https://10.0.0.1:8501/"})
	require.NoError(t, err)
	assert.True(t, https)
	assert.Equal(t, []string{"consul.example:8500", "10.0.0.1:8501"}, addrs)
}

// TestChoice checks the twin choice: auto runs the native twin when the module file is the
// stock build and the module when it is another build; a module declaring another name is
// refused with both names.
func TestChoice(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(pluginDir, LocalPlugin)
	digest, err := component.Digest(path)
	require.NoError(t, err)
	cat := stock(t)
	cat.AddStockDigest("local-registry", digest)
	var logs bytes.Buffer
	r, err := Open(ctx, Options{Dir: t.TempDir(), PluginDir: pluginDir}, cat, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	assert.Equal(t, ModeNative, r.Mode(), "auto runs the twin of a stock build")
	assert.Nil(t, r.ownsRT, "no Wasm runtime is made for the native twin")
	assert.Contains(t, logs.String(), "component=registry name=local-registry runs=native")
	require.NoError(t, r.Close(ctx))

	r, err = Open(ctx, Options{Dir: t.TempDir(), PluginDir: t.TempDir()}, stock(t), nil, nil)
	require.NoError(t, err)
	assert.Equal(t, ModeNative, r.Mode(), "auto runs the twin when there is no module file")
	assert.Nil(t, r.ownsRT)
	require.NoError(t, r.Close(ctx))

	r, err = openWith(t, Options{Dir: t.TempDir()})
	require.NoError(t, err)
	assert.Equal(t, ModeWasm, r.Mode(), "auto runs a build that is not the stock one")
	assert.Equal(t, "local-registry", r.Module())
	require.NoError(t, r.Close(ctx))

	_, err = openWith(t, Options{Dir: t.TempDir(), Mode: ModeWasm, Module: "local-registry", Path: filepath.Join(pluginDir, ConsulPlugin)})
	require.ErrorContains(t, err, `"consul-registry"`)
	require.ErrorContains(t, err, `"local-registry"`)

	_, err = openWith(t, Options{Dir: t.TempDir(), Mode: ModeNative, Module: "zk-registry"})
	require.ErrorContains(t, err, "no native twin")
}
