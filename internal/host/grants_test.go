package host

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/internal/guestbuild"
)

// TestGrantCalls: the callguest, built from source, calls through the call host function;
// only what its calls grant names reaches the ServiceCaller, and a refused call is a 403
// naming the grant to add.
func TestGrantCalls(t *testing.T) {
	path := buildCallGuest(t)
	type called struct{ service, endpoint string }
	cases := []struct {
		name     string
		calls    []string
		service  string
		endpoint string
		allowed  bool
	}{
		{"no grant", nil, "billing", "Billing.Charge", false},
		{"service grant", []string{"billing"}, "billing", "Billing.Refund", true},
		{"service.* grant", []string{"billing.*"}, "billing", "Billing.Refund", true},
		{"method grant", []string{"billing.Charge"}, "billing", "Billing.Charge", true},
		{"method grant, other method", []string{"billing.Charge"}, "billing", "Billing.Refund", false},
		{"endpoint grant", []string{"billing.Billing.Charge"}, "billing", "Billing.Charge", true},
		{"other service", []string{"greeter"}, "billing", "Billing.Charge", false},
		{"prefix of a name is not a grant", []string{"bill"}, "billing", "Billing.Charge", false},
		{"dotted service name", []string{"go.micro.billing"}, "go.micro.billing", "Billing.Charge", true},
		{"star", []string{"*"}, "billing", "Billing.Charge", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []called
			m := grantedCallModule(t, path, ServiceCallerFunc(func(_ context.Context, r *ServiceRequest) ([]byte, error) {
				mu.Lock()
				got = append(got, called{r.Service, r.Endpoint})
				mu.Unlock()
				return []byte(`{"ok":true}`), nil
			}), Grants{Calls: c.calls})
			body := `{"service":"` + c.service + `","endpoint":"` + c.endpoint + `","body":{}}`
			rsp, err := relay(context.Background(), m, "Call.Relay", nil, body)
			mu.Lock()
			defer mu.Unlock()
			if c.allowed {
				require.NoError(t, err)
				assert.JSONEq(t, `{"ok":true}`, string(rsp.Body))
				assert.Equal(t, []called{{c.service, c.endpoint}}, got)
				return
			}
			var ae *abi.Error
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, int32(403), ae.Code)
			method := c.endpoint[len("Billing."):]
			assert.Equal(t, "module callguest may not call "+c.service+"."+method+": add \""+c.service+"."+method+
				"\" (this method) or \""+c.service+"\" (every endpoint) to its calls", ae.Detail)
			assert.Empty(t, got, "a refused call never reaches the client")
			// The instance keeps serving.
			_, err = relay(context.Background(), m, "Echo.Count", nil, `{}`)
			require.NoError(t, err)
		})
	}
}

// TestGrantPublishes: handlers/publisher, built from source, publishes through the publish
// host function; only topics its publishes grant matches reach the Publisher, and a refused
// publish is a 403 to the guest with a warning naming the grant.
func TestGrantPublishes(t *testing.T) {
	path, err := guestbuild.Go(context.Background(), "./handlers/publisher", t.TempDir())
	require.NoError(t, err)
	var mu sync.Mutex
	var topics []string
	pub := PublisherFunc(func(_ context.Context, topic string, _ map[string]string, _ []byte) error {
		mu.Lock()
		topics = append(topics, topic)
		mu.Unlock()
		return nil
	})
	var logs bytes.Buffer
	var logMu sync.Mutex
	ctx := context.Background()
	rt, err := NewRuntime(ctx, Options{CacheDir: testCacheDir, Compilations: testCompilations, Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close(ctx) })
	m, err := rt.Load(ctx, path, ModuleOptions{PoolSize: 1, InterruptOnDeadline: true, Publisher: pub,
		Grants: Grants{Publishes: []string{"orders.*", "audit.**", "events"}}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(ctx) })

	granted := []string{"orders.created", "audit.eu", "audit.eu.login", "events"}
	for _, topic := range granted {
		_, err := publishCall(ctx, m, `{"topic":"`+topic+`","message":{}}`)
		require.NoError(t, err, topic)
	}
	for _, topic := range []string{"orders", "orders.eu.created", "audit", "events.x", "billing.charged"} {
		_, err := publishCall(ctx, m, `{"topic":"`+topic+`","message":{}}`)
		var ae *abi.Error
		require.ErrorAs(t, err, &ae, topic)
		assert.Equal(t, int32(403), ae.Code, topic)
		assert.Contains(t, ae.Detail, "grant does not cover the topic", topic)
		logMu.Lock()
		assert.Contains(t, logs.String(), `"module publisher may not publish to `+topic+`: add \"`+topic+`\" to its publishes"`)
		logMu.Unlock()
	}
	mu.Lock()
	assert.Equal(t, granted, topics, "only granted topics reach the broker")
	mu.Unlock()

	// No grant: nothing is published.
	none := grantedPublisherModule(t, path, pub, true, Grants{})
	_, err = publishCall(ctx, none, `{"topic":"events","message":{}}`)
	var ae *abi.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int32(403), ae.Code)
}

// TestGrantForwardMetadata: the caller's credentials are not forwarded by a call unless the
// module's forward_metadata grant names them; other metadata is.
func TestGrantForwardMetadata(t *testing.T) {
	path := buildCallGuest(t)
	header := map[string]string{
		"X-Trace": "t-1", "Authorization": "Bearer secret", "cookie": "session=1",
		"Proxy-Authorization": "Basic x", "X-Api-Key": "k-1",
	}
	cases := []struct {
		name   string
		grants Grants
		want   map[string]string
	}{
		{"credentials dropped", Grants{Calls: []string{"*"}}, map[string]string{"X-Trace": "t-1", "X-Api-Key": "k-1"}},
		{"configured credential dropped too", Grants{Calls: []string{"*"}, CredentialMetadata: []string{"x-api-key"}},
			map[string]string{"X-Trace": "t-1"}},
		{"granted credential forwarded", Grants{Calls: []string{"*"}, ForwardMetadata: []string{"authorization"}},
			map[string]string{"X-Trace": "t-1", "Authorization": "Bearer secret", "X-Api-Key": "k-1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got map[string]string
			m := grantedCallModule(t, path, ServiceCallerFunc(func(_ context.Context, r *ServiceRequest) ([]byte, error) {
				got = r.Metadata
				return []byte(`{}`), nil
			}), c.grants)
			_, err := relay(context.Background(), m, "Call.Relay", header, `{"service":"echo","endpoint":"Echo.Call","body":{}}`)
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
