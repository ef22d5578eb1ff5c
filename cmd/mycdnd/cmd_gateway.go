package main

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/mycdn/mycdn/cmd/internal/cli"
	"github.com/mycdn/mycdn/internal/cache"
	"github.com/mycdn/mycdn/internal/fetch"
	"github.com/mycdn/mycdn/internal/gateway"
	"github.com/mycdn/mycdn/internal/opshttp"
	"github.com/mycdn/mycdn/internal/registryclient"
)

type gatewayOptions struct {
	listen        string
	registry      string
	domain        string
	metricsListen string
	tlsCert       string
	tlsKey        string
	cacheSize     byteSize
	cacheDir      string
	diskCacheSize byteSize
	bodyMemory    byteSize
	nameTTL       time.Duration
	logLevel      string
}

// memoryMargin is the heap the gateway is allowed beyond its caches and
// body memory before its garbage collector works harder (see runGateway):
// for the runtime, connections, metadata being read and opened, pooled
// buffers and garbage not yet collected. Its peak RSS stays within about
// cache + body memory + memoryMargin + 48 MiB (TestGatewayLoad).
const memoryMargin = 64 << 20

func newGatewayCmd() *cobra.Command {
	opts := gatewayOptions{cacheSize: 256 << 20, diskCacheSize: 1 << 30, bodyMemory: gateway.DefaultBodyMemory}
	c := &cobra.Command{
		Use:   "gateway --registry URL [--listen ADDR] [--domain D] [--tls-cert F --tls-key F]",
		Short: "Run the HTTP gateway that browsers and readers fetch content from",
		Long: `gateway serves content by reference over HTTP (see docs/gateway.md):

  http://<gateway>/<lookup>/<key>/<path>     path form
  http://<gateway>/<lookup>?key=<key>        a file, or a redirect to the path form
  http://<lookup>.<domain>/<path>?key=<key>  host form, with --domain (the key is then
                                             kept in a cookie for relative links)
  http://<gateway>/name/<name>/<path>        a name, resolved by the registry
  http://<name>.<domain>/<path>              the same, with --domain

It reads sealed metadata from the registry and shards from the stores that
metadata names, verifies every block before sending a byte of it, and keeps
verified blocks and opened metadata in a bounded memory cache (--cache-size)
and, with --cache-dir, sealed blocks on disk (--disk-cache-size). It speaks
HTTP/1.1 and h2c, or HTTPS with HTTP/2 given --tls-cert and --tls-key.

Sizes are bytes, or a number with B, KiB, MiB or GiB, such as 512MiB.`,
		Example: `  mycdnd gateway --registry http://127.0.0.1:8081
  mycdnd gateway --listen :443 --registry http://registry:8081 --domain cdn.example.com \
      --tls-cert /etc/mycdn/cert.pem --tls-key /etc/mycdn/key.pem --cache-dir /var/cache/mycdn \
      --metrics-listen 127.0.0.1:9082`,
		Args: cli.ExactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			return runGateway(c.Context(), opts, c.ErrOrStderr())
		},
	}
	f := c.Flags()
	f.StringVar(&opts.listen, "listen", "127.0.0.1:8080", "address of the HTTP port")
	f.StringVar(&opts.registry, "registry", "", "URL of the registry, http(s)://host[:port] (required)")
	f.StringVar(&opts.domain, "domain", "", "serve the host form <lookup>.<domain> (default: path forms only)")
	f.StringVar(&opts.metricsListen, "metrics-listen", "", "address for /metrics and /healthz (default: none)")
	f.StringVar(&opts.tlsCert, "tls-cert", "", "PEM certificate chain: serve HTTPS (with --tls-key)")
	f.StringVar(&opts.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	f.Var(&opts.cacheSize, "cache-size", "memory for verified blocks and opened metadata")
	f.StringVar(&opts.cacheDir, "cache-dir", "", "directory for a cache of sealed blocks (default: none)")
	f.Var(&opts.diskCacheSize, "disk-cache-size", "bytes of --cache-dir to use")
	f.Var(&opts.bodyMemory, "body-memory", "memory for blocks being fetched for responses, over all requests")
	f.DurationVar(&opts.nameTTL, "name-ttl", gateway.DefaultNameTTL, "how long a resolved name is kept, and responses through it may be cached")
	f.StringVar(&opts.logLevel, "log-level", "info", "debug, info, warn or error")
	return c
}

func runGateway(ctx context.Context, opts gatewayOptions, stderr io.Writer) error {
	log, err := cli.NewLogger(stderr, opts.logLevel)
	if err != nil {
		return err
	}
	metrics := opshttp.NewRegistry()
	svc, err := newGatewayService(ctx, opts, log, metrics)
	if err != nil {
		return err
	}
	return withMetrics(ctx, svc, opts.metricsListen, opshttp.Handler(metrics, nil), log)
}

// newGatewayService sets up the gateway's caches, store clients and server,
// and listens on opts.listen. metrics may be nil.
func newGatewayService(ctx context.Context, opts gatewayOptions, log *slog.Logger, metrics *prometheus.Registry) (svc *service, err error) {
	if opts.registry == "" {
		return nil, cli.Usagef("--registry is required (the URL of the registry, such as http://127.0.0.1:8081)")
	}
	if (opts.tlsCert == "") != (opts.tlsKey == "") {
		return nil, cli.Usagef("give both --tls-cert and --tls-key, or neither")
	}
	var tlsConfig *tls.Config
	if opts.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(opts.tlsCert, opts.tlsKey)
		if err != nil {
			return nil, cli.Usagef("TLS: %v", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	reg, err := registryclient.New(opts.registry, nil)
	if err != nil {
		return nil, cli.Usagef("--registry: %v", err)
	}
	var disk *cache.Dir
	if opts.cacheDir != "" {
		if disk, err = cache.OpenDir(opts.cacheDir, int64(opts.diskCacheSize)); err != nil {
			return nil, err
		}
	}
	caches := gateway.NewCaches(int64(opts.cacheSize), disk)
	stores := &fetch.Stores{Log: log}
	release := func() {
		stores.Close()
		caches.Close()
		reg.Close()
	}
	defer func() {
		if err != nil {
			release()
		}
	}()

	limit := debug.SetMemoryLimit(-1)
	if os.Getenv("GOMEMLIMIT") == "" {
		// The caches and body memory are the gateway's memory; keep the
		// garbage collector's slack within the margin rather than doubling it.
		limit = int64(opts.cacheSize) + int64(opts.bodyMemory) + memoryMargin
		debug.SetMemoryLimit(limit)
	}
	fo := fetch.Options{Registry: reg, Dial: stores.Dial, Cache: caches, MetadataCache: caches, Log: log}
	var m *gateway.Metrics
	if metrics != nil {
		m = gateway.NewMetrics(metrics, caches)
		fo.Registry, fo.Observe = m.Registry(reg), m.ObserveShardRead
	}
	srv, err := gateway.New(gateway.Options{
		Fetcher: fetch.New(fo), Domain: opts.domain, BodyMemory: int64(opts.bodyMemory), TLS: tlsConfig, Log: log, Metrics: m,
		Names: reg, NameTTL: opts.nameTTL,
	})
	if err != nil {
		return nil, cli.Usagef("%v", err)
	}
	ln, err := listen(ctx, "gateway", opts.listen)
	if err != nil {
		return nil, err
	}
	log.Info("gateway", "registry", opts.registry, "cache_size", int64(opts.cacheSize), "cache_dir", opts.cacheDir,
		"disk_cache_size", int64(opts.diskCacheSize), "body_memory", int64(opts.bodyMemory), "memory_limit", limit)
	return &service{ln: ln, serve: srv.Serve, close: func() error { release(); return nil }}, nil
}

// String, Set and Type make byteSize (shardconfig.go) a flag.
func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

// Set parses s as parseByteSize does.
func (b *byteSize) Set(s string) error {
	n, err := parseByteSize(s)
	*b = byteSize(n)
	return err
}

// Type names the flag's value in help.
func (b *byteSize) Type() string { return "size" }
