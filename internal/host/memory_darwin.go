//go:build darwin

package host

// mapNoReserve is 0 where MAP_NORESERVE does not exist or is ignored: a reservation with no
// access commits nothing there either.
const mapNoReserve = 0
