//go:build !wasip1

package rpc_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/microhost/microhost/abi/rpc"
	"github.com/microhost/microhost/abi/rpc/testdata/wire/gopb"
	"github.com/microhost/microhost/abi/rpc/testdata/wire/ownpb"
)

// These tests hold the message types protoc-gen-microhost declares itself
// (messages=microhost, testdata/wire/ownpb) equal to protoc-gen-go's with the protobuf runtime
// (testdata/wire/gopb), generated from the same file: the same bytes on the wire, the same
// values decoded, the same bodies refused, the same JSON.

// discardUnknown decodes as the own types do, which keep no unknown fields.
var discardUnknown = proto.UnmarshalOptions{DiscardUnknown: true}

// fill sets a random subset of m's fields to random values, edge values often, with messages
// nested at most depth deep.
func fill(r *rand.Rand, m protoreflect.Message, depth int) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if r.IntN(3) == 0 {
			continue
		}
		switch {
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for range r.IntN(4) {
				k := randomValue(r, fd.MapKey()).MapKey()
				if fd.MapValue().Kind() == protoreflect.MessageKind {
					if depth == 0 {
						break
					}
					v := mp.NewValue()
					fill(r, v.Message(), depth-1)
					mp.Set(k, v)
				} else {
					mp.Set(k, randomValue(r, fd.MapValue()))
				}
			}
		case fd.IsList():
			l := m.Mutable(fd).List()
			for range r.IntN(4) {
				if fd.Kind() == protoreflect.MessageKind {
					if depth == 0 {
						break
					}
					e := l.NewElement()
					fill(r, e.Message(), depth-1)
					l.Append(e)
				} else {
					l.Append(randomValue(r, fd))
				}
			}
		case fd.Kind() == protoreflect.MessageKind:
			if depth > 0 {
				fill(r, m.Mutable(fd).Message(), depth-1)
			}
		default:
			m.Set(fd, randomValue(r, fd))
		}
	}
}

// randomValue is a value for fd, one of its kind's edge values half the time.
func randomValue(r *rand.Rand, fd protoreflect.FieldDescriptor) protoreflect.Value {
	edge := r.IntN(2) == 0
	pick := func(vs ...int64) int64 { return vs[r.IntN(len(vs))] }
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(r.IntN(2) == 0)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		if edge {
			return protoreflect.ValueOfInt32(int32(pick(0, -1, 1, math.MinInt32, math.MaxInt32)))
		}
		return protoreflect.ValueOfInt32(r.Int32() - r.Int32())
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if edge {
			return protoreflect.ValueOfInt64(pick(0, -1, 1, math.MinInt64, math.MaxInt64))
		}
		return protoreflect.ValueOfInt64(r.Int64() - r.Int64())
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		if edge {
			return protoreflect.ValueOfUint32(uint32(pick(0, 1, 127, 128, math.MaxUint32)))
		}
		return protoreflect.ValueOfUint32(r.Uint32())
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if edge {
			return protoreflect.ValueOfUint64([]uint64{0, 1, 1 << 63, math.MaxUint64}[r.IntN(4)])
		}
		return protoreflect.ValueOfUint64(r.Uint64())
	case protoreflect.FloatKind:
		if edge {
			return protoreflect.ValueOfFloat32([]float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), math.MaxFloat32, math.SmallestNonzeroFloat32}[r.IntN(6)])
		}
		return protoreflect.ValueOfFloat32(r.Float32()*2e6 - 1e6)
	case protoreflect.DoubleKind:
		if edge {
			return protoreflect.ValueOfFloat64([]float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(-1), math.MaxFloat64, 1e-300}[r.IntN(6)])
		}
		return protoreflect.ValueOfFloat64(r.NormFloat64() * 1e10)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString([]string{"", "plain", "héllo wörld", "日本語 🙂", "quote \" \\", "\x00nul", string(make([]byte, 200))}[r.IntN(7)])
	case protoreflect.BytesKind:
		b := make([]byte, r.IntN(3)*r.IntN(150))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return protoreflect.ValueOfBytes(b)
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(pick(0, 1, 2, 7, -3)))
	}
	panic("no random value for " + fd.Kind().String())
}

// deterministic encodes as the own types do: map entries in the order of their keys.
var deterministic = proto.MarshalOptions{Deterministic: true}

// wireCase is a message of testdata/wire in both forms.
type wireCase struct {
	name   string
	newGo  func() proto.Message
	newOwn func() rpc.Message
}

// wireCases are the top-level messages of testdata/wire: Tree reaches every kind of field
// but maps; Maps, every kind of map, and a Tree.
var wireCases = []wireCase{
	{"Tree", func() proto.Message { return new(gopb.Tree) }, func() rpc.Message { return new(ownpb.Tree) }},
	{"Maps", func() proto.Message { return new(gopb.Maps) }, func() rpc.Message { return new(ownpb.Maps) }},
}

// random is a random message of c, protoc-gen-go's, and its protobuf encoding.
func (c wireCase) random(t *testing.T, r *rand.Rand) (proto.Message, []byte) {
	t.Helper()
	m := c.newGo()
	fill(r, m.ProtoReflect(), 3)
	b, err := deterministic.Marshal(m)
	require.NoError(t, err)
	return m, b
}

// The own types decode what the protobuf runtime encodes into the same values (the same
// JSON, in both encoding/json's form and the generated one), and encode them to the same
// bytes.
func TestOwnMessagesMatchTheProtobufRuntime(t *testing.T) {
	for _, c := range wireCases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			for i := range 1500 {
				want, body := c.random(t, r)
				got := c.newOwn()
				require.NoError(t, got.MicrohostDecodeProto(body), "case %d", i)
				again, err := got.MicrohostAppendProto(nil)
				require.NoError(t, err)
				require.Equal(t, hex.EncodeToString(body), hex.EncodeToString(again), "case %d: the encoding differs", i)

				wantJSON, wantErr := json.Marshal(want)
				gotJSON, gotErr := json.Marshal(got)
				require.Equal(t, wantErr != nil, gotErr != nil, "case %d: %v, %v", i, wantErr, gotErr)
				require.Equal(t, string(wantJSON), string(gotJSON), "case %d", i)
				fast, err := rpc.Marshal(rpc.ContentTypeJSON, got)
				require.Equal(t, wantErr != nil, err != nil, "case %d", i)
				require.Equal(t, string(wantJSON), string(fast), "case %d", i)
				if wantErr != nil {
					continue
				}
				// The JSON reads back through rpc.Unmarshal to the same message on both sides.
				fromJSON, goFromJSON := c.newOwn(), c.newGo()
				require.NoError(t, rpc.Unmarshal(rpc.ContentTypeJSON, wantJSON, fromJSON))
				require.NoError(t, json.Unmarshal(wantJSON, goFromJSON))
				b1, err := fromJSON.MicrohostAppendProto(nil)
				require.NoError(t, err)
				b2, err := deterministic.Marshal(goFromJSON)
				require.NoError(t, err)
				require.Equal(t, hex.EncodeToString(b2), hex.EncodeToString(b1), "case %d", i)
			}
		})
	}
}

// decodeBoth decodes body as c with both types and, when both take it, holds what they
// decoded equal by its encoding.
func (c wireCase) decodeBoth(t *testing.T, body []byte) (goErr, ownErr error) {
	t.Helper()
	want, got := c.newGo(), c.newOwn()
	goErr, ownErr = discardUnknown.Unmarshal(body, want), got.MicrohostDecodeProto(body)
	if goErr == nil && ownErr == nil {
		b1, err := deterministic.Marshal(want)
		require.NoError(t, err)
		b2, err := got.MicrohostAppendProto(nil)
		require.NoError(t, err)
		require.Equal(t, hex.EncodeToString(b1), hex.EncodeToString(b2), "body %x", body)
		j1, err1 := json.Marshal(want)
		j2, err2 := json.Marshal(got)
		require.Equal(t, err1 != nil, err2 != nil, "body %x", body)
		require.Equal(t, string(j1), string(j2), "body %x", body)
	}
	return goErr, ownErr
}

// decodeBoth decodes body as a Tree with both types.
func decodeBoth(t *testing.T, body []byte) (goErr, ownErr error) {
	t.Helper()
	return wireCases[0].decodeBoth(t, body)
}

// Damaged bodies — truncated, with a byte changed, spliced — are refused by the own types
// exactly when the protobuf runtime refuses them, and decode to the same message otherwise.
func TestOwnMessagesRefuseWhatTheRuntimeRefuses(t *testing.T) {
	for _, c := range wireCases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			refused := 0
			for i := range 2000 {
				_, body := c.random(t, r)
				if len(body) == 0 {
					continue
				}
				switch i % 3 {
				case 0:
					body = body[:r.IntN(len(body))]
				case 1:
					body[r.IntN(len(body))] = byte(r.Uint32())
				default:
					_, other := c.random(t, r)
					body = append(body[:r.IntN(len(body))], other[r.IntN(len(other)+1):]...)
				}
				goErr, ownErr := c.decodeBoth(t, body)
				require.Equal(t, goErr != nil, ownErr != nil, "body %x: runtime %v, own %v", body, goErr, ownErr)
				if goErr != nil {
					refused++
				}
			}
			assert.Greater(t, refused, 200, "the damage should make many bodies invalid")
		})
	}
}

// tag is the encoding of a field's tag.
func tag(num protowire.Number, typ protowire.Type) []byte { return protowire.AppendTag(nil, num, typ) }

// cat joins the parts of a hand-made body.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// Hand-made bodies at the edges of the encoding.
func TestOwnMessagesEdgeBodies(t *testing.T) {
	lists := func(inner []byte) []byte { return cat(tag(3, protowire.BytesType), protowire.AppendBytes(nil, inner)) }
	for name, body := range map[string][]byte{
		"empty":                   nil,
		"field number zero":       {0x00, 0x01},
		"end group alone":         tag(9, protowire.EndGroupType),
		"unknown group":           cat(tag(9, protowire.StartGroupType), tag(1, protowire.VarintType), []byte{0x05}, tag(9, protowire.EndGroupType)),
		"unknown varint":          cat(tag(99, protowire.VarintType), []byte{0x96, 0x01}),
		"varint of 11 bytes":      cat(tag(99, protowire.VarintType), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}),
		"known field, wrong type": cat(tag(1, protowire.VarintType), []byte{0x01}),
		"string of invalid UTF-8": cat(tag(1, protowire.BytesType), protowire.AppendBytes(nil, []byte{0xff})),
		"unpacked list":           lists(cat(tag(2, protowire.VarintType), []byte{0x7f}, tag(2, protowire.VarintType), []byte{0x01})),
		"packed and unpacked":     lists(cat(tag(2, protowire.BytesType), []byte{0x02, 0x01, 0x02}, tag(2, protowire.VarintType), []byte{0x03})),
		"packed, cut value":       lists(cat(tag(9, protowire.BytesType), []byte{0x03, 0x01, 0x02, 0x03})),
		"packed bools of 2":       lists(cat(tag(1, protowire.BytesType), []byte{0x02, 0x02, 0x00})),
		"list of invalid UTF-8":   lists(cat(tag(14, protowire.BytesType), []byte{0x01, 0x80})),
		"empty bytes element":     lists(cat(tag(15, protowire.BytesType), []byte{0x00})),
		"message twice merges":    cat(tag(2, protowire.BytesType), []byte{0x02, 0x08, 0x01}, tag(2, protowire.BytesType), []byte{0x02, 0x10, 0x05}),
		"sint32 of 64 bits":       cat(tag(2, protowire.BytesType), []byte{0x0b}, tag(3, protowire.VarintType), []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}),
		"length past the end":     cat(tag(1, protowire.BytesType), []byte{0x05, 'a'}),
	} {
		goErr, ownErr := decodeBoth(t, body)
		assert.Equal(t, goErr != nil, ownErr != nil, "%s: runtime %v, own %v", name, goErr, ownErr)
	}
}

// Map entries at the edges: a key or a value left out, a key twice, a message value in two
// pieces, an entry of a wrong wire type, a field of the entry it does not know.
func TestOwnMessagesEdgeMapEntries(t *testing.T) {
	entry := func(num protowire.Number, parts ...[]byte) []byte {
		return protowire.AppendBytes(tag(num, protowire.BytesType), cat(parts...))
	}
	str := func(num protowire.Number, s string) []byte {
		return protowire.AppendString(tag(num, protowire.BytesType), s)
	}
	for name, body := range map[string][]byte{
		"no key":                  entry(1, str(2, "v")),
		"no value":                entry(1, str(1, "k")),
		"empty entry":             entry(1),
		"key twice in an entry":   entry(1, str(1, "a"), str(1, "b"), str(2, "v")),
		"a key twice":             cat(entry(1, str(1, "k"), str(2, "first")), entry(1, str(1, "k"), str(2, "second"))),
		"bytes value left out":    entry(3, tag(1, protowire.VarintType), []byte{1}),
		"empty bytes value":       entry(3, tag(1, protowire.VarintType), []byte{1}, str(2, "")),
		"message value left out":  entry(2, tag(1, protowire.VarintType), []byte{7}),
		"message value in pieces": entry(2, tag(1, protowire.VarintType), []byte{7}, entry(2, tag(1, protowire.VarintType), []byte{1}), entry(2, tag(2, protowire.VarintType), []byte{5})),
		"entry of varint type":    cat(tag(1, protowire.VarintType), []byte{3}),
		"unknown field in entry":  entry(1, str(1, "k"), tag(7, protowire.VarintType), []byte{1}, str(2, "v")),
		"key of wrong wire type":  entry(1, tag(1, protowire.VarintType), []byte{1}, str(2, "v")),
		"invalid UTF-8 key":       entry(1, str(1, "\xff"), str(2, "v")),
		"invalid UTF-8 value":     entry(1, str(1, "k"), str(2, "\xc3")),
		"truncated entry":         cat(tag(1, protowire.BytesType), []byte{0x05, 0x0a, 0x01}),
		"entry field number zero": entry(1, []byte{0x00, 0x01}),
		"nested map nested":       entry(8, str(1, "n"), entry(2, entry(8, str(1, "m")))),
	} {
		goErr, ownErr := wireCases[1].decodeBoth(t, body)
		assert.Equal(t, goErr != nil, ownErr != nil, "%s: runtime %v, own %v", name, goErr, ownErr)
	}
}

// Messages nested past the runtime's recursion limit are refused by both; one level less is
// taken by both.
func TestOwnMessagesDepthLimit(t *testing.T) {
	nest := func(levels int) []byte {
		var b []byte
		for range levels {
			b = protowire.AppendBytes(protowire.AppendTag(nil, 5, protowire.BytesType), b)
		}
		return b
	}
	for _, levels := range []int{rpc.ProtoDepthLimit - 1, rpc.ProtoDepthLimit, rpc.ProtoDepthLimit + 1} {
		goErr, ownErr := decodeBoth(t, nest(levels))
		assert.Equal(t, goErr != nil, ownErr != nil, "%d levels: runtime %v, own %v", levels, goErr, ownErr)
	}
	_, ownErr := decodeBoth(t, nest(rpc.ProtoDepthLimit+1))
	assert.ErrorIs(t, ownErr, rpc.ErrProtoDepth)
}

// A string that is not UTF-8 cannot be encoded, by either.
func TestOwnMessagesRefuseInvalidUTF8(t *testing.T) {
	_, goErr := proto.Marshal(&gopb.Tree{Lists: &gopb.Lists{S: []string{"ok", "\xff"}}})
	_, ownErr := (&ownpb.Tree{Lists: &ownpb.Lists{S: []string{"ok", "\xff"}}}).MicrohostAppendProto(nil)
	require.Error(t, goErr)
	require.EqualError(t, ownErr, "protobuf: field wire.Lists.s contains invalid UTF-8")
	_, ownErr = (&ownpb.Scalars{S: "\xc3"}).MicrohostAppendProto(nil)
	require.EqualError(t, ownErr, "protobuf: field wire.Scalars.s contains invalid UTF-8")
}

// FuzzOwnMessagesDecode holds the own types' decoding to the protobuf runtime's on any input,
// as a Tree and as Maps.
func FuzzOwnMessagesDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range wireCases {
		for range 20 {
			m := c.newGo()
			fill(r, m.ProtoReflect(), 2)
			b, err := deterministic.Marshal(m)
			require.NoError(f, err)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, c := range wireCases {
			goErr, ownErr := c.decodeBoth(t, body)
			if (goErr != nil) != (ownErr != nil) {
				t.Fatalf("%s, body %x: runtime %v, own %v", c.name, body, goErr, ownErr)
			}
		}
	})
}

// The own types have what code written for protoc-gen-go's has: getters that take a nil
// message, enum names, Reset.
func TestOwnMessagesAPI(t *testing.T) {
	var nilTree *ownpb.Tree
	assert.Nil(t, nilTree.GetLeaf())
	assert.Equal(t, "", nilTree.GetName())
	tree := &ownpb.Tree{Name: "t", Leaf: &ownpb.Tree_Leaf{Shade: ownpb.Tree_Leaf_DARK}}
	assert.Equal(t, "DARK", tree.GetLeaf().GetShade().String())
	assert.Equal(t, gopb.Tree_Leaf_DARK.String(), ownpb.Tree_Leaf_DARK.String())
	assert.Equal(t, "7", ownpb.Colour(7).String())
	assert.Equal(t, gopb.Colour_value, ownpb.Colour_value)
	assert.Equal(t, gopb.Colour_name, ownpb.Colour_name)
	tree.Reset()
	assert.Equal(t, ownpb.Tree{}, *tree)
}
