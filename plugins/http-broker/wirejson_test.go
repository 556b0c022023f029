package httpbroker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
)

// The reference: the protocol's JSON as encoding/json did it before it was written by hand.

type refWire struct {
	Header map[string]string
	Body   []byte
}

func refEncode(msg *Message) ([]byte, error) {
	if err := checkTopic(msg.Topic); err != nil {
		return nil, err
	}
	h := make(map[string]string, len(msg.Header)+1)
	for k, v := range msg.Header {
		h[k] = v
	}
	h[HeaderTopic] = msg.Topic
	return json.Marshal(refWire{Header: h, Body: msg.Body})
}

// refDecode decodes one value with unknown fields refused and nothing after it.
func refDecode(in []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the value")
	}
	return nil
}

// refDecodeWire is the body decoding of Parse as it was.
func refDecodeWire(body []byte) (map[string]string, []byte, error) {
	var w refWire
	err := refDecode(body, &w)
	return w.Header, w.Body, err
}

// refParse is Parse with the reference decoding.
func refParse(body []byte) (*Delivery, error) {
	h, b, err := refDecodeWire(body)
	if err != nil {
		return nil, abi.NewError("", 400, "malformed delivery: %v", err)
	}
	topic := h[HeaderTopic]
	if topic == "" {
		topic = h[LegacyHeaderTopic]
	}
	if topic == "" {
		return nil, abi.NewError("", 400, "the message has no %s header", HeaderTopic)
	}
	return &Delivery{ID: "n", Topic: topic, Header: h, Body: b}, nil
}

// refHandle is Handle's encode and parse with the reference JSON.
func refHandle(op string, in []byte) ([]byte, error) {
	switch op {
	case OpEncode:
		var msg Message
		if err := refDecode(in, &msg); err != nil {
			return nil, abi.NewError("", 400, "%s: malformed input: %v", op, err)
		}
		return refEncode(&msg)
	case OpRoute:
		var req RouteRequest
		if err := refDecode(in, &req); err != nil {
			return nil, abi.NewError("", 400, "%s: malformed input: %v", op, err)
		}
		r, err := Route(&req)
		if err != nil {
			return nil, err
		}
		return json.Marshal(r)
	case OpParse:
		d, err := refParse(in)
		if err != nil {
			return nil, err
		}
		return json.Marshal(d)
	}
	panic(op)
}

// sameResult fails unless both errors are nil, or both are *abi.Error values of one code.
func sameResult(t *testing.T, what string, got, want error) (ok bool) {
	t.Helper()
	if want == nil && got == nil {
		return true
	}
	var ge, we *abi.Error
	if !errors.As(got, &ge) || !errors.As(want, &we) || ge.Code != we.Code {
		t.Fatalf("%s: error %v, encoding/json gives %v", what, got, want)
	}
	return false
}

var headerCorpus = []map[string]string{
	nil,
	{},
	{"Content-Type": "application/json", "Micro-Id": "1", "z": "last", "A": "first", "a": "lower"},
	{"html": "<script>&amp;</script>", "<k>": "&"},
	{"ctl": "\x00\x01\x07\x08\x0c\x1f\x7f\t\r\n", "quote\"": "back\\slash/"},
	{"unicode": "é ☃ 😀 \u2028 \u2029 \ufffd", "ключ": "значение"},
	{"bad": "\xff\xfe\xc3", "\xed\xa0\x80": "surrogate", "trunc": "\xe2\x82"},
	{"Micro-Topic": "overridden", ":topic": "legacy"},
	{"": ""},
}

var bodyCorpus = [][]byte{nil, {}, []byte(`{}`), {0, 1, 2, 0xfe, 0xff}, []byte("a"), []byte("ab"), []byte("abc"),
	bytes.Repeat([]byte("large body \x00\xff "), 20000)}

func TestEncodeMatchesEncodingJSON(t *testing.T) {
	for _, topic := range []string{"events", "ünïcode/<topic>&\u2028", "bad\xffutf8", "", "white space", strings.Repeat("t", 1025)} {
		for _, h := range headerCorpus {
			for _, b := range bodyCorpus {
				msg := &Message{Topic: topic, Header: h, Body: b}
				got, gotErr := Encode(msg)
				want, wantErr := refEncode(msg)
				if sameResult(t, fmt.Sprintf("Encode(%.80q)", topic), gotErr, wantErr) && !bytes.Equal(got, want) {
					t.Fatalf("Encode(%q, %q, %.40q) =\n%.300s\nencoding/json gives\n%.300s", topic, h, b, got, want)
				}
			}
		}
	}
}

// deliveryCorpus holds delivery bodies that probe what encoding/json accepts.
var deliveryCorpus = []string{
	``, ` `, `{`, `}`, `[]`, `null`, ` null `, `nul`, `true`, `1`, `"s"`, `{}`, `{} `, " {}\t\r\n", `{}{}`, `{} {}`, `{}x`, `{},`,
	`{"Header":{"Micro-Topic":"t"}}`,
	`{"Header":{"Micro-Topic":"t"},"Body":"e30="}`,
	`{"Header":{"Micro-Topic":"t"},"Body":"e30"}`,
	`{"Header":{"Micro-Topic":"t"},"Body":"e3\n0="}`,
	`{"Header":{"Micro-Topic":"t"},"Body":"e3\r\n0="}`,
	`{"Header":{"Micro-Topic":"t"},"Body":"e3\u0030="}`,
	`{"Header":{"Micro-Topic":"t"},"Body":"!!"}`,
	`{"Header":{"Micro-Topic":"t"},"Body":"e30=="}`,
	`{"Header":{"Micro-Topic":"t"},"Body":"-_8="}`,
	`{"Header":{"Micro-Topic":"t"},"Body":""}`,
	`{"Header":{"Micro-Topic":"t"},"Body":null}`,
	`{"Header":{"Micro-Topic":"t"},"Body":[]}`,
	`{"Header":{"Micro-Topic":"t"},"Body":[1,2,255]}`,
	`{"Header":{"Micro-Topic":"t"},"Body":[256]}`,
	`{"Header":{"Micro-Topic":"t"},"Body":[-1]}`,
	`{"Header":{"Micro-Topic":"t"},"Body":[1.0]}`,
	`{"Header":{"Micro-Topic":"t"},"Body":[1e1]}`,
	`{"Header":{"Micro-Topic":"t"},"Body":["1"]}`,
	`{"Header":{"Micro-Topic":"t"},"Body":[null,1]}`,
	`{"Header":{"Micro-Topic":"t"},"Body":"AQID","Body":[null,null]}`,
	`{"Header":{"Micro-Topic":"t"},"Body":"AQ==","Body":[null,null,null]}`,
	`{"Header":{"Micro-Topic":"t"},"Body":"AQIDBA==","Body":[9],"Body":[null,null,null]}`,
	`{"Header":{"Micro-Topic":"t"},"Body":[1,2],"Body":[]}`,
	`{"Header":{"Micro-Topic":"t"},"Body":1}`,
	`{"Header":{"Micro-Topic":"t"},"Body":true}`,
	`{"Header":{"Micro-Topic":"t"},"Body":{}}`,
	`{"Header":{"Micro-Topic":"t"},"Body":"e30=","Body":null}`,
	`{"Header":{"Micro-Topic":"t"},"Extra":true}`,
	`{"Header":{"Micro-Topic":"t"},"extra":null}`,
	`{"header":{"micro-topic":"t"}}`,
	`{"header":{"Micro-Topic":"t"},"bOdY":"e30="}`,
	`{"HEADER":{"Micro-Topic":"t"}}`,
	`{"\u0048eader":{"Micro-Topic":"t"}}`,
	`{"Head\u0065r":{"Micro-Topic":"t"},"B\u006fdy":"e30="}`,
	`{"Header ":{"Micro-Topic":"t"}}`,
	"{\"Header\xff\":{\"Micro-Topic\":\"t\"}}",
	`{"Header":null}`,
	`{"Header":{}}`,
	`{"Header":[]}`,
	`{"Header":"t"}`,
	`{"Header":{"Micro-Topic":1}}`,
	`{"Header":{"Micro-Topic":true}}`,
	`{"Header":{"Micro-Topic":{}}}`,
	`{"Header":{"Micro-Topic":null}}`,
	`{"Header":{"Micro-Topic":"t","k":null}}`,
	`{"Header":{":topic":"legacy"}}`,
	`{"Header":{":topic":"legacy","Micro-Topic":""}}`,
	`{"Header":{"Micro-Topic":"a","Micro-Topic":"b"}}`,
	`{"Header":{"Micro-Topic":"t"},"Header":{"k":"v"}}`,
	`{"Header":{"Micro-Topic":"t"},"Header":null,"Header":{"k":"v"}}`,
	`{"Header":{"k":"v"},"Header":null,"Header":{"Micro-Topic":"t"}}`,
	`{"Header":{"Micro-Topic":"t","k":"\u00e9\ud83d\ude00\ud83d\u2028<&>"}}`,
	"{\"Header\":{\"Micro-Topic\":\"t\",\"bad\xff\":\"v\xfe\\n\xc3\"}}",
	"{\"Header\":{\"Micro-Topic\":\"t\xff\"}}",
	"{\"Header\":{\"Micro-Topic\":\"t\x01\"}}",
	`{"Header":{"Micro-Topic":"t\/\"\\\b\f\n\r\t"}}`,
	`{"Header":{"Micro-Topic":"t\x"}}`,
	`{"Header":{"Micro-Topic":"t"} "Body":""}`,
	`{"Header":{"Micro-Topic":"t"},}`,
	`{"Header":{"Micro-Topic":"t",}}`,
	`{"Header" {"Micro-Topic":"t"}}`,
	` { "Header" : { "Micro-Topic" : "t" } , "Body" : "e30=" } `,
	`{"Header":{"Micro-Topic":"t"},"Body":"e30="}` + "\x00",
	`{"Header":{"Micro-Topic":"t"}}` + strings.Repeat(" ", 10) + `[`,
	strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10001),
	`{"Header":{"Micro-Topic":"t"},"x":` + strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10001) + `}`,
}

// checkParse fails unless decoding body by hand gives what encoding/json gives, through Parse
// and through Handle's parse.
func checkParse(t *testing.T, body []byte) {
	t.Helper()
	h, b, err := decodeWire(body)
	wh, wb, werr := refDecodeWire(body)
	if (err == nil) != (werr == nil) {
		t.Fatalf("decode %.200q: error %v, encoding/json gives %v", body, err, werr)
	}
	if err == nil && (!reflect.DeepEqual(h, wh) || !reflect.DeepEqual(b, wb)) {
		t.Fatalf("decode %.200q = %q, %#v; encoding/json gives %q, %#v", body, h, b, wh, wb)
	}
	hdr := map[string]string{HeaderMethod: "POST", HeaderQuery: "id=n"}
	got, gerr := Handle(OpParse, body, func(k string) (string, bool) { v, ok := hdr[k]; return v, ok })
	want, wantErr := refHandle(OpParse, body)
	if sameResult(t, fmt.Sprintf("parse %.200q", body), gerr, wantErr) && !bytes.Equal(got, want) {
		t.Fatalf("parse %.200q =\n%.300s\nencoding/json gives\n%.300s", body, got, want)
	}
}

func TestParseMatchesEncodingJSON(t *testing.T) {
	for _, c := range deliveryCorpus {
		checkParse(t, []byte(c))
	}
	for _, h := range headerCorpus {
		for _, b := range bodyCorpus {
			body, err := refEncode(&Message{Topic: "t", Header: h, Body: b})
			require.NoError(t, err)
			checkParse(t, body)
		}
	}
}

// checkEncodeInput fails unless Handle's encode gives what encoding/json gives for in.
func checkEncodeInput(t *testing.T, in []byte) {
	t.Helper()
	got, err := Handle(OpEncode, in, func(string) (string, bool) { return "", false })
	want, werr := refHandle(OpEncode, in)
	if sameResult(t, fmt.Sprintf("encode %.200q", in), err, werr) && !bytes.Equal(got, want) {
		t.Fatalf("encode %.200q =\n%.300s\nencoding/json gives\n%.300s", in, got, want)
	}
}

func TestEncodeInputMatchesEncodingJSON(t *testing.T) {
	for _, c := range []string{``, `null`, `{}`, `[]`, `{"topic":"t"}`, `{"topic":"t","body":"e30="}`, `{"TOPIC":"t","Body":[1,2]}`,
		`{"topic":"t","header":null}`, `{"topic":"t","header":{"a":"<&>"},"header":{"b":null}}`, `{"topic":"t","header":{"a":1}}`,
		`{"topic":1}`, `{"topic":null}`, `{"topic":"t","topic":null}`, `{"topic":"a b"}`, `{"topic":"t","x":1}`, `{"topic":"t"} 1`,
		`{"topic":"t","body":"!"}`, `{"topic":"t","body":""}`, `{"topic":"t","body":null}`, "{\"topic\":\"t\xff\"}",
		`{"topic":"\u0074"}`, `{"t\u006fpic":"t"}`} {
		checkEncodeInput(t, []byte(c))
	}
	for _, h := range headerCorpus {
		for _, b := range bodyCorpus {
			in, err := json.Marshal(&Message{Topic: "t", Header: h, Body: b})
			require.NoError(t, err)
			checkEncodeInput(t, in)
		}
	}
}

func TestRoutesMatchEncodingJSON(t *testing.T) {
	for _, r := range []*Routes{
		{ContentType: ContentType},
		{ContentType: ContentType, Targets: []Target{}},
		{ContentType: "a<&>\u2028", Targets: []Target{{ID: "n1", Address: "127.0.0.1:1", URL: "http://127.0.0.1:1/?id=n1&x=<y>"}, {ID: "\xff"}}},
	} {
		want, err := json.Marshal(r)
		require.NoError(t, err)
		require.Equal(t, string(want), string(appendRoutes(nil, r)))
	}
}

func FuzzEncodeMatchesEncodingJSON(f *testing.F) {
	f.Add("events", "Content-Type", "application/json", "k", "<&>\u2028", []byte(`{}`), false)
	f.Add("t\xff", "\x00", "\xed\xa0\x80", "", "", []byte{}, true)
	f.Fuzz(func(t *testing.T, topic, k1, v1, k2, v2 string, body []byte, nilBody bool) {
		if nilBody {
			body = nil
		}
		msg := &Message{Topic: topic, Header: map[string]string{k1: v1, k2: v2}, Body: body}
		got, err := Encode(msg)
		want, werr := refEncode(msg)
		if sameResult(t, "Encode", err, werr) && !bytes.Equal(got, want) {
			t.Fatalf("Encode(%q) =\n%s\nencoding/json gives\n%s", msg, got, want)
		}
	})
}

func FuzzParseMatchesEncodingJSON(f *testing.F) {
	for _, c := range deliveryCorpus {
		if len(c) < 1000 {
			f.Add([]byte(c))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkParse(t, body)
		checkEncodeInput(t, bytes.ReplaceAll(bytes.ReplaceAll(body, []byte("Header"), []byte("header")), []byte("Body"), []byte("body")))
	})
}

// routeCorpus holds route inputs that probe what encoding/json accepts.
var routeCorpus = []string{
	``, `null`, `{}`, `[]`, `{"topic":"t"}`, `{"topic":"t","seed":1,"services":[]}`, `{"topic":"t","services":null}`,
	`{"topic":"t","seed":-1}`, `{"topic":"t","seed":1.0}`, `{"topic":"t","seed":1e3}`, `{"topic":"t","seed":"1"}`,
	`{"topic":"t","seed":18446744073709551615}`, `{"topic":"t","seed":18446744073709551616}`, `{"topic":"t","seed":null}`,
	`{"topic":"t","x":1}`, `{"topic":"t"} {}`, `{"TOPIC":"t","SEED":2,"Services":[]}`, `{"topic":"t","ſeed":3,"ſervices":[]}`,
	`{"topic":"t","services":[null]}`, `{"topic":"t","services":[1]}`, `{"topic":"t","services":{}}`,
	`{"topic":"t","services":[{"name":"micro.http.broker","x":1}]}`,
	`{"topic":"t","services":[{"name":"micro.http.broker","nodes":[{"id":"a","address":"h:1","metadata":{"broker":"http","topic":"t"},"x":1}]}]}`,
	`{"topic":"t","services":[{"name":"micro.http.broker","endpoints":[{"name":"e","request":"q","response":"r","metadata":{"k":"v"}}],"nodes":[{"id":"a","address":"h:1","metadata":{"broker":"http","topic":"t"}}]}]}`,
	`{"topic":"t","services":[{"name":"micro.http.broker","endpoints":[{"name":"e","bogus":1}]}]}`,
	`{"topic":"t","services":[{"name":"micro.http.broker","nodes":[null,{"id":"a","address":"h:1","metadata":{"broker":"http","topic":"t"}}]}]}`,
	`{"topic":"t","services":[{"name":"micro.http.broker","version":"q","nodes":[{"id":"a","address":"h:1","metadata":{"broker":"http","topic":"t"}},{"id":"b","address":"h:2","metadata":{"broker":"http","topic":"t","secure":"true"}}]}],` +
		`"services":[{"nodes":[{"id":"c"}]},null]}`,
	`{"topic":"t","services":[{"name":"micro.http.broker","version":"q","nodes":[{"id":"a","address":"h:1","metadata":{"broker":"http","topic":"t"}},{"id":"b","address":"h:2","metadata":{"broker":"http","topic":"t"}}]}],` +
		`"services":[{"nodes":[{"id":"c"}]}],"services":[{"nodes":[{},{"address":"h:3"}]}]}`,
	`{"topic":"t","services":[{"name":"micro.http.broker","nodes":[{"id":"a","address":"h:1","metadata":{"broker":"http","topic":"t"}}],"nodes":[]}]}`,
	`{"topic":"t","services":[{"name":"micro.http.broker","metadata":null,"nodes":[{"id":"a","address":"h:1","metadata":{"broker":"http"},"metadata":{"topic":"t"}}]}]}`,
	`{"topic":"t","services":[{"name":"micro.http.broker","nodes":[{"ID":"a","ADDRESS":"h:1","METADATA":{"broker":"http","topic":"t"}}]}]}`,
	`{"topic":"t","services":[{"name":"micro.http.broker","nodes":[{"id":1}]}]}`,
	`{"topic":"t","services":[{"name":"micro.http.broker","nodes":{}}]}`,
	`{"topic":"t","services":[{"name":"micro.http.broker","nodes":[{"id":"<&>\u2028","address":"h\u0000:1","metadata":{"broker":"http","topic":"t"}}]}]}`,
}

// checkRoute fails unless Handle's route decodes in, and answers, as with encoding/json.
func checkRoute(t *testing.T, in []byte) {
	t.Helper()
	var got, want RouteRequest
	err, werr := decodeRouteRequest(in, &got), refDecode(in, &want)
	if (err == nil) != (werr == nil) {
		t.Fatalf("decode %.200q: error %v, encoding/json gives %v", in, err, werr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decode %.200q = %#v; encoding/json gives %#v", in, got, want)
	}
	out, err := Handle(OpRoute, in, func(string) (string, bool) { return "", false })
	wout, werr := refHandle(OpRoute, in)
	if sameResult(t, fmt.Sprintf("route %.200q", in), err, werr) && !bytes.Equal(out, wout) {
		t.Fatalf("route %.200q =\n%.300s\nencoding/json gives\n%.300s", in, out, wout)
	}
}

func TestRouteInputMatchesEncodingJSON(t *testing.T) {
	for _, c := range routeCorpus {
		checkRoute(t, []byte(c))
	}
	svc := func(version string, ids ...string) *abi.Service {
		s := &abi.Service{Name: ServiceName, Version: version, Metadata: map[string]string{"m": "v"},
			Endpoints: []abi.Endpoint{{Name: "Broker.Publish", Metadata: map[string]string{"k": "v"}}}}
		for i, id := range ids {
			s.Nodes = append(s.Nodes, abi.Node{ID: id, Address: fmt.Sprintf("127.0.0.1:%d", 9000+i),
				Metadata: map[string]string{"broker": "http", "topic": "events", "secure": fmt.Sprint(i%2 == 1)}})
		}
		return s
	}
	for seed := range uint64(10) {
		in, err := json.Marshal(RouteRequest{Topic: "events", Seed: seed * 0x9e3779b97f4a7c15, Services: []*abi.Service{
			svc(BroadcastVersion, "c", "a", "b"), svc("q1", "q1-a", "q1-b"), nil, {Name: "other"}, svc("q2", "q2-a")}})
		require.NoError(t, err)
		checkRoute(t, in)
	}
}

func FuzzRouteInputMatchesEncodingJSON(f *testing.F) {
	for _, c := range routeCorpus {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkRoute(t, in)
	})
}
