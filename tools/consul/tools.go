//go:build tools

// Package tools pins the Consul agent that the integration tests run
// against. It is built with `go build github.com/hashicorp/consul` from
// this module by scripts/deps.d/40-consul.sh; nothing imports it.
package tools

import _ "github.com/hashicorp/consul"
