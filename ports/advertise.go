package ports

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Advertise returns the host:port a service listening on listenAddr should
// give a registry. The port is always listenAddr's, which must be a real
// port (not 0); pass the listener's Addr, not the configured address.
//
// A non-empty override wins over everything else, as the operator's
// choice (behind NAT, for instance). It is either a host, which gets
// listenAddr's port, or host:port, which is used as it is. An IPv6 host may
// be given with or without brackets.
//
// Otherwise a listener on one host keeps that host. A listener on all
// interfaces (empty host, 0.0.0.0 or ::) is advertised on the first IPv4
// address from interfaceAddrs that is not loopback, link-local or
// unspecified, and on 127.0.0.1 when there is none, so a machine with only
// IPv6 beyond loopback is advertised on 127.0.0.1. Addresses other than
// *net.IPNet and *net.IPAddr are ignored. A nil interfaceAddrs means
// net.InterfaceAddrs; it is only called for a listener on all interfaces.
func Advertise(listenAddr net.Addr, override string, interfaceAddrs func() ([]net.Addr, error)) (string, error) {
	if listenAddr == nil {
		return "", errors.New("ports: advertise: nil listen address")
	}
	host, port, err := net.SplitHostPort(listenAddr.String())
	if err != nil {
		return "", fmt.Errorf("ports: advertise %s: %w", listenAddr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > maxPort {
		return "", fmt.Errorf("ports: advertise %s: port %q is not a bound port", listenAddr, port)
	}
	if override != "" {
		return overridden(override, port)
	}
	if ip := net.ParseIP(host); host != "" && !ip.IsUnspecified() {
		return net.JoinHostPort(host, port), nil
	}
	if interfaceAddrs == nil {
		interfaceAddrs = net.InterfaceAddrs
	}
	addrs, err := interfaceAddrs()
	if err != nil {
		return "", fmt.Errorf("ports: advertise %s: interface addresses: %w", listenAddr, err)
	}
	for _, a := range addrs {
		var ip net.IP
		switch a := a.(type) {
		case *net.IPNet:
			ip = a.IP
		case *net.IPAddr:
			ip = a.IP
		}
		if ip4 := ip.To4(); ip4 != nil && !ip4.IsLoopback() && !ip4.IsLinkLocalUnicast() && !ip4.IsUnspecified() {
			return net.JoinHostPort(ip4.String(), port), nil
		}
	}
	return net.JoinHostPort("127.0.0.1", port), nil
}

// overridden returns the advertise address for an override, which is a
// host or host:port, with port used when it has none.
func overridden(override, port string) (string, error) {
	host, bracketed := override, false
	if h, ok := strings.CutPrefix(override, "["); ok && strings.HasSuffix(h, "]") {
		host, bracketed = strings.TrimSuffix(h, "]"), true
	} else if h, p, err := net.SplitHostPort(override); err == nil {
		n, problem := parsePort(p)
		if problem != "" || n == 0 {
			return "", fmt.Errorf("ports: advertise override %q: port %q is not a usable port", override, p)
		}
		host, port = h, strconv.Itoa(n)
	}
	problem := hostProblem(host)
	switch {
	case host == "":
		problem = "empty host"
	case problem == "" && (bracketed || strings.ContainsRune(host, ':')) && !isIPv6(host):
		problem = fmt.Sprintf("host %q is not a valid IPv6 address", host)
	}
	if problem != "" {
		return "", fmt.Errorf("ports: advertise override %q: %s", override, problem)
	}
	return net.JoinHostPort(host, port), nil
}
