// Package ports parses listen addresses that may name a range of ports,
// binds the first free port of such a range, and works out the address a
// service should give a registry.
//
// # Address syntax
//
// An address is a host, a colon, and either one port or an inclusive range
// of ports written min-max:
//
//	127.0.0.1:8080        one port on one interface
//	127.0.0.1:8000-8100   the first free port from 8000 to 8100
//	:9000-9010            all interfaces, first free port from 9000 to 9010
//	[::1]:7000-7005       IPv6 hosts go in square brackets
//	localhost:8000-8009   host names are resolved when listening
//	:0                    all interfaces, the system picks a port
//
// The host may be empty (all interfaces), a host name, an IPv4 address or,
// in brackets, an IPv6 address with an optional zone ([fe80::1%eth0]:80).
// Ports are decimal numbers from 0 to 65535 with no sign or spaces, and
// min must not exceed max. Port 0 asks the system for any free port and is
// only allowed on its own, never as a range end. A range whose ends are
// equal (8080-8080) is the single port 8080.
//
// Parse reports what is wrong with a malformed address; its errors match
// [ErrMalformed]. Listen tries the ports in increasing order and returns
// the first listener that binds; when none does its error matches
// [ErrExhausted] and the operating system's last error.
package ports
