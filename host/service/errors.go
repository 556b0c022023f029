package service

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/ports"
)

// maxTruncationCheck bounds the size of a module file read again to tell whether it is
// truncated.
const maxTruncationCheck = 1 << 30

// moduleProblem returns err, a failure to load the module at path, as a problem of the
// config key that names the module, saying so when the file is a WebAssembly module cut
// short (an interrupted copy or build), which the compiler reports only as an EOF.
func (s *Service) moduleProblem(key, path string, err error) error {
	if info, serr := os.Stat(path); serr == nil && info.Mode().IsRegular() && info.Size() <= maxTruncationCheck {
		if b, rerr := os.ReadFile(path); rerr == nil && host.Truncated(b) {
			err = fmt.Errorf("%s is truncated (%d bytes, cut inside a section; build or copy it again): %w", path, len(b), err)
		}
	}
	return s.cfg.KeyError(key, err)
}

// handlerKey is the config key that names [[handler]] or [[subscriber]] i's module.
func handlerKey(table string, i int, module string) string {
	if module != "" {
		return fmt.Sprintf("%s[%d].module", table, i)
	}
	return fmt.Sprintf("%s[%d].path", table, i)
}

// codecProblem returns err, from loading the [codec] modules, as a problem of the key
// codec.modules, naming the module at fault when err names its file or name.
func (s *Service) codecProblem(err error) error {
	if strings.HasPrefix(err.Error(), "codec.") {
		return s.cfg.KeyError(strings.SplitN(err.Error(), " ", 2)[0], err) // codec.mode, codec.types: the key is named already
	}
	for i, name := range s.cfg.Codec.Modules {
		path := s.cfg.CodecPath(name)
		if strings.Contains(err.Error(), path) || strings.Contains(err.Error(), fmt.Sprintf("%q", name)) {
			return s.moduleProblem(fmt.Sprintf("codec.modules[%d] %q", i, name), path, err)
		}
	}
	return s.cfg.KeyError("codec.modules", err)
}

// listenProblem returns err, from listening on server.address, as a problem of that key:
// a single port in use is named as such, not as an exhausted range.
func (s *Service) listenProblem(err error) error {
	addr := s.cfg.Server.Address
	r, perr := ports.Parse(addr)
	switch {
	case perr != nil:
	case errors.Is(err, syscall.EADDRINUSE) && r.Min == r.Max:
		wider := ports.Range{Host: r.Host, Min: r.Min, Max: min(r.Max+10, 65535)}
		err = fmt.Errorf("port %d is in use (choose another port, or a range such as %s): %w", r.Min, wider, syscall.EADDRINUSE)
	case errors.Is(err, ports.ErrExhausted):
		err = fmt.Errorf("every port of %s is in use or not permitted: %w", addr, err)
	}
	return s.cfg.KeyError("server.address", err)
}
