package ports

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		addr string
		want Range
		str  string // String of the result; addr when empty
	}{
		{addr: "127.0.0.1:8000-8100", want: Range{"127.0.0.1", 8000, 8100}},
		{addr: ":9000-9010", want: Range{"", 9000, 9010}},
		{addr: "[::1]:7000-7005", want: Range{"::1", 7000, 7005}},
		{addr: "[::1]:7000", want: Range{"::1", 7000, 7000}},
		{addr: "[::]:5-6", want: Range{"::", 5, 6}},
		{addr: "localhost:8080", want: Range{"localhost", 8080, 8080}},
		{addr: ":8080", want: Range{"", 8080, 8080}},
		{addr: ":0", want: Range{"", 0, 0}},
		{addr: "127.0.0.1:0", want: Range{"127.0.0.1", 0, 0}},
		{addr: "[::1]:0", want: Range{"::1", 0, 0}},
		{addr: "0.0.0.0:65535", want: Range{"0.0.0.0", 65535, 65535}},
		{addr: ":1-65535", want: Range{"", 1, 65535}},
		{addr: "host:8080-8080", want: Range{"host", 8080, 8080}, str: "host:8080"},
		{addr: "host:080", want: Range{"host", 80, 80}, str: "host:80"},
		{addr: "host:0001-0002", want: Range{"host", 1, 2}, str: "host:1-2"},
		{addr: "[fe80::1%eth0]:80-81", want: Range{"fe80::1%eth0", 80, 81}},
		{addr: "[::ffff:1.2.3.4]:80", want: Range{"::ffff:1.2.3.4", 80, 80}},
		{addr: "my-host.example:443", want: Range{"my-host.example", 443, 443}},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			got, err := Parse(tt.addr)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.addr, err)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q) = %#v, want %#v", tt.addr, got, tt.want)
			}
			str := tt.str
			if str == "" {
				str = tt.addr
			}
			if s := got.String(); s != str {
				t.Fatalf("String() = %q, want %q", s, str)
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	tests := []struct {
		addr string
		want string // substring of the message
	}{
		{"", "empty address"},
		{"localhost", "missing port"},
		{"8080", "missing port"},
		{"localhost:", "missing port"},
		{"[::1]", "missing port after ']'"},
		{"[::1]:", "missing port"},
		{"host:http", `port "http" is not a number`},
		{"host:+80", `port "+80" is not a number`},
		{"host: 80", `port " 80" is not a number`},
		{"host:0x50", `port "0x50" is not a number`},
		{"host:80-9o", `port "9o" is not a number`},
		{"host:8o-90", `port "8o" is not a number`},
		{"host:70000-70001", `port "70000" out of range 0-65535`},
		{"host:65536", `port "65536" out of range 0-65535`},
		{"host:1-70000", `port "70000" out of range 0-65535`},
		{"host:99999999999999999999", "out of range 0-65535"},
		{"host:9000-8000", `reversed port range "9000-8000"`},
		{"host:1-2-3", `too many dashes in port range "1-2-3"`},
		{"host:--", "too many dashes"},
		{"host:-5", `empty start in port range "-5"`},
		{"host:5-", `empty end in port range "5-"`},
		{"host:-", `empty start and end in port range "-"`},
		{"host:0-5", `port 0 in range "0-5"`},
		{"host:5-0", `port 0 in range "5-0"`},
		{"host:0-0", "must stand alone"},
		{"[::1:80", "missing ']'"},
		{"::1:80", "too many colons"},
		{"a:b:80", "too many colons"},
		{"[::1]80", `want ':' after ']', found "80"`},
		{"[]:80", "empty host in brackets"},
		{"[localhost]:80", `"localhost" in brackets is not an IPv6 address`},
		{"[127.0.0.1]:80", "is not an IPv6 address"},
		{"::1]:80", `invalid character ']'`},
		{"a[b:80", `invalid character '['`},
		{"ho st:80", `host "ho st" contains invalid character ' '`},
		{"host\n:80", `invalid character '\n'`},
		{"[fe80::1% x]:80", "invalid character ' '"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			got, err := Parse(tt.addr)
			if err == nil {
				t.Fatalf("Parse(%q) = %#v, want an error", tt.addr, got)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not match ErrMalformed", err)
			}
			if got != (Range{}) {
				t.Errorf("Parse(%q) returned %#v with its error", tt.addr, got)
			}
			msg := err.Error()
			if !strings.Contains(msg, strconv.Quote(tt.addr)) {
				t.Errorf("message %q does not name the address %q", msg, tt.addr)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not contain %q", msg, tt.want)
			}
		})
	}
}

func TestRangeString(t *testing.T) {
	tests := []struct {
		r    Range
		want string
	}{
		{Range{"", 0, 0}, ":0"},
		{Range{"", 80, 80}, ":80"},
		{Range{"10.0.0.1", 80, 90}, "10.0.0.1:80-90"},
		{Range{"::1", 1, 2}, "[::1]:1-2"},
		{Range{"fe80::1%eth0", 7, 7}, "[fe80::1%eth0]:7"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.r, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"127.0.0.1:8000-8100", ":9000-9010", "[::1]:7000-7005", "[::1]:7000",
		"localhost:8080", ":0", "127.0.0.1:0", ":1-65535", "host:080",
		"[fe80::1%eth0]:80", "[::ffff:1.2.3.4]:80", "[::]:0",
		"", ":", "-", "localhost", "host:", "host:-", "host:-5", "host:5-",
		"host:1-2-3", "host:0-5", "host:9000-8000", "host:65536", "host:+1",
		"[::1", "[::1]", "[::1]80", "[]:80", "::1:80", "[localhost]:80",
		"ho st:80", "[[::1]]:80", "]:80", "[fe80::1%]:80", ":99999999999999999999",
		"[fe80::1%a]b]:80", "\x00:1", "é:1-2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		r, err := Parse(addr)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse(%q): error %v does not match ErrMalformed", addr, err)
			}
			if !strings.Contains(err.Error(), strconv.Quote(addr)) {
				t.Fatalf("Parse(%q): message %q does not name the address", addr, err)
			}
			return
		}
		if r.Min < 0 || r.Min > r.Max || r.Max > 65535 || (r.Min == 0) != (r.Max == 0) {
			t.Fatalf("Parse(%q) = %#v, an impossible range", addr, r)
		}
		s := r.String()
		again, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) = %#v, whose String %q does not parse: %v", addr, r, s, err)
		}
		if again != r {
			t.Fatalf("Parse(%q) = %#v, but Parse(%q) = %#v", addr, r, s, again)
		}
		if s2 := again.String(); s2 != s {
			t.Fatalf("String is not stable: %q then %q", s, s2)
		}
	})
}
