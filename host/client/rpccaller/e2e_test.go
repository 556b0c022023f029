package rpccaller_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/rpc"
	"github.com/microhost/microhost/host/client"
	"github.com/microhost/microhost/host/client/rpccaller"
	pb "github.com/microhost/microhost/host/client/rpccaller/testdata/tally/tallypb"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/localregistry"
	"github.com/microhost/microhost/internal/servicetest"
)

// startTally builds the tally module (testdata/tally) and serves it on 127.0.0.1 with a
// private local registry until the test ends.
func startTally(t *testing.T) *localregistry.Registry {
	t.Helper()
	pluginDir := t.TempDir()
	_, err := guestbuild.Go(context.Background(), "./host/client/rpccaller/testdata/tally", pluginDir)
	require.NoError(t, err)
	regDir := t.TempDir()
	reg, err := localregistry.New(regDir)
	require.NoError(t, err)
	servicetest.Start(t, servicetest.Service{Name: "tally", Version: "1.0.0", Module: "tally", PluginDir: pluginDir, Registry: reg, RegistryDir: regDir})
	return reg
}

// A generated client streams from a generated Wasm handler through the registry and the
// native client, in each kind of stream and each content type a stream speaks.
func TestGeneratedStreamsEndToEnd(t *testing.T) {
	reg := startTally(t)
	ctx := context.Background()

	services, err := reg.GetService(ctx, "tally")
	require.NoError(t, err)
	require.Len(t, services, 1)
	var names []string
	for _, e := range services[0].Endpoints {
		names = append(names, e.Name+"("+e.Request+" -> "+e.Response+")")
		assert.Equal(t, "true", e.Metadata["stream"], "%s is marked as a stream in the registry", e.Name)
	}
	assert.Equal(t, []string{"Tally.Count(CountRequest -> Number)", "Tally.Sum(Number -> Total)", "Tally.Running(Number -> Total)"}, names,
		"the streaming endpoints reach the registry with their message names")

	native := client.New(reg, client.Options{Codecs: stockCodecs()})
	t.Cleanup(func() { _ = native.Close() })
	tally := pb.NewTallyClient("tally", rpccaller.New(native))
	for _, ct := range []string{"", rpc.ContentTypeProtobuf, rpc.ContentTypeJSON, "application/octet-stream"} {
		t.Run("content type "+ct, func(t *testing.T) {
			opt := rpc.WithContentType(ct)
			t.Run("server streaming", func(t *testing.T) {
				s, err := tally.Count(ctx, &pb.CountRequest{To: 5}, opt)
				require.NoError(t, err)
				defer s.Close()
				var got []int64
				for {
					num, err := s.Recv()
					if errors.Is(err, io.EOF) {
						break
					}
					require.NoError(t, err)
					got = append(got, num.N)
				}
				assert.Equal(t, []int64{1, 2, 3, 4, 5}, got)
			})
			t.Run("error midway", func(t *testing.T) {
				s, err := tally.Count(ctx, &pb.CountRequest{To: 9, FailAfter: 2}, opt)
				require.NoError(t, err)
				defer s.Close()
				for want := int64(1); want <= 2; want++ {
					num, err := s.Recv()
					require.NoError(t, err)
					assert.Equal(t, want, num.N)
				}
				_, err = s.Recv()
				var ae *abi.Error
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, int32(409), ae.Code)
				assert.Equal(t, "failing after 2 numbers, as asked", ae.Detail)
			})
			t.Run("bad request", func(t *testing.T) {
				s, err := tally.Count(ctx, &pb.CountRequest{To: -1}, opt)
				require.NoError(t, err)
				defer s.Close()
				_, err = s.Recv()
				var ae *abi.Error
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, int32(400), ae.Code)
			})
			t.Run("client streaming", func(t *testing.T) {
				s, err := tally.Sum(ctx, opt)
				require.NoError(t, err)
				for n := int64(0); n <= 10; n++ { // 0 is an empty protobuf message
					require.NoError(t, s.Send(&pb.Number{N: n}))
				}
				total, err := s.CloseAndRecv()
				require.NoError(t, err)
				assert.Equal(t, int64(55), total.Sum)
				assert.Equal(t, int64(11), total.Count)

				s, err = tally.Sum(ctx, opt)
				require.NoError(t, err)
				total, err = s.CloseAndRecv()
				require.NoError(t, err, "a reply with every field at its default")
				assert.Zero(t, total.Sum)
				assert.Zero(t, total.Count)
			})
			t.Run("bidirectional", func(t *testing.T) {
				s, err := tally.Running(ctx, opt)
				require.NoError(t, err)
				defer s.Close()
				// Each answer comes back before the next number is sent.
				for n := int64(1); n <= 20; n++ {
					require.NoError(t, s.Send(&pb.Number{N: n}))
					total, err := s.Recv()
					require.NoError(t, err)
					assert.Equal(t, n*(n+1)/2, total.Sum)
					assert.Equal(t, n, total.Count)
				}
				require.NoError(t, s.CloseSend())
				_, err = s.Recv()
				assert.ErrorIs(t, err, io.EOF)
			})
		})
	}

	_, err = pb.NewTallyClient("nobody", rpccaller.New(native)).Count(ctx, &pb.CountRequest{To: 1})
	assert.ErrorIs(t, err, abi.ErrServiceNotFound)
	_, err = tally.Running(ctx, rpc.WithContentType("application/json-rpc"))
	var ae *abi.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int32(415), ae.Code, "only the bare content types stream")
}
