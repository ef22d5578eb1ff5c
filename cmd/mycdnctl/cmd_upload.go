package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	neturl "net/url"
	"os"
	"path/filepath"
	"sync"

	"github.com/spf13/cobra"

	"github.com/mycdn/mycdn/cmd/internal/cli"
	"github.com/mycdn/mycdn/internal/config"
	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/internal/registryclient"
	"github.com/mycdn/mycdn/internal/shardclient"
	"github.com/mycdn/mycdn/internal/upload"
	"github.com/mycdn/mycdn/internal/xeddsa"
	"github.com/mycdn/mycdn/meta"
)

type uploadOptions struct {
	config          string
	name            string
	mime            string
	chunkSize       int
	parallel        int
	includePassword bool
	randomNonce     bool
	json            bool
}

func newUploadCmd() *cobra.Command {
	var opts uploadOptions
	c := &cobra.Command{
		Use:   "upload [flags] PATH...",
		Short: "Upload files and directory trees",
		Long: `upload stores each PATH, a file or a whole directory tree, in the mycdn
network of the configuration: every file is cut into chunks, each chunk is
sealed and erasure coded into one shard per backend, and the shards go to all
backends at once; then the metadata goes to the registry and the reference is
printed, one line per object (each file, then its directory):

  Object <name> saved. Ref: holo://<lookup>?key=<key>

followed by " URL: <gateway URL>" when [gateway] url is set. A reference is
printed only once everything it needs is stored.

Nonces are derived from the content, so uploading the same input again sends
nothing that the stores already hold, and an interrupted upload resumes where
it stopped. --random-nonce draws random nonces instead, as the reference tool
does, so that identical content cannot be recognised.`,
		Example: `  mycdnctl upload report.pdf
  mycdnctl upload --name site ./public
  mycdnctl upload --json --chunk-size 1048576 a.bin b.bin`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cli.Usagef("upload needs at least one PATH (see --help)")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			return runUpload(c.Context(), c, opts, args)
		},
	}
	f := c.Flags()
	f.StringVarP(&opts.config, "config", "c", config.DefaultClientPath(), "configuration file ($"+config.ClientPathEnv+")")
	f.StringVarP(&opts.name, "name", "n", "", "name of the uploaded object (default: the base name of PATH; one PATH only)")
	f.StringVarP(&opts.mime, "mime", "m", "", "media type of an uploaded file (default: by extension, else by content)")
	f.IntVar(&opts.chunkSize, "chunk-size", upload.DefaultChunkSize, "chunk size in bytes, 1048576 to 5242880")
	f.IntVar(&opts.parallel, "parallel", 4, "chunks in flight; memory grows with chunk size x parallel")
	f.BoolVar(&opts.includePassword, "include-password", false, "embed the backends' tokens in the metadata, for stores that need a login to read")
	f.BoolVar(&opts.randomNonce, "random-nonce", false, "random nonces: identical content is not recognisable, and nothing is skipped as present")
	f.BoolVar(&opts.json, "json", false, "print one JSON object per uploaded object (JSON Lines)")
	return c
}

// uploadLine is the JSON form of an uploaded object.
type uploadLine struct {
	Name          string `json:"name"`
	Kind          string `json:"kind"`
	Size          uint64 `json:"size"`
	Ref           string `json:"ref"`
	URL           string `json:"url,omitempty"`
	Blocks        int    `json:"blocks"`
	BytesSent     int64  `json:"bytes_sent"`
	ShardsSkipped int    `json:"shards_skipped"`
}

func runUpload(ctx context.Context, c *cobra.Command, opts uploadOptions, paths []string) error {
	if opts.name != "" && len(paths) > 1 {
		return cli.Usagef("--name names one object: give one PATH")
	}
	if opts.chunkSize < upload.MinChunkSize || opts.chunkSize > upload.MaxChunkSize {
		return cli.Usagef("--chunk-size %d: want %d to %d bytes (1-5 MiB)", opts.chunkSize, upload.MinChunkSize, upload.MaxChunkSize)
	}
	if opts.parallel < 1 {
		return cli.Usagef("--parallel %d: want at least 1", opts.parallel)
	}
	cfg, err := config.LoadClient(opts.config)
	if err != nil {
		return &cli.UsageError{Err: err}
	}
	if err := cfg.CheckUpload(); err != nil {
		return &cli.UsageError{Err: fmt.Errorf("config %s: %w", opts.config, err)}
	}
	var total int64
	for _, p := range paths {
		n, err := treeSize(p)
		if err != nil {
			return err
		}
		total += n
	}
	log := slog.New(slog.NewTextHandler(c.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))

	stores := make([]upload.ShardStore, len(cfg.Backends))
	locs := make([]meta.ShardLocation, len(cfg.Backends))
	for i := range cfg.Backends {
		b := &cfg.Backends[i]
		sc, err := shardclient.New(shardclient.Options{Addr: b.Addr().String(), DB: b.DB,
			Auth: backendAuth(b), PoolSize: opts.parallel + 1, Logger: log})
		if err != nil {
			return &cli.UsageError{Err: fmt.Errorf("backends[%d]: %w", i, err)}
		}
		defer sc.Close()
		stores[i] = sc
		locs[i] = meta.ShardLocation{Host: b.Addr(), DB: uint16(b.DB)}
		if opts.includePassword && b.Auth != nil && b.Auth.Type == "token" {
			locs[i].Auth = &meta.Auth{Token: b.Auth.Token}
		}
	}
	reg, err := newRegistryClient(cfg)
	if err != nil {
		return &cli.UsageError{Err: err}
	}
	defer reg.Close()
	maxMeta := int64(registry.DefaultMaxBlobSize)
	if info, err := reg.Info(ctx); err == nil {
		maxMeta = info.MaxBlobSize
	} else if !errors.Is(err, registry.ErrNotFound) { // the reference's registry has no /info
		return fmt.Errorf("registry %s: %w (is it running? check [metadata] url)", cfg.Metadata.URL, err)
	}

	progress := cli.NewProgress(stderrFile(c), total, "uploading")
	defer progress.Finish()
	up, err := upload.New(upload.Options{
		ChunkSize: opts.chunkSize, K: cfg.RequiredShards, Parallelism: opts.parallel,
		Shards: locs, Stores: stores, Registry: reg,
		RandomNonces: opts.randomNonce, MaxMetadataSize: maxMeta, KeyPrefix: cfg.Metadata.KeyPrefix,
		OnProgress: progress.Add, Log: log,
	})
	if err != nil {
		return &cli.UsageError{Err: err}
	}
	out := c.OutOrStdout()
	var mu sync.Mutex
	emit := func(o upload.Object) {
		mu.Lock()
		defer mu.Unlock()
		progress.Clear()
		printObject(out, cfg, opts.json, o)
	}
	for _, p := range paths {
		if _, err := up.Path(ctx, p, opts.name, opts.mime, emit); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("upload interrupted: %w; objects printed above are complete, run the same command again to finish the rest", err)
			}
			return fmt.Errorf("%w\nnothing was published for this object; once the store or registry named above is back, run the same command again: shards already stored are not sent twice", err)
		}
	}
	return nil
}

func printObject(w io.Writer, cfg *config.Client, asJSON bool, o upload.Object) {
	r := o.Ref
	url := ""
	if g := cfg.Gateway; g.URL != "" {
		r.Prefix = ""
		if g.Domain != "" {
			scheme := "http"
			if u, err := neturl.Parse(g.URL); err == nil {
				scheme = u.Scheme
			}
			url = r.HostURL(scheme, g.Domain)
		} else {
			url = r.PathURL(g.URL)
		}
	}
	if asJSON {
		line, _ := json.Marshal(uploadLine{Name: o.Name, Kind: string(o.Kind), Size: o.Size, Ref: o.Ref.String(), URL: url,
			Blocks: o.Blocks, BytesSent: o.BytesSent, ShardsSkipped: o.ShardsSkipped})
		fmt.Fprintf(w, "%s\n", line)
		return
	}
	fmt.Fprintf(w, "Object %s saved. Ref: %s", o.Name, o.Ref)
	if url != "" {
		fmt.Fprintf(w, " URL: %s", url)
	}
	fmt.Fprintln(w)
}

// stderrFile returns c's standard error when it is a file, for a progress
// bar; nil otherwise.
func stderrFile(c *cobra.Command) *os.File {
	f, _ := c.ErrOrStderr().(*os.File)
	return f
}

// treeSize returns the total size of the regular files under path.
func treeSize(path string) (int64, error) {
	var total int64
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() || p == path && !d.IsDir() {
			info, err := os.Stat(p)
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("upload: %w", err)
	}
	return total, nil
}

func backendAuth(b *config.Backend) shardclient.Auth {
	switch {
	case b.Auth == nil:
		return shardclient.Auth{}
	case b.Auth.Type == "token":
		return shardclient.Auth{Token: b.Auth.Token}
	}
	return shardclient.Auth{Key: b.PrivateKey()}
}

func newRegistryClient(cfg *config.Client) (*registryclient.Client, error) {
	opts := &registryclient.Options{Token: cfg.Metadata.Token}
	if sk := cfg.Metadata.WriterX25519SKHex; sk != "" {
		key, err := xeddsa.ParsePrivateKey(sk)
		if err != nil {
			return nil, fmt.Errorf("metadata.writer_x25519_sk_hex: %w", err)
		}
		opts.Key = &key
	}
	return registryclient.New(cfg.Metadata.URL, opts)
}
