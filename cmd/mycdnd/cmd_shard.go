package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/mycdn/mycdn/cmd/internal/cli"
	"github.com/mycdn/mycdn/internal/opshttp"
	"github.com/mycdn/mycdn/internal/shardserver"
	"github.com/mycdn/mycdn/internal/shardserver/store"
)

type shardOptions struct {
	listen        string
	data          string
	config        string
	metricsListen string
	logLevel      string
}

func newShardCmd() *cobra.Command {
	var opts shardOptions
	c := &cobra.Command{
		Use:   "shard --data DIR [--listen ADDR] [--config shard.toml] [--metrics-listen ADDR]",
		Short: "Run a shard store (Redis protocol, Hero Redis login)",
		Long: `shard runs a persistent shard store: a Redis-protocol server with the Hero
Redis login (CHALLENGE, TOKEN, AUTH) that keeps the shards of content in DIR.
A SET is acknowledged only once the value is on stable storage.

Without --config every database is public-rw and only clients on loopback
are accepted, for development. A shard.toml sets databases, their modes
(private, public-read, public-rw), admin keys, grants and limits; see
docs/shard.md.`,
		Example: `  mycdnd shard --data /var/lib/mycdn/shard
  mycdnd shard --listen [::]:6380 --data /srv/shard --config shard.toml --metrics-listen 127.0.0.1:9380`,
		Args: cli.ExactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			return runShard(c.Context(), opts, c.ErrOrStderr())
		},
	}
	f := c.Flags()
	f.StringVar(&opts.listen, "listen", "127.0.0.1:6380", "address of the Redis protocol port")
	f.StringVar(&opts.data, "data", "", "directory of the store (created if missing)")
	f.StringVar(&opts.config, "config", "", "shard.toml with databases, access and limits (default: development mode)")
	f.StringVar(&opts.metricsListen, "metrics-listen", "", "address for /metrics and /healthz (default: none)")
	f.StringVar(&opts.logLevel, "log-level", "info", "debug, info, warn or error")
	return c
}

func runShard(ctx context.Context, opts shardOptions, stderr io.Writer) error {
	log, err := cli.NewLogger(stderr, opts.logLevel)
	if err != nil {
		return err
	}
	if opts.data == "" {
		return cli.Usagef("--data is required")
	}
	so := shardserver.Options{Access: shardserver.DevAccess()}
	if opts.config != "" {
		if so, err = loadShardConfig(opts.config); err != nil {
			return cli.Usagef("config: %v", err)
		}
	}
	reg := opshttp.NewRegistry()
	so.Logger, so.Registerer = log, reg
	svc, srv, err := newShardService(ctx, opts.listen, opts.data, so)
	if err != nil {
		return err
	}
	return withMetrics(ctx, svc, opts.metricsListen, opshttp.Handler(reg, srv.Healthy), log)
}

// newShardService opens the store in data and listens on addr.
func newShardService(ctx context.Context, addr, data string, so shardserver.Options) (*service, *shardserver.Server, error) {
	st, err := store.Open(data, store.Options{Logger: so.Logger})
	if err != nil {
		return nil, nil, err
	}
	srv, err := shardserver.New(st, so)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	ln, err := listen(ctx, "shard store", addr)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return &service{ln: ln, serve: srv.Serve, close: st.Close}, srv, nil
}
