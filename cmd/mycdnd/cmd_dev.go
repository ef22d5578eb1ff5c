package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mycdn/mycdn/cmd/internal/cli"
	"github.com/mycdn/mycdn/internal/config"
	"github.com/mycdn/mycdn/internal/gateway"
	"github.com/mycdn/mycdn/internal/registryclient"
	"github.com/mycdn/mycdn/internal/shardclient"
	"github.com/mycdn/mycdn/internal/shardserver"
	"github.com/mycdn/mycdn/internal/upload"
	"github.com/mycdn/mycdn/meta"
)

type devOptions struct {
	data     string
	basePort int
	shards   int
	k        int
	publish  string
	logLevel string
}

// Ports of "mycdnd dev", from its base port P: the gateway on P, the
// registry on P+1, shard store i on P+10+i. They are recorded in metadata,
// so they stay the same across restarts.
const (
	devRegistryPort = 1
	devShardPort    = 10
)

func newDevCmd() *cobra.Command {
	opts := devOptions{basePort: 8080, shards: 5, k: 3}
	c := &cobra.Command{
		Use:   "dev [--data DIR] [--base-port P] [--publish PATH]",
		Short: "Run a whole mycdn network in one process, for development",
		Long: `dev runs a whole mycdn network on this machine, in one process, on loopback:
5 shard stores (any 3 of their 5 shards rebuild a block), the registry (open
to writes) and the gateway. Ports derive from --base-port P: the gateway on
P, the registry on P+1, shard store i on P+10+i. Data lives in --data DIR,
and DIR/config.toml is a ready configuration for mycdnctl.

Stop it with Ctrl-C; run it again on the same DIR and base port to serve
everything published before (metadata records the stores' addresses, so
keep the base port).

With --publish PATH it also uploads PATH, a file or a directory, and prints
its URL on the gateway.`,
		Example: `  mycdnd dev --publish ./docs
  mycdnd dev --data /tmp/mycdn --base-port 9000`,
		Args: cli.ExactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			return runDev(c.Context(), opts, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	f := c.Flags()
	f.StringVar(&opts.data, "data", defaultDevData(), "directory of the stores, the registry and config.toml")
	f.IntVar(&opts.basePort, "base-port", opts.basePort, "the gateway's port; the others follow it")
	f.IntVar(&opts.shards, "shards", opts.shards, "number of shard stores, n")
	f.IntVar(&opts.k, "required-shards", opts.k, "shards that rebuild a block, k")
	f.StringVar(&opts.publish, "publish", "", "upload this file or directory and print its URL")
	f.StringVar(&opts.logLevel, "log-level", "error", "debug, info, warn or error")
	return c
}

// defaultDevData is $XDG_DATA_HOME/mycdn/dev, or ~/.local/share/mycdn/dev.
func defaultDevData() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "mycdn", "dev")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "mycdn", "dev")
	}
	return "mycdn-dev"
}

func runDev(ctx context.Context, opts devOptions, stdout, stderr io.Writer) error {
	log, err := cli.NewLogger(stderr, opts.logLevel)
	if err != nil {
		return err
	}
	if opts.k < 1 || opts.k >= opts.shards || opts.shards > 64 {
		return cli.Usagef("--required-shards %d of --shards %d: want 1 <= k < n <= 64", opts.k, opts.shards)
	}
	if opts.basePort < 1 || opts.basePort+devShardPort+opts.shards > 65535 {
		return cli.Usagef("--base-port %d: the ports from it to %d must be valid", opts.basePort, opts.basePort+devShardPort+opts.shards)
	}
	if err := os.MkdirAll(opts.data, 0o700); err != nil {
		return err
	}
	addr := func(offset int) string { return fmt.Sprintf("127.0.0.1:%d", opts.basePort+offset) }
	registryURL, gatewayURL := "http://"+addr(devRegistryPort), "http://"+addr(0)

	var svcs []*service
	start := func(svc *service, err error) error {
		if err != nil {
			discard(svcs)
			return err
		}
		svcs = append(svcs, svc)
		return nil
	}
	locs := make([]meta.ShardLocation, opts.shards)
	for i := range locs {
		locs[i] = meta.ShardLocation{Host: netip.MustParseAddrPort(addr(devShardPort + i))}
		so := shardserver.Options{Access: shardserver.DevAccess(), Logger: log}
		svc, _, err := newShardService(ctx, addr(devShardPort+i), filepath.Join(opts.data, fmt.Sprintf("shard%d", i)), so)
		if err := start(svc, err); err != nil {
			return err
		}
	}
	rcfg := &config.Registry{Listen: addr(devRegistryPort), Data: filepath.Join(opts.data, "registry")}
	svc, _, err := newRegistryService(ctx, rcfg, true, log, nil)
	if err := start(svc, err); err != nil {
		return err
	}
	if err := start(newGatewayService(ctx, gatewayOptions{listen: addr(0), registry: registryURL,
		cacheSize: 64 << 20, bodyMemory: 64 << 20, nameTTL: gateway.DefaultNameTTL}, log, nil)); err != nil {
		return err
	}
	cfgPath := filepath.Join(opts.data, "config.toml")
	if err := os.WriteFile(cfgPath, devConfig(opts.k, registryURL, gatewayURL, locs), 0o600); err != nil {
		discard(svcs)
		return err
	}

	fmt.Fprintf(stdout, `mycdn development network
  gateway   %s
  registry  %s (open to writes)
  stores    %d shard stores on %s to %s; any %d of %d shards rebuild a block
  data      %s
  config    %s

Upload with:  go run ./cmd/mycdnctl upload --config %s PATH
and open the URL it prints. Ctrl-C stops the network; run it again on the
same data to serve everything published before.
`, gatewayURL, registryURL, opts.shards, locs[0].Host, locs[len(locs)-1].Host, opts.k, opts.shards,
		opts.data, cfgPath, cfgPath)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if opts.publish != "" {
		go func() {
			u, err := devPublish(ctx, opts, registryURL, gatewayURL, locs)
			if err != nil {
				cancel(fmt.Errorf("publish %s: %w", opts.publish, err))
				return
			}
			fmt.Fprintf(stdout, "\nPublished %s: %s\n", opts.publish, u)
		}()
	}
	err = runServices(ctx, svcs...)
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}

// devConfig is the mycdnctl configuration of a development network.
func devConfig(k int, registryURL, gatewayURL string, locs []meta.ShardLocation) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by \"mycdnd dev\" at each start: the network it runs.\nrequired_shards = %d\n\n", k)
	fmt.Fprintf(&b, "[metadata]\nkind = \"registry\"\nurl = %q\n\n[gateway]\nurl = %q\n", registryURL, gatewayURL)
	for _, l := range locs {
		fmt.Fprintf(&b, "\n[[backends]]\nkind = \"hero_redis\"\nhost = %q\ndb = 0\n", l.Host.String())
	}
	return []byte(b.String())
}

// devPublish uploads opts.publish to the network and returns its URL.
func devPublish(ctx context.Context, opts devOptions, registryURL, gatewayURL string, locs []meta.ShardLocation) (string, error) {
	reg, err := registryclient.New(registryURL, nil)
	if err != nil {
		return "", err
	}
	defer reg.Close()
	stores := make([]upload.ShardStore, len(locs))
	for i, l := range locs {
		c, err := shardclient.New(shardclient.Options{Addr: l.Host.String()})
		if err != nil {
			return "", err
		}
		defer c.Close()
		stores[i] = c
	}
	u, err := upload.New(upload.Options{K: opts.k, Shards: locs, Stores: stores, Registry: reg})
	if err != nil {
		return "", err
	}
	obj, err := u.Path(ctx, opts.publish, "", "", nil)
	if err != nil {
		return "", err
	}
	return obj.Ref.PathURL(gatewayURL), nil
}
