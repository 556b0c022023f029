//go:build !windows

package ports

// osPortUnavailable reports errors beyond the portable ones that mean "try
// another port"; on this system there are none.
func osPortUnavailable(error) bool { return false }
