//go:build !wasip1

package guest

import "errors"

// CallHook serves Call in native builds, for unit tests of handlers that call other
// services. It returns the reply body, or an error (an *Error to choose the code the
// handler sees; any other error becomes a 500).
type CallHook func(service, endpoint, contentType string, body []byte) ([]byte, error)

var callHook CallHook

// SetCallHook makes Call use hook in native builds; nil restores the default, under which
// Call fails with a 503 error because there is no host to call through. It exists only in
// non-Wasm builds and is meant for tests, which must not run in parallel with each other
// while they use it.
func SetCallHook(hook CallHook) { callHook = hook }

func call(service, endpoint, contentType string, body []byte) ([]byte, *Error) {
	if callHook == nil {
		return nil, &Error{Code: 503, Detail: "call " + service + " " + endpoint + ": a native build has no host to call through (see SetCallHook)"}
	}
	reply, err := callHook(service, endpoint, contentType, body)
	if err == nil {
		return reply, nil
	}
	var ge *Error
	if !errors.As(err, &ge) {
		ge = &Error{Code: 500, Detail: err.Error()}
	}
	return nil, ge
}
