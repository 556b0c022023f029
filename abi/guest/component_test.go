//go:build !wasip1

package guest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/microhost/microhost/abi"
)

// TestServeComponent checks the one entry point of Go component modules: the descriptor
// carries the kind, name and each operation with its metadata, and an operation's error
// reaches the host with its code — a guest *Error's, a wrapped *abi.Error's, else 500.
func TestServeComponent(t *testing.T) {
	saved := registered
	t.Cleanup(func() { registered = saved })
	registered = module{desc: abi.Descriptor{Kind: abi.KindHandler}, handlers: map[string]endpoint{}}

	ServeComponent(Component{Kind: abi.KindCodec, Name: "test-codec", Ops: []Op{
		{Name: "encode", Metadata: map[string]string{"content_types": "x/y"}, Do: func(in []byte) ([]byte, error) {
			return append([]byte("enc:"), in...), nil
		}},
		{Name: "decode", Do: func(in []byte) ([]byte, error) {
			switch string(in) {
			case "guest":
				return nil, Errorf(415, "no such type")
			case "abi":
				return nil, fmt.Errorf("wrapped: %w", &abi.Error{Code: 404, Detail: "not found"})
			}
			return nil, errors.New("plain failure")
		}},
	}})
	d := Descriptor()
	if d.Kind != abi.KindCodec || d.Name != "test-codec" || d.Version != "1.0.0" || len(d.Endpoints) != 2 ||
		d.Endpoints[0].Name != "encode" || d.Endpoints[0].Metadata["content_types"] != "x/y" || d.Endpoints[1].Name != "decode" {
		t.Fatalf("descriptor %+v", d)
	}
	if out, err := Dispatch("encode", []byte("m"), nil); err != nil || string(out) != "enc:m" {
		t.Fatalf("encode: %q %v", out, err)
	}
	for in, want := range map[string]int32{"guest": 415, "abi": 404, "other": 500} {
		if _, err := Dispatch("decode", []byte(in), nil); err == nil || err.Code != want {
			t.Errorf("decode %q: got %v, want code %d", in, err, want)
		}
	}
}
