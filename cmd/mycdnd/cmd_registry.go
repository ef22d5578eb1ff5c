package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/mycdn/mycdn/cmd/internal/cli"
	"github.com/mycdn/mycdn/internal/config"
	"github.com/mycdn/mycdn/internal/opshttp"
	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/internal/registry/pebblestore"
	"github.com/mycdn/mycdn/internal/registry/pgstore"
	"github.com/mycdn/mycdn/internal/registryserver"
	"github.com/mycdn/mycdn/internal/xeddsa"
)

func newRegistryCmd() *cobra.Command {
	var cfgPath, logLevel string
	var open bool
	c := &cobra.Command{
		Use:   "registry --data DIR | --postgres URL",
		Short: "Run the metadata registry",
		Long: `registry serves sealed metadata blobs over HTTP (see docs/registry.md):
reads are public, writes need a bearer token or an XEdDSA signature by a
configured writer. Blobs live in an embedded store in --data DIR, or in
PostgreSQL (--postgres URL), which several registries can share.

Settings come from --config registry.toml; flags override it.`,
		Example: `  mycdnd registry --data /var/lib/mycdn/registry --config registry.toml
  mycdnd registry --postgres postgres://mycdn@db/mycdn --config registry.toml --metrics-listen 127.0.0.1:9081
  mycdnd registry --data ./registry --open   # development: anyone may write`,
		Args: cli.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			log, err := cli.NewLogger(c.ErrOrStderr(), logLevel)
			if err != nil {
				return err
			}
			cfg, err := registryConfig(c, cfgPath)
			if err != nil {
				return err
			}
			return runRegistry(c.Context(), cfg, open, log)
		},
	}
	f := c.Flags()
	f.StringVar(&cfgPath, "config", "", "registry.toml with tokens, writers and limits")
	f.String("listen", "127.0.0.1:8081", "address of the HTTP API")
	f.String("metrics-listen", "", "address of /metrics and /healthz (none when empty)")
	f.String("data", "", "directory of the embedded store")
	f.String("postgres", "", "PostgreSQL URL (libpq's PG* variables fill in what it leaves out)")
	f.BoolVar(&open, "open", false, "let anyone write, without credentials: for development only")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return c
}

// registryConfig loads the configuration file, if any, and applies the
// flags over it: a flag given wins, and --data or --postgres replaces the
// file's store.
func registryConfig(c *cobra.Command, path string) (*config.Registry, error) {
	cfg := &config.Registry{}
	if path != "" {
		var err error
		if cfg, err = config.LoadRegistry(path); err != nil {
			return nil, &cli.UsageError{Err: err}
		}
	}
	fl := c.Flags()
	for name, dst := range map[string]*string{
		"listen": &cfg.Listen, "metrics-listen": &cfg.MetricsListen, "data": &cfg.Data, "postgres": &cfg.Postgres,
	} {
		if fl.Changed(name) || *dst == "" {
			*dst, _ = fl.GetString(name)
		}
	}
	if fl.Changed("data") && !fl.Changed("postgres") {
		cfg.Postgres = ""
	}
	if fl.Changed("postgres") && !fl.Changed("data") {
		cfg.Data = ""
	}
	if err := cfg.Validate(); err != nil {
		return nil, &cli.UsageError{Err: err}
	}
	if (cfg.Data == "") == (cfg.Postgres == "") {
		return nil, cli.Usagef("give --data DIR for the embedded store or --postgres URL, one of them (see --help)")
	}
	return cfg, nil
}

// runRegistry opens the store and serves the API, and the metrics when
// asked, until ctx is done.
func runRegistry(ctx context.Context, cfg *config.Registry, open bool, log *slog.Logger) error {
	metrics := opshttp.NewRegistry()
	svc, store, err := newRegistryService(ctx, cfg, open, log, metrics)
	if err != nil {
		return err
	}
	return withMetrics(ctx, svc, cfg.MetricsListen, opshttp.Handler(metrics, store.Ping), log)
}

// newRegistryService opens the store of cfg and listens on cfg.Listen.
// metrics may be nil.
func newRegistryService(ctx context.Context, cfg *config.Registry, open bool, log *slog.Logger, metrics prometheus.Registerer) (*service, registry.Store, error) {
	writers := make([]xeddsa.PublicKey, len(cfg.Writers))
	for i, w := range cfg.Writers {
		var err error
		if writers[i], err = xeddsa.ParsePublicKey(w); err != nil {
			return nil, nil, cli.Usagef("writers[%d]: %v", i, err)
		}
	}
	opts := registryserver.Options{
		MaxBlobSize:       cfg.MaxBlobSize,
		Tokens:            cfg.Tokens,
		Writers:           writers,
		Open:              open,
		MaxInflightBytes:  cfg.MaxInflightBytes,
		StoreTimeout:      cfg.StoreTimeout,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		Log:               log,
		Metrics:           metrics,
	}
	if err := opts.Validate(); err != nil {
		return nil, nil, &cli.UsageError{Err: err}
	}
	store, err := openStore(ctx, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	srv, err := registryserver.New(store, opts)
	if err != nil {
		return nil, nil, errors.Join(err, store.Close())
	}
	ln, err := listen(ctx, "registry", cfg.Listen)
	if err != nil {
		return nil, nil, errors.Join(err, store.Close())
	}
	return &service{ln: ln, serve: srv.Serve, close: store.Close}, store, nil
}

// openStore opens PostgreSQL or the embedded store.
func openStore(ctx context.Context, cfg *config.Registry, log *slog.Logger) (registry.Store, error) {
	if cfg.Postgres != "" {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		s, err := pgstore.Open(ctx, cfg.Postgres)
		if err != nil {
			return nil, err
		}
		log.Info("store: postgresql")
		return s, nil
	}
	s, err := pebblestore.Open(cfg.Data, pebblestore.Options{Log: log})
	if err != nil {
		return nil, err
	}
	log.Info("store: embedded", "dir", cfg.Data)
	return s, nil
}
