package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/internal/guestbuild"
)

// buildCallGuest builds internal/host/testdata/callguest for one test.
func buildCallGuest(t *testing.T) string {
	t.Helper()
	path, err := guestbuild.Go(context.Background(), "./internal/host/testdata/callguest", t.TempDir())
	require.NoError(t, err)
	return path
}

// callModule loads the callguest at path with services as its ServiceCaller, granted calls
// to every service.
func callModule(t *testing.T, path string, services ServiceCaller) *Module {
	t.Helper()
	return grantedCallModule(t, path, services, Grants{Calls: []string{"*"}})
}

// grantedCallModule loads the callguest at path with services and grants.
func grantedCallModule(t *testing.T, path string, services ServiceCaller, grants Grants) *Module {
	t.Helper()
	return load(t, newRuntime(t, nil), path, ModuleOptions{PoolSize: 1, InterruptOnDeadline: true, Services: services, Grants: grants})
}

func relay(ctx context.Context, m *Module, endpoint string, header map[string]string, body string) (*Response, error) {
	return m.Call(ctx, &Request{Endpoint: endpoint, ContentType: "application/json", Header: header, Body: []byte(body)})
}

func TestCallReachesTheServiceCaller(t *testing.T) {
	var got *ServiceRequest
	var deadline time.Time
	m := callModule(t, buildCallGuest(t), ServiceCallerFunc(func(ctx context.Context, req *ServiceRequest) ([]byte, error) {
		got = req
		deadline, _ = ctx.Deadline()
		return []byte(`{"greeting":"Hello John"}`), nil
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	header := map[string]string{"X-Trace": "abc", "Micro-Id": "7", "Micro-Service": "api", "Micro-Endpoint": "Call.Relay", "Timeout": "1000"}
	rsp, err := relay(ctx, m, "Call.Relay", header, `{"service":"greeter","endpoint":"Greeter.Hello","body":{"name":"John"}}`)
	require.NoError(t, err)
	assert.Equal(t, `{"greeting":"Hello John"}`, string(rsp.Body))
	require.NotNil(t, got)
	assert.Equal(t, "greeter", got.Service)
	assert.Equal(t, "Greeter.Hello", got.Endpoint)
	assert.Equal(t, "application/json", got.ContentType, "the default content type")
	assert.JSONEq(t, `{"name":"John"}`, string(got.Body))
	assert.Equal(t, map[string]string{"X-Trace": "abc"}, got.Metadata, "metadata forwarded, the request's own headers not")
	want, _ := ctx.Deadline()
	assert.Equal(t, want, deadline, "the calling request's deadline")
}

func TestCallErrors(t *testing.T) {
	cases := []struct {
		name     string
		services ServiceCaller
		body     string
		code     int32
		detail   string
	}{
		{"remote error keeps its code", ServiceCallerFunc(func(context.Context, *ServiceRequest) ([]byte, error) {
			return nil, abi.NewError("greeter", 400, "name is required")
		}), "", 400, "name is required"},
		{"plain error is a 500", ServiceCallerFunc(func(context.Context, *ServiceRequest) ([]byte, error) {
			return nil, errors.New("boom")
		}), "", 500, "call greeter Greeter.Hello: boom"},
		{"no client is a 503", nil, "", 503, "gives the module no client"},
		{"deadline is a 408", ServiceCallerFunc(func(ctx context.Context, _ *ServiceRequest) ([]byte, error) {
			return nil, fmt.Errorf("waiting: %w", context.DeadlineExceeded)
		}), "", 408, "deadline exceeded"},
		{"no service is a 400", ServiceCallerFunc(func(context.Context, *ServiceRequest) ([]byte, error) {
			return []byte("{}"), nil
		}), `{"service":"","endpoint":"X.Y"}`, 400, "are required"},
		{"overlong name is a 400", ServiceCallerFunc(func(context.Context, *ServiceRequest) ([]byte, error) {
			return []byte("{}"), nil
		}), `{"service":"` + strings.Repeat("s", 2000) + `","endpoint":"X.Y"}`, 400, "over 1024 bytes"},
	}
	path := buildCallGuest(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := callModule(t, path, c.services)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			body := c.body
			if body == "" {
				body = `{"service":"greeter","endpoint":"Greeter.Hello","body":{}}`
			}
			_, err := relay(ctx, m, "Call.Relay", nil, body)
			var ae *abi.Error
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, c.code, ae.Code)
			assert.Contains(t, ae.Detail, c.detail)
			// The instance keeps serving.
			_, err = relay(context.Background(), m, "Echo.Count", nil, `{}`)
			require.NoError(t, err)
		})
	}
}

// TestCallResultCopiesIfItFits drives the imports by hand: call_result with a buffer too small
// writes nothing and returns the length; with room it copies.
func TestCallResultCopiesIfItFits(t *testing.T) {
	fail := false
	m := callModule(t, buildCallGuest(t), ServiceCallerFunc(func(context.Context, *ServiceRequest) ([]byte, error) {
		if fail {
			return nil, abi.NewError("greeter", 404, "unknown endpoint Greeter.Nope")
		}
		return []byte("0123456789"), nil
	}))
	body := `{"service":"greeter","endpoint":"Greeter.Hello","body":{}}`
	rsp, err := relay(context.Background(), m, "Call.Raw", nil, body)
	require.NoError(t, err)
	assert.Equal(t, "10|10|##|10|0123456789", string(rsp.Body))

	fail = true
	rsp, err = relay(context.Background(), m, "Call.Raw", nil, body)
	require.NoError(t, err)
	text := abi.NewError("greeter", 404, "unknown endpoint Greeter.Nope").Error()
	parts := strings.SplitN(string(rsp.Body), "|", 5)
	require.Len(t, parts, 5)
	assert.Equal(t, []string{"-1", fmt.Sprint(len(text)), "##", fmt.Sprint(len(text))}, parts[:4])
	var e abi.Error
	require.NoError(t, json.Unmarshal([]byte(parts[4]), &e))
	assert.Equal(t, int32(404), e.Code)

	fail = false
	rsp, err = relay(context.Background(), m, "Call.Raw", nil, body)
	require.NoError(t, err)
	assert.Equal(t, "10|10|##|10|0123456789", string(rsp.Body))
}
