package consultest

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStartRestart(t *testing.T) {
	a := Start(t)
	get := func() string {
		rsp, err := http.Get("http://" + a.Addr + "/v1/status/leader")
		require.NoError(t, err)
		defer rsp.Body.Close()
		b, err := io.ReadAll(rsp.Body)
		require.NoError(t, err)
		return string(b)
	}
	require.Contains(t, get(), "127.0.0.1:")
	a.Restart(t)
	require.Contains(t, get(), "127.0.0.1:")
}
