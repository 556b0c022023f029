package localregistry

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
)

func TestNewUsesDirectory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r, err := New(dir)
	require.NoError(t, err)
	require.Equal(t, dir, r.Dir())
	svc := &abi.Service{Name: "greeter", Version: "1", Nodes: []abi.Node{{ID: "greeter-a", Address: "127.0.0.1:1"}}}
	require.NoError(t, r.Register(ctx, svc, time.Minute))
	again, err := New(dir)
	require.NoError(t, err)
	got, err := again.GetService(ctx, "greeter")
	require.NoError(t, err)
	require.Equal(t, "greeter-a", got[0].Nodes[0].ID)
	require.NotEmpty(t, DefaultDir())
}
