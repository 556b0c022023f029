package component

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Choice is the outcome of Choose: which twin of a component runs, and why.
type Choice struct {
	Kind Kind
	Name string
	// Mode is ModeNative or ModeWasm: what runs.
	Mode Mode
	// Path is the module file (set when Mode is ModeWasm, and when a stock file was
	// recognised).
	Path string
	// Digest is the module file's SHA-256, when the file was read.
	Digest string
	// Twin is the native twin, when Mode is ModeNative.
	Twin Twin
	// Reason says why, for the log: "mode native", "stock build", "not the stock build", ...
	Reason string
}

// Choose decides how the component of kind named name runs, given the configured mode and
// the module file path (which need not exist):
//
//   - ModeNative: the native twin; an error when there is none.
//   - ModeWasm: the module at path; an error when the file does not exist.
//   - ModeAuto: the native twin when path does not exist or holds the stock build of that
//     twin (by digest); the module otherwise, or when there is no twin.
func (c *Catalogue) Choose(kind Kind, name string, mode Mode, path string) (Choice, error) {
	ch := Choice{Kind: kind, Name: name, Path: path}
	twin, hasTwin := c.Twin(kind, name)
	if mode == "" {
		mode = ModeAuto
	}
	switch mode {
	case ModeNative:
		if !hasTwin {
			return ch, fmt.Errorf("%s %q has no native twin (native twins: %s)", kind, name, namesOrNone(c.Names(kind)))
		}
		ch.Mode, ch.Twin, ch.Reason = ModeNative, twin, "mode native"
		return ch, nil
	case ModeWasm:
		if _, err := os.Stat(path); err != nil {
			return ch, fmt.Errorf("%s %q: mode is wasm but the module cannot be read: %w", kind, name, err)
		}
		ch.Mode, ch.Reason = ModeWasm, "mode wasm"
		return ch, nil
	case ModeAuto:
	default:
		return ch, fmt.Errorf("%s %q: unknown mode %q (known: auto, native, wasm)", kind, name, mode)
	}
	digest, err := c.digest(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !hasTwin {
			return ch, fmt.Errorf("%s %q: no module at %s and no native twin of that name (native twins: %s)", kind, name, path, namesOrNone(c.Names(kind)))
		}
		ch.Mode, ch.Twin, ch.Reason = ModeNative, twin, "no module file"
		return ch, nil
	case err != nil:
		return ch, fmt.Errorf("%s %q: %w", kind, name, err)
	}
	ch.Digest = digest
	switch {
	case hasTwin && c.IsStock(kind, name, digest):
		ch.Mode, ch.Twin, ch.Reason = ModeNative, twin, "the module file is the stock build"
	case hasTwin:
		ch.Mode, ch.Reason = ModeWasm, "the module file is not the stock build"
	default:
		ch.Mode, ch.Reason = ModeWasm, "no native twin of that name"
	}
	return ch, nil
}

func namesOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	out := names[0]
	for _, n := range names[1:] {
		out += ", " + n
	}
	return out
}

// LogArgs returns the choice as slog key-value pairs, so that every kind logs which twin runs
// and why in the same words: component=KIND name=NAME runs=native|wasm why=REASON.
func (c Choice) LogArgs() []any {
	args := []any{"component", string(c.Kind), "name", c.Name, "runs", string(c.Mode), "why", c.Reason}
	if c.Mode == ModeWasm {
		args = append(args, "path", c.Path)
	}
	return args
}
