//go:build !wasip1

package main

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/rpc"
	pb "github.com/microhost/microhost/handlers/greeter/greeterpb"
	"github.com/microhost/microhost/host/client"
	"github.com/microhost/microhost/host/client/rpccaller"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/localregistry"
	"github.com/microhost/microhost/internal/servicetest"
)

// startGreeter serves the greeter module from pluginDir on 127.0.0.1 with a private local
// registry until the test ends.
func startGreeter(t *testing.T, pluginDir string) *localregistry.Registry {
	t.Helper()
	regDir := t.TempDir()
	reg, err := localregistry.New(regDir)
	require.NoError(t, err)
	servicetest.Start(t, servicetest.Service{Name: "greeter", Version: "1.0.0", Module: "greeter", PluginDir: pluginDir, Registry: reg, RegistryDir: regDir})
	return reg
}

// The generated client calls the generated Wasm handler through the registry: from a Go
// program with the native client, and from another module through the host's call import.
func TestGeneratedEndToEnd(t *testing.T) {
	ctx := context.Background()
	pluginDir := t.TempDir()
	_, err := guestbuild.Go(ctx, "./handlers/greeter", pluginDir)
	require.NoError(t, err)
	relayWasm, err := guestbuild.Go(ctx, "./handlers/greeter/testdata/relay", pluginDir)
	require.NoError(t, err)
	reg := startGreeter(t, pluginDir)

	// The endpoint's message names reach the registry.
	services, err := reg.GetService(ctx, "greeter")
	require.NoError(t, err)
	require.Len(t, services, 1)
	assert.Equal(t, []abi.Endpoint{{Name: "Greeter.Hello", Request: "HelloRequest", Response: "HelloResponse"}}, services[0].Endpoints)

	native := client.New(reg, client.Options{Codecs: stockCodecs()})
	greeter := pb.NewGreeterClient("greeter", rpccaller.New(native))
	for _, ct := range []string{"", rpc.ContentTypeProtobuf, rpc.ContentTypeJSON, "application/octet-stream", "application/json-rpc", "application/proto-rpc"} {
		t.Run("native "+ct, func(t *testing.T) {
			rsp, err := greeter.Hello(ctx, &pb.HelloRequest{Name: "John"}, rpc.WithContentType(ct))
			require.NoError(t, err)
			assert.Equal(t, "Hello John", rsp.GetGreeting())

			_, err = greeter.Hello(ctx, &pb.HelloRequest{}, rpc.WithContentType(ct))
			var ae *abi.Error
			require.True(t, errors.As(err, &ae), "%v", err)
			assert.Equal(t, int32(400), ae.Code)
			assert.Equal(t, "name is required", ae.Detail)
		})
	}
	_, err = pb.NewGreeterClient("nobody", rpccaller.New(native)).Hello(ctx, &pb.HelloRequest{Name: "x"})
	assert.ErrorIs(t, err, abi.ErrServiceNotFound)

	// A module calls the greeter through the generated client and rpc.GuestCaller.
	rt, err := host.NewRuntime(ctx, host.Options{CacheDir: host.DefaultCacheDir()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	relay, err := rt.Load(ctx, relayWasm, host.ModuleOptions{Services: host.ServiceCallerFunc(func(ctx context.Context, r *host.ServiceRequest) ([]byte, error) {
		return native.Call(ctx, &client.Request{Service: r.Service, Endpoint: r.Endpoint, ContentType: r.ContentType, Metadata: r.Metadata, Body: r.Body})
	}), Grants: host.Grants{Calls: []string{"greeter"}}})
	require.NoError(t, err)
	for _, ct := range []string{rpc.ContentTypeProtobuf, rpc.ContentTypeJSON} {
		t.Run("guest "+ct, func(t *testing.T) {
			rsp, err := relay.Call(ctx, &host.Request{Endpoint: "Relay.Greet", ContentType: "application/json", Body: []byte(`{"name":"Ann","content_type":"` + ct + `"}`)})
			require.NoError(t, err)
			assert.Equal(t, `{"greeting":"Hello Ann"}`, string(rsp.Body))

			_, err = relay.Call(ctx, &host.Request{Endpoint: "Relay.Greet", ContentType: "application/json", Body: []byte(`{"name":"","content_type":"` + ct + `"}`)})
			var ae *abi.Error
			require.True(t, errors.As(err, &ae), "%v", err)
			assert.Equal(t, int32(400), ae.Code)
			assert.Equal(t, "name is required", ae.Detail, "the greeter's error reaches the relay's caller")
		})
	}
}
