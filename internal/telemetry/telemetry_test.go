package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stdoutSpan is what the stdout exporter writes of a span.
type stdoutSpan struct {
	Name        string
	SpanContext struct{ TraceID, SpanID string }
	Parent      struct{ SpanID string }
}

func spans(t *testing.T, buf *bytes.Buffer) map[string]stdoutSpan {
	t.Helper()
	out := map[string]stdoutSpan{}
	dec := json.NewDecoder(buf)
	for {
		var s stdoutSpan
		err := dec.Decode(&s)
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out[s.Name] = s
	}
}

func TestPublicationCarriesTraceToDelivery(t *testing.T) {
	var buf bytes.Buffer
	tel, err := New(context.Background(), Options{Service: "pub", Exporter: ExporterStdout, Stdout: &buf, Synchronous: true})
	require.NoError(t, err)
	defer tel.Close(context.Background())

	header := map[string]string{"Content-Type": "application/json", "Traceparent": "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"}
	ctx, sent, end := tel.StartPublish(context.Background(), "events", header)
	assert.Equal(t, "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01", header["Traceparent"], "the caller's header is not changed")
	assert.NotContains(t, sent, "Traceparent", "a stale trace context is replaced")
	require.Contains(t, sent, HeaderTraceparent)
	_, endDelivery := tel.StartDelivery(ctx, "events", func(k string) string { return sent[strings.ToLower(k)] })
	endDelivery(nil)
	end(nil)

	got := spans(t, &buf)
	pub, del := got["publish events"], got["deliver events"]
	require.NotEmpty(t, pub.SpanContext.SpanID)
	assert.Equal(t, pub.SpanContext.TraceID, del.SpanContext.TraceID)
	assert.Equal(t, pub.SpanContext.SpanID, del.Parent.SpanID, "the delivery continues the publication")
}

func TestServeJoinsCallersTrace(t *testing.T) {
	var buf bytes.Buffer
	tel, err := New(context.Background(), Options{Service: "svc", Exporter: ExporterStdout, Stdout: &buf, Synchronous: true})
	require.NoError(t, err)
	defer tel.Close(context.Background())
	in := map[string]string{"Traceparent": "00-0123456789abcdef0123456789abcdef-00000000000000aa-01"}
	ctx, s := tel.StartServe(context.Background(), func(k string) string {
		for hk, v := range in {
			if strings.EqualFold(hk, k) {
				return v
			}
		}
		return ""
	})
	out := map[string]string{}
	_, call := tel.StartCall(ctx, "other", "Other.Do")
	assert.False(t, Inject(context.Background(), func(k, v string) { out[k] = v }), "no span, nothing written")
	call.End(200)
	s.End("Svc.Do", 200)
	got := spans(t, &buf)
	assert.Equal(t, "0123456789abcdef0123456789abcdef", got["Svc.Do"].SpanContext.TraceID)
	assert.Equal(t, "00000000000000aa", got["Svc.Do"].Parent.SpanID)
	assert.Equal(t, got["Svc.Do"].SpanContext.SpanID, got["Other.Do"].Parent.SpanID)
}

func TestLabelsAreBounded(t *testing.T) {
	tel, err := New(context.Background(), Options{Service: "svc", Metrics: true})
	require.NoError(t, err)
	for i := range maxClientLabels + 50 {
		_, c := tel.StartCall(context.Background(), fmt.Sprintf("svc%d", i), "X.Y")
		c.End(int32(1000 + i)) // codes that are no HTTP status
	}
	_, s := tel.StartServe(context.Background(), func(string) string { return "" })
	s.End(Other, 404)
	rec := httptest.NewRecorder()
	tel.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	assert.Equal(t, maxClientLabels+1, strings.Count(body, "rpc_client_call_duration_seconds_count{"), "the pairs past the limit share one series")
	assert.Contains(t, body, `rpc_client_call_duration_seconds_count{code="other",method="other",service="other"} 50`)
	assert.Contains(t, body, `rpc_server_call_duration_seconds_count{code="404",method="other",service="svc"} 1`)
}

func TestNilTelemetryIsANoOp(t *testing.T) {
	var tel *Telemetry
	ctx, s := tel.StartServe(context.Background(), func(string) string { return "" })
	s.End("x", 200)
	_, c := tel.StartCall(ctx, "a", "b")
	c.End(200)
	m := tel.Module(ModuleInfo{Kind: "handler", Name: "h"})
	_, mc := m.Start(ctx, "E.P")
	mc.End(Trapped, errors.New("boom"))
	m.AddPool(func() (int, int) { return 0, 0 })()
	m.Release()
	tel.Registered(nil)
	tel.Swapped("handler", "h", "a", "b", nil)
	assert.Nil(t, tel.Modules())
	assert.False(t, tel.Metrics())
	assert.False(t, tel.Tracing())
	require.NoError(t, tel.Close(ctx))
}

func TestModulesAndEvents(t *testing.T) {
	tel, err := New(context.Background(), Options{Service: "svc", Metrics: true})
	require.NoError(t, err)
	m := tel.Module(ModuleInfo{Kind: "handler", Name: "h", Version: "1.0.0", Digest: "abc"})
	remove := m.AddPool(func() (int, int) { return 1, 2 })
	for _, o := range []Outcome{OK, OK, Failed, Trapped, Stopped} {
		_, c := m.Start(context.Background(), "H.Do")
		c.End(o, errors.New("guest fault: wasm error: unreachable\nstack..."))
	}
	tel.Swapped("handler", "h", "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", nil)
	snap := tel.Modules()
	require.Len(t, snap, 1)
	assert.Equal(t, uint64(5), snap[0].Calls)
	assert.Equal(t, uint64(3), snap[0].Errors)
	assert.Equal(t, uint64(1), snap[0].Traps)
	assert.Equal(t, uint64(1), snap[0].Deadlines)
	assert.Equal(t, 1, snap[0].Busy)
	assert.Equal(t, 2, snap[0].Idle)
	assert.False(t, snap[0].P50 != snap[0].P50, "a p50 once calls were made")
	ev := tel.Events()
	require.Len(t, ev, 3)
	assert.Equal(t, "swap swapped", ev[0].Type, "newest first")
	assert.Equal(t, "deadline stop", ev[1].Type)
	assert.Equal(t, "trap", ev[2].Type)
	assert.Equal(t, "guest fault: wasm error: unreachable", ev[2].Detail, "one line of the fault")
	remove()
	m.Release()
	assert.Empty(t, tel.Modules())
}
