//go:build !wasip1

package guest

import (
	"context"
	"log/slog"
	"strings"

	"github.com/microhost/microhost/abi"
)

// Dispatch calls the registered handler for endpoint as the host would, for native unit
// tests of handler logic. It exists only in non-Wasm builds.
func Dispatch(endpoint string, body []byte, headers map[string]string) ([]byte, *Error) {
	rsp, _, err := DispatchWithHeaders(endpoint, body, headers)
	return rsp, err
}

// DispatchWithHeaders is Dispatch that also returns the reply metadata the handler set with
// Request.SetHeader. It exists only in non-Wasm builds.
func DispatchWithHeaders(endpoint string, body []byte, headers map[string]string) ([]byte, map[string]string, *Error) {
	reply := map[string]string{}
	req := &Request{Endpoint: endpoint, Body: body, header: func(key string) (string, bool) {
		for k, v := range headers {
			if strings.EqualFold(k, key) {
				return v, true
			}
		}
		return "", false
	}, setHeader: func(key, value string) { reply[key] = value }}
	rsp, err := dispatch(req)
	return rsp, reply, err
}

// Descriptor returns the module's descriptor as registered so far. It exists only in
// non-Wasm builds.
func Descriptor() abi.Descriptor { return registered.desc }

// Log writes msg to the default slog logger in native builds.
func Log(level int32, msg string) {
	slog.Log(context.Background(), slog.Level(level), msg)
}
