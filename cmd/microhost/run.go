package main

import (
	"context"
	"flag"
	"io"

	"github.com/microhost/microhost/host/config"
	"github.com/microhost/microhost/host/service"
)

func cmdRun(ctx context.Context, args []string, stderr io.Writer, getenv env) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var reg registryFlags
	reg.add(fs)
	serverAddress := fs.String("server-address", "", "listen address, host:port or host:min-max [$MICROHOST_SERVER_ADDRESS]")
	advertise := fs.String("server-advertise", "", "address to register when listening on all interfaces [$MICROHOST_SERVER_ADVERTISE]")
	pluginDir := fs.String("plugin-dir", "", "folder the modules are loaded from [$MICROHOST_PLUGIN_DIR]")
	cacheDir := fs.String("cache-dir", "", `compilation cache folder, or "off" [$MICROHOST_CACHE_DIR]`)
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	fs.Usage = func() {
		io.WriteString(stderr, "Usage: microhost run [flags] CONFIG.toml\n\nFlags:\n")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want exactly one config file, got %d arguments", len(pos))
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	cfg, err := config.Load(pos[0])
	if err != nil {
		return err
	}
	cfg.Override(getenv, map[string]string{
		"server_address":   *serverAddress,
		"server_advertise": *advertise,
		"registry":         reg.name,
		"registry_address": reg.address,
		"plugin_dir":       *pluginDir,
		"cache_dir":        *cacheDir,
	})
	if reg.mode != "" {
		cfg.Registry.Mode = reg.mode
	} else if m := getenv("MICROHOST_REGISTRY_MODE"); m != "" {
		cfg.Registry.Mode = m
	}
	if err := cfg.Finish(); err != nil {
		return err
	}
	r, err := openRegistry(ctx, cfg, getenv, logger)
	if err != nil {
		return err
	}
	defer r.Close(context.WithoutCancel(ctx))
	cat, err := stockCatalogue()
	if err != nil {
		return err
	}
	svc, err := service.New(ctx, cfg, service.Deps{Registry: r, Catalogue: cat, Logger: logger})
	if err != nil {
		return err
	}
	defer svc.Close(context.WithoutCancel(ctx))
	return svc.Run(ctx)
}
