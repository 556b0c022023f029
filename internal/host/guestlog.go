package host

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Default caps on a module's log output (the log host function and stdout/stderr together).
const (
	// DefaultLogBytesPerCall caps what one call (or one instance's start-up) may log.
	DefaultLogBytesPerCall = 64 << 10
	// DefaultLogBytesPerSecond caps what all instances of a module may log in one second.
	DefaultLogBytesPerSecond = 1 << 20
)

// logLimiter is a module's log budget per second, shared by its instances.
type logLimiter struct {
	perSecond int
	mu        sync.Mutex
	window    time.Time
	used      int
	warned    bool
}

// take grants up to n bytes of the current second's budget, and reports whether this is the
// first refusal of the second (to be marked once).
func (l *logLimiter) take(n int) (granted int, firstRefusal bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.window) >= time.Second {
		l.window, l.used, l.warned = now, 0, false
	}
	granted = min(n, l.perSecond-l.used)
	l.used += granted
	if granted < n && !l.warned {
		l.warned = true
		return granted, true
	}
	return granted, false
}

// emitLog writes one guest log record within the call's and the module's caps: a record
// over either is cut (and says so with truncated=true), and the first record refused marks
// the cut with a warning of its own.
func (s *callState) emitLog(level slog.Level, msg []byte, attrs ...any) {
	logger := s.logger
	if s.req != nil {
		logger = logger.With("endpoint", s.req.Endpoint)
	}
	n := len(msg)
	if s.logPerCall > 0 {
		n = min(n, s.logPerCall-s.logUsed)
	}
	if n <= 0 {
		if !s.logCapped {
			s.logCapped = true
			logger.Warn("guest log over its cap; the rest of this call's output is dropped", "cap_bytes_per_call", s.logPerCall)
		}
		return
	}
	if s.logLimit != nil {
		granted, first := s.logLimit.take(n)
		if first {
			logger.Warn("guest log over the module's cap per second; output dropped until the second ends", "cap_bytes_per_second", s.logLimit.perSecond)
		}
		n = granted
		if n <= 0 {
			return
		}
	}
	s.logUsed += n
	if n < len(msg) {
		attrs = append(attrs, "truncated", true)
	}
	logger.Log(context.Background(), level, string(msg[:n]), attrs...)
}

// logState bounds the call's log output (guestlog.go): logPerCall, logUsed and logCapped per
// call, logLimit the module's budget per second.
type logState struct {
	logPerCall int
	logUsed    int
	logCapped  bool
	logLimit   *logLimiter
}

func (l *logState) reset() { l.logUsed, l.logCapped = 0, false }
