package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"

	"github.com/spf13/cobra"

	"github.com/mycdn/mycdn/cmd/internal/cli"
	"github.com/mycdn/mycdn/internal/config"
	"github.com/mycdn/mycdn/internal/fetch"
	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/internal/registryclient"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/internal/shardclient"
	"github.com/mycdn/mycdn/meta"
	"github.com/mycdn/mycdn/ref"
)

// readOptions are the flags of the commands that read content.
type readOptions struct {
	config    string
	registry  string
	verifyAll bool
}

func (o *readOptions) flags(c *cobra.Command, verify bool) {
	f := c.Flags()
	f.StringVarP(&o.config, "config", "c", config.DefaultClientPath(), "configuration file, for the registry URL and store credentials ($"+config.ClientPathEnv+")")
	f.StringVar(&o.registry, "registry", "", "registry URL, such as http://127.0.0.1:8081 (default: [metadata] url of the configuration)")
	if verify {
		f.BoolVar(&o.verifyAll, "verify-all", false, "also re-hash the plaintext against the content hashes of every block and of the file")
	}
}

// reader reads content by reference.
type reader struct {
	*fetch.Fetcher
	close func()
}

// newReader returns a reader for the registry of opts. The configuration
// is needed only when --registry is not given; when present, its stores'
// credentials are used for locations whose metadata carries none.
func newReader(c *cobra.Command, opts readOptions) (*reader, error) {
	cfg, err := config.LoadClient(opts.config)
	switch {
	case err == nil:
	case opts.registry != "" && errors.Is(err, fs.ErrNotExist):
		cfg = &config.Client{} // a reference and --registry are enough
	default:
		return nil, &cli.UsageError{Err: fmt.Errorf("%w (or give --registry)", err)}
	}
	url := opts.registry
	if url == "" {
		url = cfg.Metadata.URL
	}
	if url == "" {
		return nil, cli.Usagef("no registry: give --registry or set [metadata] url in %s", opts.config)
	}
	reg, err := registryclient.New(url, nil)
	if err != nil {
		return nil, &cli.UsageError{Err: err}
	}
	type store struct {
		addr netip.AddrPort
		db   uint16
	}
	creds := map[store]shardclient.Auth{}
	for i := range cfg.Backends {
		b := &cfg.Backends[i]
		creds[store{b.Addr(), uint16(b.DB)}] = backendAuth(b)
	}
	stores := &fetch.Stores{Auth: func(loc meta.ShardLocation) shardclient.Auth { return creds[store{loc.Host, loc.DB}] }}
	f := fetch.New(fetch.Options{
		Registry:      reg,
		VerifyContent: opts.verifyAll,
		Log:           slog.New(slog.NewTextHandler(c.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		Dial:          stores.Dial,
	})
	return &reader{Fetcher: f, close: func() {
		reg.Close()
		stores.Close()
	}}, nil
}

// read opens reference s with a reader for opts and calls f with what it
// names: the shared start of the commands that read.
func read(c *cobra.Command, opts readOptions, s string, f func(r *reader, rf ref.Ref, m meta.Metadata) error) error {
	r, err := newReader(c, opts)
	if err != nil {
		return err
	}
	defer r.close()
	rf, m, err := r.open(c.Context(), s)
	if err != nil {
		return err
	}
	return f(r, rf, m)
}

// open parses a reference and returns the metadata it names, following
// the path of a gateway URL into a directory.
func (r *reader) open(ctx context.Context, s string) (ref.Ref, meta.Metadata, error) {
	rf, err := ref.Parse(s)
	if err != nil {
		return rf, nil, &cli.UsageError{Err: err}
	}
	m, err := r.Metadata(ctx, rf.Lookup, rf.Key)
	if err != nil {
		return rf, nil, explain(err)
	}
	if m, err = r.Resolve(ctx, m, rf.Path); err != nil {
		return rf, nil, explain(err)
	}
	return rf, m, nil
}

// explain adds what to do next to the errors of reading.
func explain(err error) error {
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return fmt.Errorf("%w\nthe registry has no such reference: check the reference, and that --registry or [metadata] url is the registry it was uploaded to", err)
	case errors.Is(err, seal.ErrAuth), errors.Is(err, seal.ErrKeyMismatch):
		return fmt.Errorf("%w\nthe key= of the reference does not open its metadata: check that the reference was copied whole", err)
	case errors.Is(err, fetch.ErrUnavailable):
		return fmt.Errorf("%w\ntoo few shard stores answered: check that they are running and reachable, then try again", err)
	}
	return err
}
