package abi

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// tricky are strings whose JSON needs escapes: encoding/json's HTML-safe ones, control
// characters, the line separators, invalid UTF-8.
var tricky = []string{"", "plain", "Greeter.Hello", `quote " backslash \`, "<b>&amp;</b>", "tab\tnl\n", "\x00\x1f\x7f",
	"héllo ☃", "\u2028\u2029", "bad \xff utf8", "\xed\xa0\x80"}

func pick(r *rand.Rand) string { return tricky[r.IntN(len(tricky))] }

// Descriptor.AppendJSON and Error.Error write what encoding/json.Marshal writes, for random
// values of every shape: fields left empty or not, endpoints and metadata or none.
func TestJSONIsEncodingJSONs(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 2000 {
		d := Descriptor{Kind: pick(r), Name: pick(r), Version: pick(r)}
		for range r.IntN(4) {
			e := Endpoint{Name: pick(r), Request: pick(r), Response: pick(r)}
			switch r.IntN(3) {
			case 0:
			case 1:
				e.Metadata = map[string]string{}
			default:
				e.Metadata = map[string]string{}
				for range 1 + r.IntN(4) {
					e.Metadata[pick(r)] = pick(r)
				}
			}
			d.Endpoints = append(d.Endpoints, e)
		}
		if r.IntN(5) == 0 {
			d.Endpoints = []Endpoint{}
		}
		want, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.AppendJSON(nil); string(got) != string(want) {
			t.Fatalf("case %d: AppendJSON wrote\n%s\nencoding/json\n%s", i, got, want)
		}

		e := &Error{ID: pick(r), Code: int32(r.IntN(1000)) - 100, Detail: pick(r), Status: pick(r)}
		want, err = json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Error(); got != string(want) {
			t.Fatalf("case %d: Error wrote\n%s\nencoding/json\n%s", i, got, want)
		}
	}
}
