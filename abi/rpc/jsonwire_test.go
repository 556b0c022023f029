//go:build !wasip1

package rpc_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/microhost/microhost/abi/rpc"
	pb "github.com/microhost/microhost/abi/rpc/testdata/kinds/kindspb"
)

// These tests hold the generated JSON methods (on testdata/kinds, which has a field of every
// kind) and the helpers behind them equal to encoding/json, which they stand in for.

// generated is what protoc-gen-microhost adds to a message with JSON methods.
type generated interface {
	proto.Message
	MicrohostAppendJSON(b []byte) ([]byte, bool)
	MicrohostDecodeJSON(r *rpc.JSONReader)
}

var trickyStrings = []string{
	"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline\rcr",
	"\b\f\x00\x01\x1f\x7f", "héllo wörld", "日本語", "emoji 🙂", "\u2028\u2029", "bad \xff utf8 \xc3",
	"\xed\xa0\x80 surrogate", string([]byte{0xe2, 0x82}),
}

func TestAppendJSONFloatIsEncodingJSONs(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1.5, 0.1, 1e-6, 9.99e-7, 1e-7, 123456789, 1e20, 1e21, 1.5e300,
		math.MaxFloat64, math.SmallestNonzeroFloat64, math.MaxFloat32, math.SmallestNonzeroFloat32, 3.4e38, 1e-45} {
		want, err := json.Marshal(f)
		require.NoError(t, err)
		got, ok := rpc.AppendJSONFloat(nil, f, 64)
		require.True(t, ok)
		assert.Equal(t, string(want), string(got), "float64 %v", f)

		f32 := float32(f)
		if math.IsInf(float64(f32), 0) {
			continue
		}
		want, err = json.Marshal(f32)
		require.NoError(t, err)
		got, ok = rpc.AppendJSONFloat(nil, float64(f32), 32)
		require.True(t, ok)
		assert.Equal(t, string(want), string(got), "float32 %v", f32)
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		_, err := json.Marshal(f)
		require.Error(t, err)
		_, ok := rpc.AppendJSONFloat(nil, f, 64)
		assert.False(t, ok, "%v is left to encoding/json to refuse", f)
	}
}

// randomTree builds a tree of random values, nil elements in lists included.
func randomTree(r *rand.Rand, depth int) *pb.Tree {
	t := &pb.Tree{Name: randomString(r)}
	if r.IntN(3) > 0 {
		t.Scalars = randomScalars(r)
	}
	if r.IntN(3) > 0 {
		t.Lists = randomLists(r)
	}
	if r.IntN(2) == 0 {
		t.Leaf = &pb.Tree_Leaf{Value: randomString(r)}
	}
	if depth > 0 {
		for range r.IntN(3) {
			if r.IntN(5) == 0 {
				t.Children = append(t.Children, nil)
			} else {
				t.Children = append(t.Children, randomTree(r, depth-1))
			}
		}
		if r.IntN(3) == 0 {
			t.Parent = randomTree(r, depth-1)
		}
	}
	return t
}

func randomString(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return ""
	}
	return trickyStrings[r.IntN(len(trickyStrings))]
}

func randomBytes(r *rand.Rand) []byte {
	switch r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []byte{}
	}
	b := make([]byte, r.IntN(12))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// maybe returns v or the zero of its type.
func maybe[T any](r *rand.Rand, v T) T {
	var zero T
	if r.IntN(3) == 0 {
		return zero
	}
	return v
}

func randomFloat(r *rand.Rand) float64 {
	return []float64{0, math.Copysign(0, -1), r.NormFloat64(), r.NormFloat64() * 1e25, r.NormFloat64() * 1e-9, math.MaxFloat64, r.Float64()}[r.IntN(7)]
}

// randomFloat32 is randomFloat within float32's range.
func randomFloat32(r *rand.Rand) float32 {
	f := float32(randomFloat(r))
	if math.IsInf(float64(f), 0) {
		return math.MaxFloat32
	}
	return f
}

func randomScalars(r *rand.Rand) *pb.Scalars {
	return &pb.Scalars{
		B: maybe(r, true), I32: maybe(r, int32(r.Uint32())), S32: maybe(r, -int32(r.Uint32()>>1)), Sf32: maybe(r, int32(r.Uint32())),
		I64: maybe(r, int64(r.Uint64())), S64: maybe(r, int64(math.MinInt64)), Sf64: maybe(r, int64(r.Uint64())),
		U32: maybe(r, r.Uint32()), F32: maybe(r, uint32(math.MaxUint32)), U64: maybe(r, r.Uint64()), F64: maybe(r, uint64(math.MaxUint64)),
		Fl: randomFloat32(r), Db: randomFloat(r), S: randomString(r), By: randomBytes(r), Colour: pb.Colour(r.IntN(4)),
	}
}

func randomLists(r *rand.Rand) *pb.Lists {
	l := &pb.Lists{}
	for range r.IntN(4) {
		l.B = append(l.B, r.IntN(2) == 0)
		l.I32 = append(l.I32, int32(r.Uint32()))
		l.I64 = append(l.I64, int64(r.Uint64()))
		l.U32 = append(l.U32, r.Uint32())
		l.U64 = append(l.U64, r.Uint64())
		l.Fl = append(l.Fl, randomFloat32(r))
		l.Db = append(l.Db, randomFloat(r))
		l.S = append(l.S, randomString(r))
		l.By = append(l.By, randomBytes(r))
		l.Colour = append(l.Colour, pb.Colour(r.IntN(3)))
		if r.IntN(4) == 0 {
			l.Scalars = append(l.Scalars, nil)
		} else {
			l.Scalars = append(l.Scalars, randomScalars(r))
		}
	}
	return l
}

// Random trees encode as encoding/json encodes them, and encoding/json's output decodes,
// through the fast path, to what encoding/json decodes it to.
func TestGeneratedJSONIsEncodingJSONs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	fast := 0
	for i := range 2000 {
		tree := randomTree(r, 3)
		want, err := json.Marshal(tree)
		require.NoError(t, err)
		got, ok := tree.MicrohostAppendJSON(nil)
		require.True(t, ok)
		require.Equal(t, string(want), string(got), "tree %d", i)
		if i%10 == 0 {
			// The encoder appends, keeping what b held.
			got, _ = tree.MicrohostAppendJSON([]byte("prefix"))
			require.Equal(t, "prefix"+string(want), string(got))
		}

		if decodedFast(t, want, new(pb.Tree)) {
			fast++
		}
	}
	// Most trees hold a string with an escape, which is left to encoding/json; the rest must
	// take the fast path, or the methods are dead weight.
	assert.Greater(t, fast, 100, "trees decoded without encoding/json")
}

// decodedFast decodes body into m through the generated method, and through encoding/json
// into another new message; it requires the two to agree (the fast path may give up, but
// never decide differently) and reports whether the fast path decoded body on its own.
func decodedFast[M generated](t *testing.T, body []byte, m M) bool {
	t.Helper()
	r := rpc.NewJSONReader(body)
	m.MicrohostDecodeJSON(&r)
	done := r.Done()

	viaFallback := m.ProtoReflect().New().Interface()
	wantErr := json.Unmarshal(body, viaFallback)
	viaServe := m.ProtoReflect().New().Interface()
	gotErr := rpc.UnmarshalNewJSON(body, viaServe.(rpc.Message))
	if wantErr != nil {
		require.False(t, done, "the fast path accepted %q, which encoding/json refuses: %v", body, wantErr)
		require.EqualError(t, gotErr, wantErr.Error())
		return false
	}
	require.NoError(t, gotErr)
	require.True(t, proto.Equal(viaFallback, viaServe), "%q decodes to %v, encoding/json to %v", body, viaServe, viaFallback)
	if done {
		require.True(t, proto.Equal(viaFallback, m), "%q decodes to %v, encoding/json to %v", body, m, viaFallback)
		// The decoded messages also encode the same, which proto.Equal alone does not say
		// of -0 and NaN.
		a, _ := json.Marshal(viaFallback)
		b, _ := json.Marshal(m)
		require.Equal(t, string(a), string(b))
	}
	return done
}

// Inputs the fast path reads itself, and inputs it leaves to encoding/json: each decodes to
// encoding/json's answer either way.
func TestDecodeJSONCases(t *testing.T) {
	for _, c := range []struct {
		body string
		fast bool
	}{
		{`{"name":"John"}`, true},
		{` { "name" : "John" , "leaf" : { "value" : "x" } } `, true},
		{`null`, true},
		{`{}`, true},
		{`{"name":null,"scalars":null,"children":null}`, true},
		{`{"children":[null,{"name":"a"},{}]}`, true},
		{`{"scalars":{"b":true,"i32":-2147483648,"u64":18446744073709551615,"fl":1.5e10,"db":-0.0,"by":"AAEC","colour":2,"s":"日本"}}`, true},
		{`{"lists":{"s":["a","b"],"by":["AA==",null],"fl":[1,2.5e-3],"b":[true,false]}}`, false}, // a null []byte element
		{`{"lists":{"s":[],"i32":[]}}`, true},
		{`{"name":"a\"b"}`, false},     // an escape
		{`{"NAME":"John"}`, false},     // encoding/json matches keys without case
		{`{"nickname":"John"}`, false}, // an unknown key, which encoding/json skips
		{`{"name":"John","name":"Jo"}`, true},
		{`{"leaf":{"value":"a"},"leaf":{}}`, false}, // encoding/json merges a repeated object
		{`{"scalars":{"i32":2147483648}}`, false},   // out of range: encoding/json's error
		{`{"scalars":{"u32":-1}}`, false},
		{`{"scalars":{"i64":1e3}}`, false},
		{`{"scalars":{"i64":"1"}}`, false},
		{`{"scalars":{"fl":1e39}}`, false},
		{`{"scalars":{"by":"not base64!"}}`, false},
		{`{"name":"John"} trailing`, false},
		{`{"name":"John",}`, false},
		{`{"name":"John"`, false},
		{``, false},
		{`[]`, false},
		{`{"name":"bad \xff"}`, false},
		{`{"name":"tab	inside"}`, false},
		{`{"scalars":{"b":tru}}`, false},
		{`{"scalars":{"i32":01}}`, false},
		{`{"scalars":{"i32":-}}`, false},
		{`{"parent":{"parent":{"parent":{"name":"deep"}}}}`, true},
	} {
		t.Run(c.body, func(t *testing.T) {
			assert.Equal(t, c.fast, decodedFast(t, []byte(c.body), new(pb.Tree)))
		})
	}
}

// Nesting deeper than encoding/json allows is left to it to refuse.
func TestDecodeJSONDepth(t *testing.T) {
	deep := strings.Repeat(`{"parent":`, 10001) + "{}" + strings.Repeat("}", 10001)
	assert.False(t, decodedFast(t, []byte(deep), new(pb.Tree)))
	shallow := strings.Repeat(`{"parent":`, 500) + "{}" + strings.Repeat("}", 500)
	assert.True(t, decodedFast(t, []byte(shallow), new(pb.Tree)))
}

// Whatever the bytes, the fast path never decides differently from encoding/json.
func FuzzDecodeJSON(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		b, _ := json.Marshal(randomTree(r, 2))
		f.Add(b)
	}
	f.Add([]byte(`{"scalars":{"fl":3.4028235e38,"db":1e308,"i64":-9223372036854775808}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		decodedFast(t, body, new(pb.Tree))
		decodedFast(t, body, new(pb.Lists))
	})
}

// A NaN is left to encoding/json, which refuses it.
func TestAppendJSONNaN(t *testing.T) {
	m := &pb.Tree{Lists: &pb.Lists{Db: []float64{1, math.NaN()}}}
	_, ok := m.MicrohostAppendJSON(nil)
	assert.False(t, ok)
	_, err := rpc.Marshal(rpc.ContentTypeJSON, m)
	assert.ErrorContains(t, err, "unsupported value: NaN")
}

// Messages with a map, a oneof or an optional field, or holding such a message, keep
// encoding/json: they have no generated methods.
func TestUnsupportedMessagesHaveNoMethods(t *testing.T) {
	for _, m := range []proto.Message{&pb.Mapped{}, &pb.Chosen{}, &pb.Optional{}, &pb.HoldsMapped{}} {
		_, ok := m.(generated)
		assert.False(t, ok, "%T", m)
	}
	for _, m := range []proto.Message{&pb.Scalars{}, &pb.Lists{}, &pb.Tree{}, &pb.Tree_Leaf{}} {
		_, ok := m.(generated)
		assert.True(t, ok, "%T", m)
	}
}

func FuzzAppendJSONFloat(f *testing.F) {
	for _, v := range []float64{0, 1e-6, 1e21, 9.999999e20, 1e-7, float64(float32(1e-6)), float64(float32(1e21))} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		for _, bits := range []int{64, 32} {
			var want []byte
			var err error
			if bits == 32 {
				v = float64(float32(v))
				want, err = json.Marshal(float32(v))
			} else {
				want, err = json.Marshal(v)
			}
			got, ok := rpc.AppendJSONFloat(nil, v, bits)
			require.Equal(t, err == nil, ok, "%v", v)
			if ok {
				require.Equal(t, string(want), string(got), "%d bits: %v", bits, v)
			}
		}
	})
}
