//go:build !wasip1

package conformance_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/server"
)

// outcome is a call's answer: the reply body, or the error's code and detail.
type outcome struct {
	Body   string
	Code   int32
	Detail string
}

func (o outcome) String() string {
	if o.Code != 0 {
		return fmt.Sprintf("error %d: %s", o.Code, o.Detail)
	}
	return o.Body
}

func call(t *testing.T, m *host.Module, endpoint, body string) outcome {
	t.Helper()
	rsp, err := m.Call(context.Background(), &host.Request{Endpoint: endpoint, ContentType: "application/json", Body: []byte(body)})
	if err != nil {
		var ae *abi.Error
		require.True(t, errors.As(err, &ae), "not a handler error: %v", err)
		return outcome{Code: ae.Code, Detail: ae.Detail}
	}
	return outcome{Body: string(rsp.Body)}
}

func nested(levels int, inner string) string {
	return `{"x":` + strings.Repeat("[", levels) + strings.Repeat("]", levels) + `,` + inner + `}`
}

const malformed = "malformed JSON request for Greeter.Hello"

// longName is 64 KiB of one- to four-byte UTF-8 characters.
var longName = strings.Repeat("añ€🎉", 6553) + "abcdef"

// identical are requests every language must answer with the same bytes. want is the Go
// greeter's answer written out, so a change in Go's encoding shows up here too.
var identical = []struct {
	name, body string
	want       outcome
}{
	{"plain", `{"name":"John"}`, outcome{Body: `{"greeting":"Hello John"}`}},
	{"whitespace", " \t\n{ \"name\" :\r\n \"Ann\" } \n", outcome{Body: `{"greeting":"Hello Ann"}`}},
	{"latin", `{"name":"Zoë"}`, outcome{Body: `{"greeting":"Hello Zoë"}`}},
	{"cjk", `{"name":"世界"}`, outcome{Body: `{"greeting":"Hello 世界"}`}},
	{"emoji", `{"name":"🎉 party"}`, outcome{Body: `{"greeting":"Hello 🎉 party"}`}},
	{"escaped quote", `{"name":"say \"hi\""}`, outcome{Body: `{"greeting":"Hello say \"hi\""}`}},
	{"escaped backslash", `{"name":"back\\slash"}`, outcome{Body: `{"greeting":"Hello back\\slash"}`}},
	{"escaped controls", `{"name":"tab\tnew\nline"}`, outcome{Body: `{"greeting":"Hello tab\tnew\nline"}`}},
	{"escaped unit separator", `{"name":"\u001f"}`, outcome{Body: `{"greeting":"Hello \u001f"}`}},
	{"64 KiB", `{"name":"` + longName + `"}`, outcome{}},
	{"other members", `{"age":42,"tags":["a",{"b":[true,false,null,-1.5e+3,0,2E-7]}],"name":"Nested","x":{}}`, outcome{Body: `{"greeting":"Hello Nested"}`}},
	{"case-insensitive key", `{"NaMe":"Caps"}`, outcome{Body: `{"greeting":"Hello Caps"}`}},
	{"last key wins", `{"name":"first","name":"second"}`, outcome{Body: `{"greeting":"Hello second"}`}},
	{"null keeps earlier", `{"name":"kept","name":null}`, outcome{Body: `{"greeting":"Hello kept"}`}},
	{"10000 levels", nested(9999, `"name":"Deep"`), outcome{Body: `{"greeting":"Hello Deep"}`}},

	{"empty name", `{"name":""}`, outcome{Code: 400, Detail: "name is required"}},
	{"no name", `{}`, outcome{Code: 400, Detail: "name is required"}},
	{"null name", `{"name":null}`, outcome{Code: 400, Detail: "name is required"}},
	{"null document", `null`, outcome{Code: 400, Detail: "name is required"}},

	{"empty body", ``, outcome{Code: 400, Detail: malformed}},
	{"truncated", `{"name":`, outcome{Code: 400, Detail: malformed}},
	{"unterminated string", `{"name":"x`, outcome{Code: 400, Detail: malformed}},
	{"unclosed object", `{"name":"x"`, outcome{Code: 400, Detail: malformed}},
	{"trailing comma", `{"name":"x",}`, outcome{Code: 400, Detail: malformed}},
	{"array", `[]`, outcome{Code: 400, Detail: malformed}},
	{"string", `"John"`, outcome{Code: 400, Detail: malformed}},
	{"number name", `{"name":42}`, outcome{Code: 400, Detail: malformed}},
	{"bool name", `{"name":true}`, outcome{Code: 400, Detail: malformed}},
	{"object name", `{"name":{"first":"x"}}`, outcome{Code: 400, Detail: malformed}},
	{"trailing data", `{"name":"x"} y`, outcome{Code: 400, Detail: malformed}},
	{"bad escape", `{"name":"bad \q"}`, outcome{Code: 400, Detail: malformed}},
	{"short unicode escape", `{"name":"\u12"}`, outcome{Code: 400, Detail: malformed}},
	{"raw control character", "{\"name\":\"a\x01b\"}", outcome{Code: 400, Detail: malformed}},
	{"leading zero", `{"x":01,"name":"a"}`, outcome{Code: 400, Detail: malformed}},
	{"bare point", `{"x":1.,"name":"a"}`, outcome{Code: 400, Detail: malformed}},
	{"bare minus", `{"x":-,"name":"a"}`, outcome{Code: 400, Detail: malformed}},
	{"bad exponent", `{"x":1e,"name":"a"}`, outcome{Code: 400, Detail: malformed}},
	{"bad literal", `{"x":tru,"name":"a"}`, outcome{Code: 400, Detail: malformed}},
	{"unquoted key", `{name:"a"}`, outcome{Code: 400, Detail: malformed}},
	{"missing colon", `{"x" 1,"name":"a"}`, outcome{Code: 400, Detail: malformed}},
	{"missing comma", `{"name":"a" "b":1}`, outcome{Code: 400, Detail: malformed}},
	{"array trailing comma", `{"x":[1,],"name":"a"}`, outcome{Code: 400, Detail: malformed}},
	{"mismatched bracket", `{"x":[1},"name":"a"}`, outcome{Code: 400, Detail: malformed}},
	{"nested missing colon", `{"x":{"a" 1},"name":"a"}`, outcome{Code: 400, Detail: malformed}},
	{"10001 levels", nested(10000, `"name":"Deep"`), outcome{Code: 400, Detail: malformed}},
}

// TestGreetersAgree sends every language's greeter the same requests and requires the same
// answers, byte for byte.
func TestGreetersAgree(t *testing.T) {
	mods := load(t)
	for _, c := range identical {
		t.Run(c.name, func(t *testing.T) {
			want := c.want
			if want == (outcome{}) {
				// Long inputs: the Go greeter's answer is the reference.
				want = call(t, mods["go"], "Greeter.Hello", c.body)
			}
			for _, l := range languages {
				got := call(t, mods[l.name], "Greeter.Hello", c.body)
				assert.Equal(t, want, got, "%s", l.name)
				if got.Code == 0 {
					assert.True(t, json.Valid([]byte(got.Body)), "%s: reply is not JSON", l.name)
				}
			}
		})
	}
	t.Run("64 KiB reply", func(t *testing.T) {
		require.Len(t, longName, 64<<10)
		got := call(t, mods["go"], "Greeter.Hello", `{"name":"`+longName+`"}`)
		assert.Equal(t, `{"greeting":"Hello `+longName+`"}`, got.Body)
	})
}

// TestGreetersAgreeOnMeaning covers names Go re-encodes differently from the bytes it read
// (it decodes \u00e9 and \/, and escapes <, >, & and U+2028), while the other languages copy
// the name's bytes as they were written. Both are the same JSON value.
func TestGreetersAgreeOnMeaning(t *testing.T) {
	mods := load(t)
	cases := map[string]string{
		"unicode escape":   `{"name":"Zo\u00eb"}`,
		"surrogate pair":   `{"name":"\ud83c\udf89"}`,
		"escaped slash":    `{"name":"a\/b"}`,
		"html":             `{"name":"<b>&amp;</b>"}`,
		"line separator":   "{\"name\":\"a\u2028b\"}",
		"escaped newlines": `{"name":"a\u000Ab"}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			var want struct{ Greeting string }
			require.NoError(t, json.Unmarshal([]byte(call(t, mods["go"], "Greeter.Hello", body).Body), &want))
			for _, l := range languages {
				got := call(t, mods[l.name], "Greeter.Hello", body)
				var reply struct{ Greeting string }
				require.NoError(t, json.Unmarshal([]byte(got.Body), &reply), "%s: %s", l.name, got)
				assert.Equal(t, want.Greeting, reply.Greeting, "%s", l.name)
			}
		})
	}
}

// TestGreetersDescribeAndRouteAlike checks the descriptors and the unknown-endpoint error.
func TestGreetersDescribeAndRouteAlike(t *testing.T) {
	mods := load(t)
	want := mods["go"].Descriptor()
	assert.Equal(t, abi.Descriptor{
		Kind: "handler", Name: "greeter", Version: "1.0.0",
		Endpoints: []abi.Endpoint{{Name: "Greeter.Hello", Request: "HelloRequest", Response: "HelloResponse"}},
	}, want)
	for _, l := range languages {
		assert.Equal(t, want, mods[l.name].Descriptor(), l.name)
		got := call(t, mods[l.name], "Greeter.Nope", `{"name":"x"}`)
		assert.Equal(t, outcome{Code: 404, Detail: "unknown endpoint Greeter.Nope"}, got, l.name)
		// The instance still serves after an error.
		got = call(t, mods[l.name], "Greeter.Hello", `{"name":"again"}`)
		assert.Equal(t, `{"greeting":"Hello again"}`, got.Body, l.name)
	}
}

// TestGreetersServed serves each language's greeter over HTTP, as Go Micro clients and curl
// reach it, and checks the replies and errors.
func TestGreetersServed(t *testing.T) {
	mods := load(t)
	for _, l := range languages {
		t.Run(l.name, func(t *testing.T) {
			srv, err := server.New(server.Options{Name: "greeter", Codecs: stockCodecs()}, mods[l.name])
			require.NoError(t, err)
			ts := httptest.NewServer(srv)
			defer ts.Close()
			post := func(body string) (int, string) {
				req, err := http.NewRequest(http.MethodPost, ts.URL, strings.NewReader(body))
				require.NoError(t, err)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Micro-Service", "greeter")
				req.Header.Set("Micro-Endpoint", "Greeter.Hello")
				rsp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				defer rsp.Body.Close()
				b, err := io.ReadAll(rsp.Body)
				require.NoError(t, err)
				return rsp.StatusCode, string(b)
			}
			status, body := post(`{"name":"世界"}`)
			assert.Equal(t, http.StatusOK, status)
			assert.Equal(t, `{"greeting":"Hello 世界"}`, body)
			status, body = post(`{"name":""}`)
			assert.Equal(t, http.StatusBadRequest, status)
			assert.JSONEq(t, `{"id":"greeter","code":400,"detail":"name is required","status":"Bad Request"}`, body)
		})
	}
}
