package consulregistry

import (
	"bytes"
	"compress/zlib"
	"encoding/hex"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
)

func zhex(s string) string {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return hex.EncodeToString(b.Bytes())
}

func TestTagsRoundTrip(t *testing.T) {
	svc := &abi.Service{
		Name: "greeter", Version: "1.2.3", Metadata: map[string]string{"team": "core"},
		Endpoints: []abi.Endpoint{{Name: "Greeter.Hello", Request: "HelloRequest", Response: "HelloResponse", Metadata: map[string]string{"a": "b"}}, {Name: "Greeter.Ping"}},
	}
	node := &abi.Node{ID: "greeter-1", Address: "127.0.0.1:1", Metadata: map[string]string{"b": "2", "a": "1"}}
	tags := encodeTags(svc, node)
	assert.Equal(t, []string{
		"t-" + zhex(`{"a":"1"}`),
		"t-" + zhex(`{"b":"2"}`),
		"e-" + zhex(`{"name":"Greeter.Hello","request":{"name":"HelloRequest","type":"HelloRequest","values":null},"response":{"name":"HelloResponse","type":"HelloResponse","values":null},"metadata":{"a":"b"}}`),
		"e-" + zhex(`{"name":"Greeter.Ping","request":null,"response":null,"metadata":null}`),
		"v-" + zhex("1.2.3"),
		"s-" + zhex(`{"team":"core"}`),
	}, tags, "Go Micro's tags, in a stable order, plus the service metadata")
	v, ok := decodeVersion(tags)
	require.True(t, ok)
	assert.Equal(t, "1.2.3", v)
	assert.Equal(t, node.Metadata, decodeNodeMetadata(tags))
	assert.Equal(t, svc.Endpoints, decodeEndpoints(tags))
	assert.Equal(t, svc.Metadata, decodeServiceMetadata(tags))
}

func TestDecodeOldAndBadTags(t *testing.T) {
	tags := []string{"v=0.1", `t={"a":"b"}`, "t-" + zhex(`{"skipped":"other form"}`), `e={"name":"Old.Call"}`, "e-zz", "t-nothex", "", "x", "v"}
	v, ok := decodeVersion(tags)
	require.True(t, ok)
	assert.Equal(t, "0.1", v)
	assert.Equal(t, map[string]string{"a": "b"}, decodeNodeMetadata(tags))
	assert.Equal(t, []abi.Endpoint{{Name: "Old.Call"}}, decodeEndpoints(tags))
	_, ok = decodeVersion([]string{"urlprefix-/x", "e-" + zhex("{}")})
	assert.False(t, ok)
	assert.False(t, hasVersionTag([]string{"vault", "v"}))
	assert.True(t, hasVersionTag([]string{"v-00"}))
}

func TestGroupDropsCriticalAndSorts(t *testing.T) {
	entry := func(id, version, status string, port int) *api.ServiceEntry {
		return &api.ServiceEntry{
			Node:    &api.Node{Address: "10.0.0.9"},
			Service: &api.AgentService{ID: id, Service: "greeter", Port: port, Tags: []string{"v-" + zhex(version)}},
			Checks:  api.HealthChecks{{Status: status}},
		}
	}
	got := group("greeter", []*api.ServiceEntry{
		entry("greeter-c", "2", api.HealthPassing, 3),
		entry("greeter-b", "1", api.HealthPassing, 2),
		entry("greeter-a", "1", api.HealthWarning, 1),
		entry("greeter-d", "1", api.HealthCritical, 4),
		{Service: &api.AgentService{ID: "other-1", Service: "other"}},
	})
	require.Len(t, got, 2)
	assert.Equal(t, "1", got[0].Version)
	assert.Equal(t, []abi.Node{{ID: "greeter-a", Address: "10.0.0.9:1"}, {ID: "greeter-b", Address: "10.0.0.9:2"}}, got[0].Nodes,
		"warning counts as live, critical does not; the node address fills in")
	assert.Equal(t, "greeter-c", got[1].Nodes[0].ID)
}

func TestOptions(t *testing.T) {
	r, err := New(Options{})
	require.NoError(t, err)
	assert.Equal(t, 65*time.Second, r.deregisterAfter(30*time.Second), "Go Micro: max(ttl, 1m) + 5s")
	assert.Equal(t, 125*time.Second, r.deregisterAfter(2*time.Minute))
	r, err = New(Options{DeregisterCriticalAfter: time.Second})
	require.NoError(t, err)
	assert.Equal(t, time.Second, r.deregisterAfter(30*time.Second))
	_, err = New(Options{Scheme: "ftp"})
	require.Error(t, err)
	_, err = New(Options{Addresses: []string{"no-port"}})
	require.Error(t, err)
	err = r.Register(t.Context(), &abi.Service{Name: "x"}, time.Second)
	require.ErrorContains(t, err, "no nodes")
	err = r.Register(t.Context(), &abi.Service{Name: "x", Nodes: []abi.Node{{ID: "x-1", Address: "bad"}}}, time.Second)
	require.ErrorContains(t, err, "host:port")
	_, err = r.GetService(t.Context(), "")
	require.Error(t, err)
}
