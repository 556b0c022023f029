package component_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/proto/abipb"
	"github.com/microhost/microhost/host/component"
)

func sampleService() *abi.Service {
	return &abi.Service{
		Name: "greeter", Version: "1.0.0",
		Metadata:  map[string]string{"team": "core", "b": "2"},
		Endpoints: []abi.Endpoint{{Name: "Greeter.Hello", Request: "HelloRequest", Response: "HelloResponse", Metadata: map[string]string{"stream": "false"}}},
		Nodes: []abi.Node{
			{ID: "greeter-1", Address: "127.0.0.1:8080", Metadata: map[string]string{"protocol": "mucp", "transport": "http"}},
			{ID: "greeter-2", Address: "127.0.0.1:8081"},
		},
	}
}

func pbService(s *abi.Service) *abipb.RegistryService {
	out := &abipb.RegistryService{Name: s.Name, Version: s.Version, Metadata: s.Metadata}
	for _, e := range s.Endpoints {
		out.Endpoints = append(out.Endpoints, &abipb.RegistryEndpoint{Name: e.Name, Request: e.Request, Response: e.Response, Metadata: e.Metadata})
	}
	for _, n := range s.Nodes {
		out.Nodes = append(out.Nodes, &abipb.RegistryNode{Id: n.ID, Address: n.Address, Metadata: n.Metadata})
	}
	return out
}

// TestRegistryWireMatchesSchema checks the hand-written encoders against the code generated
// from abi/proto/registry.proto, both ways.
func TestRegistryWireMatchesSchema(t *testing.T) {
	det := proto.MarshalOptions{Deterministic: true}
	req := component.RegistryRequest{
		Service: sampleService(), TTL: 30 * time.Second, Name: "greeter", Index: 42,
		Settings: component.RegistrySettings{
			Dir: "/registry", Addresses: []string{"a:1", "b:2"}, Scheme: "https", Token: "tok",
			DeregisterCriticalAfter: time.Minute, WatchWait: 250 * time.Millisecond, PollInterval: 10 * time.Millisecond,
			TLSCAFile: "never-encoded.pem",
		},
	}
	want, err := det.Marshal(&abipb.RegistryRequest{
		Service: pbService(req.Service), TtlMs: 30000, Name: "greeter", Index: 42,
		Settings: &abipb.RegistrySettings{Dir: "/registry", Addresses: []string{"a:1", "b:2"}, Scheme: "https", Token: "tok",
			DeregisterCriticalAfterMs: 60000, WatchWaitMs: 250, PollIntervalMs: 10},
	})
	require.NoError(t, err)
	got := req.Marshal()
	assert.Equal(t, want, got)

	var back component.RegistryRequest
	require.NoError(t, back.Unmarshal(got))
	req.Settings.TLSCAFile = ""
	assert.Equal(t, req, back)

	rep := component.RegistryReply{Services: []*abi.Service{sampleService()}, Index: 7, Names: []string{"a", "greeter"}}
	want, err = det.Marshal(&abipb.RegistryReply{Services: []*abipb.RegistryService{pbService(rep.Services[0])}, Index: 7, Names: rep.Names})
	require.NoError(t, err)
	assert.Equal(t, want, rep.Marshal())
	var repBack component.RegistryReply
	require.NoError(t, repBack.Unmarshal(want))
	assert.Equal(t, rep, repBack)

	// The example of abi/registry.md.
	get := component.RegistryRequest{Name: "greeter", Settings: component.RegistrySettings{Dir: "/registry", WatchWait: 250 * time.Millisecond}}
	assert.Equal(t, []byte{0x1a, 0x07, 'g', 'r', 'e', 'e', 't', 'e', 'r', 0x7a, 0x0e, 0x0a, 0x09, '/', 'r', 'e', 'g', 'i', 's', 't', 'r', 'y', 0x30, 0xfa, 0x01}, get.Marshal())
}

func TestRegistryWireRefusesGarbage(t *testing.T) {
	for _, b := range [][]byte{{0xff, 0xff, 0xff}, {0x0a, 0x05, 0x01}, {0x0a, 0x02, 0x2a, 0x09}, {0x10}} {
		var req component.RegistryRequest
		assert.Error(t, req.Unmarshal(b), "% x", b)
		var rep component.RegistryReply
		assert.Error(t, rep.Unmarshal(b), "% x", b)
	}
	var req component.RegistryRequest
	require.NoError(t, req.Unmarshal(nil))
	assert.Equal(t, component.RegistryRequest{}, req)
}

func FuzzRegistryRequest(f *testing.F) {
	f.Add((&component.RegistryRequest{Service: sampleService(), TTL: time.Second}).Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		var req component.RegistryRequest
		if req.Unmarshal(b) != nil {
			return
		}
		var again component.RegistryRequest
		require.NoError(t, again.Unmarshal(req.Marshal()))
	})
}
