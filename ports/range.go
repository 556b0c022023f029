package ports

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// ErrMalformed is matched, through errors.Is, by every error Parse returns.
var ErrMalformed = errors.New("ports: malformed address")

// maxPort is the highest TCP or UDP port number.
const maxPort = 65535

// Range is a parsed listen address: a host and an inclusive range of ports.
type Range struct {
	// Host is a host name or an IP address, without brackets. Empty means
	// all interfaces.
	Host string
	// Min and Max are the first and the last port to try. Min == Max
	// is a single port; both are 0 when the system picks the port.
	Min, Max int
}

// String formats r as an address Parse accepts: host:port for a single
// port, host:min-max for a range, with an IPv6 host in brackets.
func (r Range) String() string {
	port := strconv.Itoa(r.Min)
	if r.Max != r.Min {
		port += "-" + strconv.Itoa(r.Max)
	}
	return net.JoinHostPort(r.Host, port)
}

// Parse parses a listen address of the form host:port or host:min-max; see
// the package documentation for the syntax. An error names addr, says what
// is wrong with it, and matches ErrMalformed.
func Parse(addr string) (Range, error) {
	host, port, problem := splitAddr(addr)
	if problem == "" {
		problem = hostProblem(host)
	}
	var lo, hi int
	if problem == "" {
		lo, hi, problem = parsePorts(port)
	}
	if problem != "" {
		return Range{}, fmt.Errorf("%w %q: %s", ErrMalformed, addr, problem)
	}
	return Range{Host: host, Min: lo, Max: hi}, nil
}

// splitAddr splits addr into its host, without brackets, and its port part.
// It returns a description of the problem when it cannot.
func splitAddr(addr string) (host, port, problem string) {
	if addr == "" {
		return "", "", "empty address"
	}
	if rest, ok := strings.CutPrefix(addr, "["); ok {
		host, after, ok := strings.Cut(rest, "]")
		switch {
		case !ok:
			return "", "", "missing ']' after the IPv6 address"
		case host == "":
			return "", "", "empty host in brackets"
		case !isIPv6(host):
			return "", "", fmt.Sprintf("%q in brackets is not an IPv6 address", host)
		case after == "":
			return "", "", "missing port after ']'"
		case after[0] != ':':
			return "", "", fmt.Sprintf("want ':' after ']', found %q", after)
		}
		return host, after[1:], ""
	}
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", "", "missing port (want host:port or host:min-max)"
	}
	host = addr[:i]
	if strings.ContainsRune(host, ':') && !strings.ContainsAny(host, "[]") {
		return "", "", "too many colons (an IPv6 address goes in brackets, as in [::1]:8000)"
	}
	return host, addr[i+1:], ""
}

// hostProblem describes a character that no host may contain, or returns
// "" if there is none. Whether a name resolves is only known when
// listening.
func hostProblem(host string) string {
	for i := 0; i < len(host); i++ {
		if c := host[i]; c <= ' ' || c == 0x7f || c == '[' || c == ']' {
			return fmt.Sprintf("host %q contains invalid character %q", host, c)
		}
	}
	return ""
}

// isIPv6 reports whether s is an IPv6 address, possibly with a zone.
func isIPv6(s string) bool {
	ip, err := netip.ParseAddr(s)
	return err == nil && ip.Is6()
}

// parsePorts parses "port" or "min-max".
func parsePorts(s string) (lo, hi int, problem string) {
	if s == "" {
		return 0, 0, "missing port (want host:port or host:min-max)"
	}
	first, last, isRange := strings.Cut(s, "-")
	if !isRange {
		lo, problem = parsePort(s)
		return lo, lo, problem
	}
	switch {
	case strings.ContainsRune(last, '-'):
		return 0, 0, fmt.Sprintf("too many dashes in port range %q (want min-max)", s)
	case first == "" && last == "":
		return 0, 0, fmt.Sprintf("empty start and end in port range %q", s)
	case first == "":
		return 0, 0, fmt.Sprintf("empty start in port range %q", s)
	case last == "":
		return 0, 0, fmt.Sprintf("empty end in port range %q", s)
	}
	if lo, problem = parsePort(first); problem != "" {
		return 0, 0, problem
	}
	if hi, problem = parsePort(last); problem != "" {
		return 0, 0, problem
	}
	switch {
	case lo == 0 || hi == 0:
		return 0, 0, fmt.Sprintf("port 0 in range %q (0 lets the system pick and must stand alone)", s)
	case lo > hi:
		return 0, 0, fmt.Sprintf("reversed port range %q (min must not exceed max)", s)
	}
	return lo, hi, ""
}

// parsePort parses one decimal port number.
func parsePort(s string) (int, string) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Sprintf("port %q is not a number", s)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > maxPort {
		return 0, fmt.Sprintf("port %q out of range 0-65535", s)
	}
	return n, ""
}
