// Package conformance holds one acceptance suite per component kind, which any
// implementation of the kind can be held to — the native twin of a stock plugin, or a module
// file in any language (`microhost inspect --conform FILE.wasm`), as testing/fstest.TestFS
// holds any fs.FS to the file-system contract. Each suite runs through the kind's interface
// in package component, so a module passes exactly when the host can use it in that kind's
// slot.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/wasmcomponent"
)

// Result is the outcome of one check.
type Result struct {
	// Check names what was checked, such as "decode refuses malformed JSON with a 400".
	Check string
	// Err says how it failed; nil when it passed.
	Err error
}

// Report is the outcome of a suite.
type Report struct {
	// Kind and Name are what was checked.
	Kind component.Kind
	Name string
	// Results lists every check in the order run.
	Results []Result
}

// Check records the outcome of one check.
func (r *Report) Check(name string, err error) {
	r.Results = append(r.Results, Result{Check: name, Err: err})
}

// Checkf records a failed check when ok is false, with a message made from format and args.
func (r *Report) Checkf(name string, ok bool, format string, args ...any) {
	var err error
	if !ok {
		err = fmt.Errorf(format, args...)
	}
	r.Check(name, err)
}

// Err returns nil when every check passed, else an error listing each failed check.
func (r *Report) Err() error {
	var lines []string
	for _, res := range r.Results {
		if res.Err != nil {
			lines = append(lines, fmt.Sprintf("%s: %v", res.Check, res.Err))
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return fmt.Errorf("%s %q fails %d of %d conformance checks:\n  %s", r.Kind, r.Name, len(lines), len(r.Results), strings.Join(lines, "\n  "))
}

// suite is one kind's acceptance suite.
type suite struct {
	// ops are the operations a module of the kind must serve.
	ops []string
	// wasm returns the kind's implementation over the module at path (declaring name),
	// loaded through l with whatever grants the kind's checks need, and what releases it.
	wasm func(ctx context.Context, l wasmcomponent.Loader, path, name string) (impl any, release func(context.Context) error, err error)
	// native returns the kind's implementation from a native twin, and what releases it.
	native func(ctx context.Context, t component.Twin) (impl any, release func(context.Context) error, err error)
	// check runs the checks against impl.
	check func(ctx context.Context, r *Report, impl any)
}

// suiteFor returns the suite of kind.
func suiteFor(kind component.Kind) (suite, bool) {
	switch kind {
	case component.KindCodec:
		return codecSuite(), true
	case component.KindSelector:
		return selectorSuite(), true
	case component.KindTransport:
		return transportSuite(), true
	case component.KindBroker:
		return brokerSuite(), true
	case component.KindRegistry:
		return registrySuite(), true
	}
	return suite{}, false
}

// ErrNoSuite is returned for a kind that has no conformance suite (handlers are checked by
// their own tests: their endpoints are theirs to define).
var ErrNoSuite = errors.New("no conformance suite for this kind")

// File runs the suite of the kind the module at path declares. The error is about running
// the suite (the file cannot be loaded, its kind has no suite); failed checks are in the
// report (see Report.Err).
func File(ctx context.Context, rt *host.Runtime, path string) (*Report, error) {
	info, err := rt.Inspect(ctx, path)
	if err != nil {
		return nil, err
	}
	if info.Refused != nil {
		return nil, info.Refused
	}
	return run(ctx, rt, path, *info.Descriptor)
}

// Loaded runs the suite of d's kind on wasm, the bytes of the module file at path, which
// declared d when the caller loaded them (a live swap's candidate). The suite loads those
// bytes, not the file again, so it checks exactly the module the caller holds, whatever the
// file holds by then; and while the caller's module is loaded, the suite's shares its
// compiled code. Errors are as File's.
func Loaded(ctx context.Context, rt *host.Runtime, path string, wasm []byte, d abi.Descriptor) (*Report, error) {
	return run(ctx, bytesLoader{rt: rt, wasm: wasm}, path, d)
}

// bytesLoader loads its bytes whatever file it is asked for.
type bytesLoader struct {
	rt   *host.Runtime
	wasm []byte
}

// Load loads l's bytes as the module at path.
func (l bytesLoader) Load(ctx context.Context, path string, opts host.ModuleOptions) (*host.Module, error) {
	return l.rt.LoadBytes(ctx, path, l.wasm, opts)
}

// run runs the suite of d's kind on the module at path, which declares d, loaded through l.
func run(ctx context.Context, l wasmcomponent.Loader, path string, d abi.Descriptor) (*Report, error) {
	kind := component.Kind(d.Kind)
	s, ok := suiteFor(kind)
	if !ok {
		return nil, fmt.Errorf("%s is a %s module: %w", path, d.Kind, ErrNoSuite)
	}
	r := &Report{Kind: kind, Name: d.Name}
	if err := wasmcomponent.Check(d, wasmcomponent.Spec{Kind: kind, Ops: s.ops}); err != nil {
		r.Check("descriptor lists the kind's operations", err)
		return r, nil
	}
	impl, release, err := s.wasm(ctx, l, path, d.Name)
	if err != nil {
		r.Check("loads", err)
		return r, nil
	}
	defer release(context.WithoutCancel(ctx))
	s.check(ctx, r, impl)
	return r, nil
}

// Twin runs the suite of t's kind against the native twin t.
func Twin(ctx context.Context, t component.Twin) (*Report, error) {
	s, ok := suiteFor(t.Kind)
	if !ok {
		return nil, fmt.Errorf("%s twin %q: %w", t.Kind, t.Name, ErrNoSuite)
	}
	impl, release, err := s.native(ctx, t)
	if err != nil {
		return nil, err
	}
	defer release(context.WithoutCancel(ctx))
	r := &Report{Kind: t.Kind, Name: t.Name}
	s.check(ctx, r, impl)
	return r, nil
}

// noRelease is a release function for an implementation that holds nothing.
func noRelease(context.Context) error { return nil }
