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
	body := msg.Body
	if len(body) == 0 {
		body = nil // the broker records do not tell an empty body from none
	}
	return json.Marshal(refWire{Header: h, Body: body})
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

// checkParse fails unless decoding body by hand gives what encoding/json gives, alone and
// through Parse.
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
	got, gerr := Parse("POST", "id=n", "", body)
	want, wantErr := refParse(body)
	if sameResult(t, fmt.Sprintf("parse %.200q", body), gerr, wantErr) && !reflect.DeepEqual(got, want) {
		t.Fatalf("parse %.200q =\n%#v\nencoding/json gives\n%#v", body, got, want)
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
	})
}
