package ports

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strconv"
	"syscall"
)

// ErrExhausted is matched, through errors.Is, by the error Listen returns
// when no port of the range could be bound.
var ErrExhausted = errors.New("port range exhausted")

// Listen announces on the first port of addr, a single port or a port range
// (see Parse), that can be bound, trying the ports from min to max in
// order. Network must be "tcp", "tcp4" or "tcp6". The listener's Addr is
// the address actually bound, which for port 0 holds the system's choice.
//
// Only a failure that concerns the port itself moves on to the next one:
// "address in use", which covers ports held by this or another process, and
// permission errors such as a port below 1024 without privilege. Any other
// error ends the search at once and is returned wrapped, since it would
// recur on every port: a host that does not resolve, an address that is
// not local to the machine (EADDRNOTAVAIL), a malformed addr, or ctx being
// done, which is checked before each attempt. A host name is resolved
// again for each attempt.
//
// When every port fails, the error names the range and matches both
// ErrExhausted and the last attempt's error, so that errors.Is(err,
// syscall.EADDRINUSE) holds when the last port was taken.
func Listen(ctx context.Context, network, addr string) (net.Listener, error) {
	return ListenWith(ctx, nil, network, addr)
}

// ListenWith is Listen with every attempt made through lc, for socket
// options or a Control hook; a nil lc stands for the zero ListenConfig.
func ListenWith(ctx context.Context, lc *net.ListenConfig, network, addr string) (net.Listener, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("ports: listen %q: %w (want tcp, tcp4 or tcp6)", addr, net.UnknownNetworkError(network))
	}
	r, err := Parse(addr)
	if err != nil {
		return nil, err
	}
	if lc == nil {
		lc = new(net.ListenConfig)
	}
	var last error
	for port := r.Min; port <= r.Max; port++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("ports: listen %s %s: %w", network, r, err)
		}
		ln, err := lc.Listen(ctx, network, net.JoinHostPort(r.Host, strconv.Itoa(port)))
		if err == nil {
			return ln, nil
		}
		if !portUnavailable(err) {
			return nil, fmt.Errorf("ports: listen %s %s: %w", network, r, err)
		}
		last = err
	}
	return nil, fmt.Errorf("ports: listen %s %s: %w: %w", network, r, ErrExhausted, last)
}

// portUnavailable reports whether a failed attempt says only that its
// port cannot be had, so that another port of the range may still work.
// On Linux a port can also be refused at listen(2) rather than bind(2),
// when two sockets bound it at once; that too is EADDRINUSE.
func portUnavailable(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, fs.ErrPermission) || osPortUnavailable(err)
}
