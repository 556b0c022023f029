package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/microhost/microhost/host/service"
)

// liveFlags are run's live-swap flags.
type liveFlags struct {
	watch   *bool
	pidFile *string
}

func (f *liveFlags) add(fs *flag.FlagSet) {
	f.watch = fs.Bool("watch", true, "swap a module live when its file changes (SIGHUP and `microhost reload` rescan either way)")
	f.pidFile = fs.String("pid-file", "", "write the process id to this file, for `microhost reload FILE`")
}

// serveLive runs svc until ctx is done, swapping its modules live: on a change of their
// files (unless --watch=false), and on SIGHUP, which rescans every module file.
func serveLive(ctx context.Context, svc *service.Service, logger *slog.Logger, f liveFlags) error {
	if *f.pidFile != "" {
		if err := os.WriteFile(*f.pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return fmt.Errorf("pid file: %w", err)
		}
		defer os.Remove(*f.pidFile)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				logger.Info("SIGHUP: rescanning the module files")
				_ = svc.Reload(ctx) // each refusal is logged
			}
		}
	}()
	if *f.watch {
		go func() {
			if err := svc.Watch(ctx); err != nil {
				logger.Error("watching module files failed; SIGHUP still rescans them", "err", err)
			}
		}()
	}
	return svc.Run(ctx)
}

// cmdReload asks a running `microhost run` to rescan its module files and swap in those that
// changed, by sending it SIGHUP.
func cmdReload(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("reload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		io.WriteString(stderr, "Usage: microhost reload PID-FILE|PID\n\nSends SIGHUP to the service started with `microhost run --pid-file PID-FILE` (or to PID):\nit rescans its module files and swaps in those that changed.\n")
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want a pid file or a process id, got %d arguments", len(pos))
	}
	text := pos[0]
	if _, err := strconv.Atoi(text); err != nil {
		b, err := os.ReadFile(pos[0])
		if err != nil {
			return fmt.Errorf("read pid file: %w", err)
		}
		text = strings.TrimSpace(string(b))
	}
	pid, err := strconv.Atoi(text)
	if err != nil || pid <= 0 {
		return fmt.Errorf("%s: not a process id: %q", pos[0], text)
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("no process %d: is the service running?", pid)
		}
		return fmt.Errorf("signal process %d: %w", pid, err)
	}
	return nil
}
