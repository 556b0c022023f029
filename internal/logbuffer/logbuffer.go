// Package logbuffer is a goroutine-safe buffer for collecting the log output of servers and
// agents that tests start, to search it or print it when a test fails.
package logbuffer

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer that many goroutines may write to at once.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
