package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/microhost/microhost/host/service"
)

// cmdDev builds the handler project in a folder with its own make, serves it, and on every
// saved source file rebuilds it and swaps the new module into the running service. A failed
// build prints the compiler's errors and leaves the last good module serving.
func cmdDev(ctx context.Context, args []string, stderr io.Writer, getenv env) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f serviceFlags
	f.add(fs)
	fs.Usage = func() {
		io.WriteString(stderr, "Usage: microhost dev [flags] [DIR]\n\nBuilds the project in DIR (default .) with make, serves it with DIR/microhost.toml (or a\ndefault config serving DIR/NAME.wasm), and rebuilds and swaps it live on every save.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError("want at most one folder, got %d arguments", len(pos))
	}
	dir := "."
	if len(pos) == 1 {
		dir = pos[0]
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	logger, err := newLogger(stderr, *f.logLevel, *f.logFormat)
	if err != nil {
		return err
	}
	if err := build(ctx, dir, stderr); err != nil {
		return fmt.Errorf("first build: %w", err)
	}
	configPath, err := devConfig(dir)
	if err != nil {
		return err
	}
	cfg, err := f.load(configPath, getenv)
	if err != nil {
		return err
	}
	deps, err := f.deps(logger, getenv)
	if err != nil {
		return err
	}
	svc, err := service.New(ctx, cfg, deps)
	if err != nil {
		return err
	}
	defer svc.Close(context.WithoutCancel(ctx))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchErr := make(chan error, 1)
	go func() { watchErr <- rebuildOnSave(ctx, dir, svc, logger, stderr) }()
	noWatch, pidFile := false, ""
	err = serveLive(ctx, svc, logger, liveFlags{watch: &noWatch, pidFile: &pidFile})
	cancel()
	if werr := <-watchErr; err == nil {
		err = werr
	}
	return err
}

// build runs make in dir, its output to w.
func build(ctx context.Context, dir string, w io.Writer) error {
	cmd := exec.CommandContext(ctx, "make")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = w, w
	return cmd.Run()
}

// devConfig returns the project's microhost.toml, or writes a default one serving
// DIR/NAME.wasm (NAME the folder's name) into a temporary folder.
func devConfig(dir string) (string, error) {
	own := filepath.Join(dir, "microhost.toml")
	if _, err := os.Stat(own); err == nil {
		return own, nil
	}
	name := filepath.Base(dir)
	tmp, err := os.MkdirTemp("", "microhost-dev-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(tmp, "microhost.toml")
	text := fmt.Sprintf("[service]\nname = %q\n\n[[handler]]\npath = %q\n", name, filepath.Join(dir, name+".wasm"))
	return path, os.WriteFile(path, []byte(text), 0o644)
}

// skipDir reports folders whose files are build output or tools', not sources.
func skipDir(name string) bool {
	return strings.HasPrefix(name, ".") || name == "node_modules" || name == "target" || name == "build"
}

// source reports whether a changed file is one a save should rebuild for: not build output
// (.wasm and object files) and not an editor's temporary file.
func source(path string) bool {
	base := filepath.Base(path)
	switch {
	case strings.HasPrefix(base, "."), strings.HasSuffix(base, "~"), strings.HasPrefix(base, "#"):
		return false
	}
	switch filepath.Ext(base) {
	case ".wasm", ".o", ".tmp", ".swp":
		return false
	}
	return true
}

// rebuildOnSave watches the project's source folders; after a save (once files have been
// quiet for 200 ms) it runs make and, when the build succeeds, swaps the new module in.
func rebuildOnSave(ctx context.Context, dir string, svc *service.Service, logger *slog.Logger, out io.Writer) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	defer w.Close()
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return w.Add(p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	logger.Info("watching sources; save to rebuild and swap", "dir", dir)
	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if source(ev.Name) && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) != 0 {
				quiet.Reset(200 * time.Millisecond)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			logger.Warn("watching sources", "err", err)
		case <-quiet.C:
			logger.Info("rebuilding", "dir", dir)
			if err := build(ctx, dir, out); err != nil {
				if errors.Is(ctx.Err(), context.Canceled) {
					return nil
				}
				logger.Error("build failed; the last good module keeps serving", "dir", dir, "err", err)
				continue
			}
			_ = svc.Reload(ctx) // a refusal is logged
		}
	}
}
