package ports

import (
	"errors"
	"syscall"
)

// Winsock reports a port in use, or one inside a range the system has
// reserved, with its own error numbers, which the portable syscall values
// do not match.
const (
	wsaeacces     = syscall.Errno(10013)
	wsaeaddrinuse = syscall.Errno(10048)
)

// osPortUnavailable reports the Winsock errors that mean "try another port".
func osPortUnavailable(err error) bool {
	return errors.Is(err, wsaeaddrinuse) || errors.Is(err, wsaeacces)
}
