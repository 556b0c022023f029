package interop

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	mclient "github.com/micro/go-micro/v2/client"
	merrors "github.com/micro/go-micro/v2/errors"
	"github.com/micro/go-micro/v2/registry"
	mregistry "github.com/micro/go-micro/v2/registry/memory"
	mtransport "github.com/micro/go-micro/v2/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goMicroStreamClient is a Go Micro client whose registry lists the microhost counter service
// at addr, with the node metadata microhost registers ("protocol": "mucp"), so that Go Micro
// sends application/json as it is rather than in the JSON-RPC envelope it uses for nodes of
// unknown protocol.
func goMicroStreamClient(t *testing.T, addr string) mclient.Client {
	t.Helper()
	reg := mregistry.NewRegistry()
	require.NoError(t, reg.Register(&registry.Service{
		Name:    "counter",
		Version: "1.0.0",
		Nodes:   []*registry.Node{{Id: "counter-1", Address: addr, Metadata: map[string]string{"protocol": "mucp", "transport": "http"}}},
	}))
	return mclient.NewClient(
		mclient.Registry(reg),
		mclient.Transport(mtransport.NewTransport()),
		mclient.RequestTimeout(5*time.Second),
		mclient.Retries(0),
	)
}

// counted is a message of the counter example's Counter.Count stream.
type counted struct {
	N int `json:"n"`
}

// A Go Micro v2.9.1 client streams from microhost's stream example, in both transport and
// codec modes: a server-side stream to its end, one that fails midway with the handler's
// error, and a bidirectional stream.
func TestGoMicroClientStreamsFromMicrohost(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			c := goMicroStreamClient(t, startModule(t, "counter", mode))
			ctx := context.Background()

			t.Run("server-side", func(t *testing.T) {
				st, err := c.Stream(ctx, c.NewRequest("counter", "Counter.Count", map[string]int{"count": 3}, mclient.WithContentType("application/json")))
				require.NoError(t, err)
				defer st.Close()
				var got []int
				for {
					var m counted
					err := st.Recv(&m)
					if errors.Is(err, io.EOF) {
						break
					}
					require.NoError(t, err)
					got = append(got, m.N)
					require.LessOrEqual(t, len(got), 3, "the stream did not end")
				}
				assert.Equal(t, []int{1, 2, 3}, got)
			})

			t.Run("error midway", func(t *testing.T) {
				st, err := c.Stream(ctx, c.NewRequest("counter", "Counter.Count", map[string]int{"count": 5, "fail_after": 2}, mclient.WithContentType("application/json")))
				require.NoError(t, err)
				defer st.Close()
				var got []int
				for {
					var m counted
					err = st.Recv(&m)
					if err != nil {
						break
					}
					got = append(got, m.N)
					require.LessOrEqual(t, len(got), 2, "the stream went past its failure")
				}
				assert.Equal(t, []int{1, 2}, got)
				me := merrors.Parse(err.Error())
				assert.Equal(t, int32(409), me.Code, err.Error())
				assert.Equal(t, "counter", me.Id)
			})

			t.Run("bidirectional", func(t *testing.T) {
				type msg struct {
					Msg string `json:"msg"`
				}
				st, err := c.Stream(ctx, c.NewRequest("counter", "Counter.Echo", msg{"hello"}, mclient.WithContentType("application/json")))
				require.NoError(t, err)
				defer st.Close()
				for _, want := range []string{"hello", "world", "again"} {
					if want != "hello" {
						require.NoError(t, st.Send(msg{want}))
					}
					var got msg
					require.NoError(t, st.Recv(&got))
					assert.Equal(t, want, got.Msg)
				}
			})
		})
	}
}
