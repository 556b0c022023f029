package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/microhost/microhost/host/component"
)

// pairsFlag collects a repeatable KEY=VALUE flag, such as --metadata or --label; check, when
// set, vets each pair. A key given twice keeps its last value.
type pairsFlag struct {
	pairs map[string]string
	check func(key, value string) error
}

// String lists the pairs as KEY=VALUE,… in key order.
func (p *pairsFlag) String() string {
	if p == nil || len(p.pairs) == 0 {
		return ""
	}
	kv := make([]string, 0, len(p.pairs))
	for k, v := range p.pairs {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// Set adds one KEY=VALUE pair.
func (p *pairsFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", s)
	}
	if p.check != nil {
		if err := p.check(k, v); err != nil {
			return err
		}
	}
	if p.pairs == nil {
		p.pairs = map[string]string{}
	}
	p.pairs[k] = v
	return nil
}

// checkMetadata accepts a metadata pair that can travel as an HTTP header the transport does
// not own: the key a header name, not Content-Type, Content-Length, Host, Connection, Timeout
// or a Micro-* header; the value without control characters other than tab.
func checkMetadata(key, value string) error {
	if !component.ValidHeaderName(key) {
		return fmt.Errorf("metadata key %q is not a header name (letters, digits and !#$%%&'*+-.^_`|~ only)", key)
	}
	lower := strings.ToLower(key)
	switch {
	case strings.HasPrefix(lower, "micro-"):
		return fmt.Errorf("metadata key %q: the Micro-* headers belong to the transport", key)
	case lower == "content-type" || lower == "content-length" || lower == "host" || lower == "connection" || lower == "timeout":
		return fmt.Errorf("metadata key %q: that header belongs to the transport (use --content-type or --timeout)", key)
	}
	if !component.ValidHeaderValue(value) {
		return fmt.Errorf("metadata %s: the value holds a control character", key)
	}
	return nil
}
