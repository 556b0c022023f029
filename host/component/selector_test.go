package component_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/microhost/microhost/host/component"
)

func sampleSelection() component.Selection {
	return component.Selection{Strategy: component.StrategyRoundRobin, Rand: 1<<64 - 1, Counter: 42, Version: "2.0.0",
		Labels: map[string]string{"zone": "b", "": "empty-key"}, Exclude: []string{"n-1", ""},
		Nodes: []component.SelectNode{
			{ID: "n-0", Address: "127.0.0.1:1", Version: "1.0.0"},
			{ID: "n-1", Address: "127.0.0.1:2", Version: "2.0.0", Metadata: map[string]string{"zone": "b", "k": ""}},
			{},
		}}
}

// schema compiles abi/proto/selector.proto with protoc and returns its messages.
func schema(t *testing.T) protoreflect.FileDescriptor {
	t.Helper()
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		t.Skip("protoc is not installed")
	}
	out := filepath.Join(t.TempDir(), "selector.pb")
	cmd := exec.Command(protoc, "--proto_path=../../abi/proto", "--descriptor_set_out="+out, "selector.proto")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", b)
	raw, err := os.ReadFile(out)
	require.NoError(t, err)
	var set descriptorpb.FileDescriptorSet
	require.NoError(t, proto.Unmarshal(raw, &set))
	fd, err := protodesc.NewFile(set.File[0], nil)
	require.NoError(t, err)
	return fd
}

// TestSelectionMatchesSchema checks the hand-written encoding against the schema: what
// AppendSelection writes, protobuf decodes to the same values, and what protobuf writes,
// DecodeSelection reads back.
func TestSelectionMatchesSchema(t *testing.T) {
	fd := schema(t)
	in := sampleSelection()
	msg := dynamicpb.NewMessage(fd.Messages().ByName("SelectInput"))
	require.NoError(t, proto.Unmarshal(component.AppendSelection(nil, &in), msg))
	f := msg.Descriptor().Fields()
	assert.EqualValues(t, in.Strategy, msg.Get(f.ByName("strategy")).Uint())
	assert.Equal(t, in.Rand, msg.Get(f.ByName("rand")).Uint())
	assert.Equal(t, in.Counter, msg.Get(f.ByName("counter")).Uint())
	assert.Equal(t, in.Version, msg.Get(f.ByName("version")).String())
	assert.Equal(t, len(in.Labels), msg.Get(f.ByName("labels")).Map().Len())
	assert.Equal(t, "b", msg.Get(f.ByName("labels")).Map().Get(protoreflect.ValueOfString("zone").MapKey()).String())
	assert.Equal(t, 2, msg.Get(f.ByName("exclude")).List().Len())
	nodes := msg.Get(f.ByName("nodes")).List()
	require.Equal(t, 3, nodes.Len())
	n1 := nodes.Get(1).Message()
	nf := n1.Descriptor().Fields()
	assert.Equal(t, "n-1", n1.Get(nf.ByName("id")).String())
	assert.Equal(t, "127.0.0.1:2", n1.Get(nf.ByName("address")).String())
	assert.Equal(t, "2.0.0", n1.Get(nf.ByName("version")).String())
	assert.Equal(t, 2, n1.Get(nf.ByName("metadata")).Map().Len())

	// And back: protobuf's encoding of the same message decodes to the input.
	wire, err := proto.Marshal(msg)
	require.NoError(t, err)
	var got component.Selection
	require.NoError(t, component.DecodeSelection(wire, &got))
	want := in
	want.Nodes = append([]component.SelectNode(nil), in.Nodes...)
	assert.Equal(t, want, got)

	out := dynamicpb.NewMessage(fd.Messages().ByName("SelectOutput"))
	for _, i := range []int{0, 1, 300} {
		b := component.AppendSelectIndex(nil, i)
		require.NoError(t, proto.Unmarshal(b, out))
		assert.EqualValues(t, i, out.Get(out.Descriptor().Fields().ByName("index")).Uint())
		j, err := component.DecodeSelectIndex(b, 301)
		require.NoError(t, err)
		assert.Equal(t, i, j)
	}
}

func TestDecodeSelectionRefusesMalformed(t *testing.T) {
	var in component.Selection
	require.NoError(t, component.DecodeSelection(nil, &in))
	for _, bad := range [][]byte{{0xff}, {0x3a, 0x05, 0x0a}, {0x08}, {0x38, 0x01}, {0x0a, 0x00}, {0x2a, 0x02, 0x08, 0x01}, {0x3a, 0x02, 0x08, 0x01}} {
		assert.ErrorIs(t, component.DecodeSelection(bad, &in), component.ErrMalformedSelection, "%x", bad)
	}
	// Unknown fields are skipped.
	b := protowire.AppendTag(nil, 99, protowire.VarintType)
	b = protowire.AppendVarint(b, 1)
	require.NoError(t, component.DecodeSelection(b, &in))

	_, err := component.DecodeSelectIndex([]byte{0x08, 0x03}, 3)
	assert.ErrorContains(t, err, "index 3 of 3 nodes")
	_, err = component.DecodeSelectIndex([]byte{0x0a, 0x00}, 3)
	assert.Error(t, err)
	i, err := component.DecodeSelectIndex(nil, 1)
	require.NoError(t, err)
	assert.Zero(t, i)
}
