package ports

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
)

// fakeAddr is a net.Addr of no known type.
type fakeAddr string

func (a fakeAddr) Network() string { return "fake" }
func (a fakeAddr) String() string  { return string(a) }

// ifaces returns an interface-address source that lists the given
// addresses, each a CIDR prefix or a bare IP.
func ifaces(t *testing.T, addrs ...string) func() ([]net.Addr, error) {
	t.Helper()
	var list []net.Addr
	for _, a := range addrs {
		if _, n, err := net.ParseCIDR(a); err == nil {
			n.IP = net.ParseIP(strings.Split(a, "/")[0])
			list = append(list, n)
			continue
		}
		ip := net.ParseIP(a)
		if ip == nil {
			t.Fatalf("bad test address %q", a)
		}
		list = append(list, &net.IPAddr{IP: ip})
	}
	return func() ([]net.Addr, error) { return list, nil }
}

func tcpAddr(ip string, port int) *net.TCPAddr {
	return &net.TCPAddr{IP: net.ParseIP(ip), Port: port}
}

func TestAdvertise(t *testing.T) {
	loopbackOnly := []string{"127.0.0.1/8", "::1/128"}
	tests := []struct {
		name     string
		listen   net.Addr
		override string
		ifaces   []string
		want     string
	}{
		{name: "all interfaces, loopback only", listen: tcpAddr("", 8080), ifaces: loopbackOnly, want: "127.0.0.1:8080"},
		{name: "all interfaces, no addresses", listen: tcpAddr("", 8080), want: "127.0.0.1:8080"},
		{name: "0.0.0.0, one non-loopback IPv4", listen: tcpAddr("0.0.0.0", 8080),
			ifaces: []string{"127.0.0.1/8", "::1/128", "10.1.2.3/24"}, want: "10.1.2.3:8080"},
		{name: ":: uses IPv4 too", listen: tcpAddr("::", 9000),
			ifaces: []string{"127.0.0.1/8", "192.168.1.5/24"}, want: "192.168.1.5:9000"},
		{name: "first IPv4 wins", listen: tcpAddr("", 1),
			ifaces: []string{"10.0.0.1/8", "10.0.0.2/8"}, want: "10.0.0.1:1"},
		{name: "IPv6-only falls back to loopback", listen: tcpAddr("", 8080),
			ifaces: []string{"127.0.0.1/8", "::1/128", "fd00::2/64", "2001:db8::1/64", "fe80::1/64"}, want: "127.0.0.1:8080"},
		{name: "link-local and unspecified IPv4 skipped", listen: tcpAddr("", 8080),
			ifaces: []string{"169.254.10.1/16", "0.0.0.0", "172.16.0.9/12"}, want: "172.16.0.9:8080"},
		{name: "IPAddr entries", listen: tcpAddr("", 8080), ifaces: []string{"127.0.0.1", "10.9.9.9"}, want: "10.9.9.9:8080"},
		{name: "specific IPv4 host kept", listen: tcpAddr("127.0.0.1", 8080),
			ifaces: []string{"10.1.2.3/24"}, want: "127.0.0.1:8080"},
		{name: "specific IPv6 host kept", listen: tcpAddr("::1", 8080),
			ifaces: []string{"10.1.2.3/24"}, want: "[::1]:8080"},
		{name: "specific host name kept", listen: fakeAddr("svc.local:8080"), want: "svc.local:8080"},
		{name: "zone kept", listen: fakeAddr("[fe80::1%eth0]:80"), want: "[fe80::1%eth0]:80"},
		{name: "override host gets real port", listen: tcpAddr("", 8080), override: "203.0.113.7",
			ifaces: []string{"10.1.2.3/24"}, want: "203.0.113.7:8080"},
		{name: "override wins over specific host", listen: tcpAddr("127.0.0.1", 8080), override: "svc.example",
			want: "svc.example:8080"},
		{name: "override host:port used as is", listen: tcpAddr("", 8080), override: "svc.example:9999",
			want: "svc.example:9999"},
		{name: "override port normalised", listen: tcpAddr("", 8080), override: "svc.example:0443",
			want: "svc.example:443"},
		{name: "override bare IPv6", listen: tcpAddr("", 8080), override: "2001:db8::1", want: "[2001:db8::1]:8080"},
		{name: "override bracketed IPv6", listen: tcpAddr("", 8080), override: "[2001:db8::1]", want: "[2001:db8::1]:8080"},
		{name: "override bracketed IPv6 with port", listen: tcpAddr("", 8080), override: "[2001:db8::1]:443",
			want: "[2001:db8::1]:443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Advertise(tt.listen, tt.override, ifaces(t, tt.ifaces...))
			if err != nil {
				t.Fatalf("Advertise(%v, %q): %v", tt.listen, tt.override, err)
			}
			if got != tt.want {
				t.Errorf("Advertise(%v, %q) = %q, want %q", tt.listen, tt.override, got, tt.want)
			}
		})
	}
}

func TestAdvertiseInterfacesOnlyWhenNeeded(t *testing.T) {
	called := false
	source := func() ([]net.Addr, error) {
		called = true
		return nil, errors.New("should not be called")
	}
	for _, tc := range []struct {
		listen   net.Addr
		override string
	}{
		{tcpAddr("127.0.0.1", 80), ""},
		{tcpAddr("", 80), "svc.example"},
	} {
		if _, err := Advertise(tc.listen, tc.override, source); err != nil {
			t.Errorf("Advertise(%v, %q): %v", tc.listen, tc.override, err)
		}
	}
	if called {
		t.Error("interface addresses listed though not needed")
	}
}

func TestAdvertiseErrors(t *testing.T) {
	errSource := errors.New("interfaces unavailable")
	failing := func() ([]net.Addr, error) { return nil, errSource }
	tests := []struct {
		name     string
		listen   net.Addr
		override string
		source   func() ([]net.Addr, error)
		want     string
	}{
		{name: "nil address", listen: nil, want: "nil listen address"},
		{name: "no port", listen: fakeAddr("nonsense"), want: "missing port"},
		{name: "port 0", listen: tcpAddr("", 0), want: `port "0" is not a bound port`},
		{name: "port not a number", listen: fakeAddr("host:http"), want: `port "http" is not a bound port`},
		{name: "port too large", listen: fakeAddr("host:70000"), want: "is not a bound port"},
		{name: "source fails", listen: tcpAddr("", 80), source: failing, want: "interfaces unavailable"},
		{name: "override empty host", listen: tcpAddr("", 80), override: ":8080", want: "empty host"},
		{name: "override empty brackets", listen: tcpAddr("", 80), override: "[]", want: "empty host"},
		{name: "override port not a number", listen: tcpAddr("", 80), override: "svc:http", want: `port "http" is not a usable port`},
		{name: "override port 0", listen: tcpAddr("", 80), override: "svc:0", want: `port "0" is not a usable port`},
		{name: "override port empty", listen: tcpAddr("", 80), override: "svc:", want: `port "" is not a usable port`},
		{name: "override too many colons", listen: tcpAddr("", 80), override: "a:b:c", want: `"a:b:c" is not a valid IPv6 address`},
		{name: "override brackets around a name", listen: tcpAddr("", 80), override: "[svc]", want: "not a valid IPv6 address"},
		{name: "override unbalanced bracket", listen: tcpAddr("", 80), override: "[::1", want: "invalid character '['"},
		{name: "override space", listen: tcpAddr("", 80), override: "my svc", want: "invalid character ' '"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			source := tt.source
			if source == nil {
				source = ifaces(t)
			}
			got, err := Advertise(tt.listen, tt.override, source)
			if err == nil {
				t.Fatalf("Advertise(%v, %q) = %q, want an error", tt.listen, tt.override, got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if tt.override != "" && !strings.Contains(err.Error(), `"`+tt.override+`"`) {
				t.Errorf("error %q does not name the override %q", err, tt.override)
			}
			if tt.source != nil && !errors.Is(err, errSource) {
				t.Errorf("error %q does not wrap the source's error", err)
			}
		})
	}
}

// TestAdvertiseDefaultSource advertises a real listener on all interfaces
// with the machine's own interface addresses.
func TestAdvertiseDefaultSource(t *testing.T) {
	ln, err := Listen(context.Background(), "tcp4", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got, err := Advertise(ln.Addr(), "", nil)
	if err != nil {
		t.Fatalf("Advertise(%v): %v", ln.Addr(), err)
	}
	host, port, err := net.SplitHostPort(got)
	if err != nil {
		t.Fatalf("Advertise(%v) = %q: %v", ln.Addr(), got, err)
	}
	if ip := net.ParseIP(host); ip.To4() == nil || ip.IsUnspecified() || ip.IsLinkLocalUnicast() {
		t.Errorf("Advertise(%v) = %q, want a usable IPv4 host", ln.Addr(), got)
	}
	if want := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port); port != want {
		t.Errorf("Advertise(%v) = %q, want port %s", ln.Addr(), got, want)
	}
}
