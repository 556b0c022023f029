package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"strings"

	"github.com/microhost/microhost/host/config"
	"github.com/microhost/microhost/host/service"
	"github.com/microhost/microhost/ports"
)

// serviceFlags are the flags of the commands that read a service's config (run, validate):
// each overrides one setting of the file, as its environment variable does.
type serviceFlags struct {
	reg                                           registryFlags
	serverAddress, advertise, pluginDir, cacheDir *string
	logLevel, logFormat, adminAddress             *string
}

func (f *serviceFlags) add(fs *flag.FlagSet) {
	f.reg.add(fs)
	f.serverAddress = fs.String("server-address", "", "listen address, host:port or host:min-max [$MICROHOST_SERVER_ADDRESS]")
	f.advertise = fs.String("server-advertise", "", "address to register when listening on all interfaces [$MICROHOST_SERVER_ADVERTISE]")
	f.pluginDir = fs.String("plugin-dir", "", "folder the modules are loaded from [$MICROHOST_PLUGIN_DIR]")
	f.cacheDir = fs.String("cache-dir", "", `compilation cache folder, or "off" [$MICROHOST_CACHE_DIR]`)
	f.logLevel = fs.String("log-level", "info", "log level: debug, info, warn, error")
	f.logFormat = fs.String("log-format", "text", "log format: text (key=value) or json (one object per line)")
	f.adminAddress = fs.String("admin-address", "", `admin listener (health, metrics, pprof, admin page), host:port or host:min-max, or "off" [$MICROHOST_ADMIN_ADDRESS]`)
}

// load reads the config at path and applies the environment, then the flags (config.Override
// is the one place both are read), then the defaults.
func (f *serviceFlags) load(path string, getenv env) (*config.Config, error) {
	if *f.serverAddress != "" {
		// A bad flag is a usage error, like any other; the same value from the file or
		// the environment is a config error naming the key.
		if _, err := ports.Parse(*f.serverAddress); err != nil {
			return nil, usageError("--server-address: %s", strings.TrimPrefix(err.Error(), "ports: "))
		}
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	cfg.Override(getenv, map[string]string{
		"server_address":   *f.serverAddress,
		"server_advertise": *f.advertise,
		"registry":         f.reg.name,
		"registry_address": f.reg.address,
		"registry_mode":    f.reg.mode,
		"plugin_dir":       *f.pluginDir,
		"cache_dir":        *f.cacheDir,
		"admin_address":    *f.adminAddress,
	})
	if err := cfg.Finish(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// deps are what the command builds a service from besides its config: the stock catalogue.
func (f *serviceFlags) deps(logger *slog.Logger, getenv env) (service.Deps, error) {
	cat, err := stockCatalogue()
	if err != nil {
		return service.Deps{}, err
	}
	return service.Deps{Catalogue: cat, Logger: logger, Getenv: getenv}, nil
}

// parse parses a command's flags and its one argument, the config file, then reads the config
// (environment and flags applied) and builds the service's dependencies.
func (f *serviceFlags) parse(fs *flag.FlagSet, args []string, stderr io.Writer, getenv env) (string, *config.Config, service.Deps, error) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return "", nil, service.Deps{}, err
	}
	if len(pos) != 1 {
		return "", nil, service.Deps{}, usageError("want exactly one config file, got %s", arguments(len(pos)))
	}
	logger, err := newLogger(stderr, *f.logLevel, *f.logFormat)
	if err != nil {
		return "", nil, service.Deps{}, err
	}
	cfg, err := f.load(pos[0], getenv)
	if err != nil {
		return "", nil, service.Deps{}, err
	}
	deps, err := f.deps(logger, getenv)
	return pos[0], cfg, deps, err
}

func cmdRun(ctx context.Context, args []string, stderr io.Writer, getenv env) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f serviceFlags
	f.add(fs)
	var live liveFlags
	live.add(fs)
	fs.Usage = func() {
		io.WriteString(stderr, "Usage: microhost run [flags] CONFIG.toml\n\nFlags:\n")
		fs.PrintDefaults()
	}
	_, cfg, deps, err := f.parse(fs, args, stderr, getenv)
	if err != nil {
		return err
	}
	svc, err := service.New(ctx, cfg, deps)
	if err != nil {
		return err
	}
	defer svc.Close(context.WithoutCancel(ctx))
	releaseStartupGarbage()
	return serveLive(ctx, svc, deps.Logger, live)
}

// startupGarbage is how much provisioning must have allocated for releaseStartupGarbage to
// collect: below it, a collection costs more start-up time than the memory it returns.
const startupGarbage = 16 << 20

// releaseStartupGarbage collects the garbage provisioning left and returns it to the
// operating system before the service serves, rather than holding it until the heap grows
// enough for the collector to run. Loading a 7 MB Go module leaves some 25 MB behind: the
// file as read, wazero's scratch while it validates the code (a copy of its locals' state per
// block) and its decoding buffers. A service of native twins and a small module allocates too
// little to be worth the few milliseconds of a collection.
func releaseStartupGarbage() {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 && s[0].Value.Uint64() >= startupGarbage {
		debug.FreeOSMemory()
	}
}
