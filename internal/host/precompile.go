package host

import (
	"context"
	"crypto/sha256"
	"os"
	"runtime"
	"sync"
)

// A service loads its modules one after another, each waiting on the one before: its
// registry, selector, broker, handlers, codecs and transport are provisioned in that order.
// Most of a load from the compilation cache is compiling — wazero decoding and validating
// the module and reading its code from the cache — which depends only on the module's bytes
// and two settings, not on anything provisioned before it. Precompile starts that part of the
// coming loads at once, on as many goroutines as there are processors; a load then takes the
// compiled code and only instantiates.

// precompiler holds the compilations Precompile started, by path and settings.
type precompiler struct {
	mu   sync.Mutex
	jobs map[preKey]*preJob
	// slots bounds the compilations running at once.
	slots chan struct{}
	wg    sync.WaitGroup
}

// preKey is what a load must match to take a precompiled module: the file, and the two
// settings compiled code depends on.
type preKey struct {
	path      string
	interrupt bool
	pages     uint32
}

// preJob is one background compilation. Its fields are set before done is closed.
type preJob struct {
	done chan struct{}
	// sum is the digest of the bytes compiled (with the interrupt bit), which the load's
	// bytes must have: the file may change in between.
	sum [sha256.Size]byte
	c   *compiled
	err error
}

// Precompile starts compiling the module at path in the background, with opts's deadline
// interrupts and memory limit, for a later Load or LoadBytes of the same file with the same
// two settings, which then takes the compiled code instead of compiling. A load that finds
// the file changed, or other settings, compiles as usual. Call DropPrecompiled once the
// loads are done, to release what no load took. A failure here is not reported: the load
// compiles again and reports it.
func (r *Runtime) Precompile(ctx context.Context, path string, opts ModuleOptions) {
	opts = opts.withDefaults()
	key := preKey{path: path, interrupt: opts.InterruptOnDeadline, pages: opts.MemoryLimitPages}
	p := &r.pre
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, dup := p.jobs[key]; dup {
		return
	}
	if p.jobs == nil {
		p.jobs = map[preKey]*preJob{}
		p.slots = make(chan struct{}, runtime.GOMAXPROCS(0))
	}
	job := &preJob{done: make(chan struct{})}
	p.jobs[key] = job
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(job.done)
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			job.err = ctx.Err()
			return
		}
		defer func() { <-p.slots }()
		wasm, err := os.ReadFile(path)
		if err != nil {
			job.err = err
			return
		}
		sum, _ := digestOf(wasm)
		job.sum = compileKey(sum, opts)
		if r.codes.holds(codeKeyOf(sum, opts)) {
			return // the load takes the compilation in use or kept
		}
		job.c, job.err = r.compile(ctx, wasm, job.sum, opts)
	}()
}

// takePrecompiled returns the precompiled code for a load of path whose bytes have digest
// sum (with the interrupt bit) under opts, waiting for it if it is still compiling; nil when
// there is none or it does not match. The code is the caller's from then on.
func (r *Runtime) takePrecompiled(ctx context.Context, path string, sum [sha256.Size]byte, opts ModuleOptions) (*compiled, error) {
	key := preKey{path: path, interrupt: opts.InterruptOnDeadline, pages: opts.MemoryLimitPages}
	p := &r.pre
	p.mu.Lock()
	job, ok := p.jobs[key]
	delete(p.jobs, key)
	p.mu.Unlock()
	if !ok {
		return nil, nil
	}
	select {
	case <-job.done:
	case <-ctx.Done():
		// The compilation is left to finish; DropPrecompiled cannot see it any more, so
		// release it when it does.
		go func() {
			<-job.done
			job.release(context.WithoutCancel(ctx))
		}()
		return nil, ctx.Err()
	}
	if job.err != nil || job.sum != sum {
		job.release(ctx)
		return nil, nil
	}
	return job.c, nil
}

// release closes the job's runtime, if it compiled.
func (j *preJob) release(ctx context.Context) {
	if j.c != nil {
		_ = j.c.rt.Close(ctx)
		j.c = nil
	}
}

// DropPrecompiled waits for the compilations Precompile started and releases those no load
// took.
func (r *Runtime) DropPrecompiled(ctx context.Context) {
	p := &r.pre
	p.wg.Wait()
	p.mu.Lock()
	jobs := p.jobs
	p.jobs = nil
	p.mu.Unlock()
	for _, job := range jobs {
		job.release(ctx)
	}
}
