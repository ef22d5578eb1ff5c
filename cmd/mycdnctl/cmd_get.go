package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mycdn/mycdn/cmd/internal/cli"
	"github.com/mycdn/mycdn/internal/fetch"
	"github.com/mycdn/mycdn/meta"
	"github.com/mycdn/mycdn/ref"
)

type getOptions struct {
	readOptions
	output string
	force  bool
}

func newGetCmd() *cobra.Command {
	var opts getOptions
	c := &cobra.Command{
		Use:   "get REF [-o PATH]",
		Short: "Download a file or a whole directory tree",
		Long: `get fetches what REF names, a file or a directory tree, into PATH (default:
its own name, in the current directory). REF is a holo:// reference or a
gateway URL (whose path may lead into a directory).

Every file is written to a temporary name next to its target and renamed
into place only once all of it is verified, so a failed download leaves no
partial file behind. An existing target is kept unless --force is given.`,
		Example: `  mycdnctl get 'holo://<lookup>?key=<key>'
  mycdnctl get --registry http://127.0.0.1:8081 -o site 'holo://<lookup>?key=<key>'`,
		Args: cli.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runGet(c, opts, args[0])
		},
	}
	opts.flags(c, true)
	c.Flags().StringVarP(&opts.output, "output", "o", "", "where to write (default: the object's name)")
	c.Flags().BoolVar(&opts.force, "force", false, "overwrite existing files")
	return c
}

func runGet(c *cobra.Command, opts getOptions, s string) error {
	return read(c, opts.readOptions, s, func(r *reader, _ ref.Ref, m meta.Metadata) error {
		ctx := c.Context()
		target := opts.output
		if target == "" {
			var err error
			if target, err = entryName(fetch.Name(m)); err != nil {
				return err
			}
		}
		total, err := r.treeSize(ctx, m)
		if err != nil {
			return err
		}
		progress := cli.NewProgress(stderrFile(c), total, "downloading")
		defer progress.Finish()
		g := getter{reader: r, force: opts.force, verifyAll: opts.verifyAll, progress: progress.Add}
		if err := g.get(ctx, target, m); err != nil {
			return explain(err)
		}
		progress.Finish()
		fmt.Fprintf(c.ErrOrStderr(), "wrote %s (%d bytes)\n", target, total)
		return nil
	})
}

// entryName checks that a name from metadata is a plain file name, so that
// a directory cannot make get write outside its target.
func entryName(name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return "", fmt.Errorf("%w: %q is not a valid file name; refusing to write it", fetch.ErrBadMetadata, name)
	}
	return name, nil
}

// treeSize returns the size of a file, or of all files under a directory.
func (r *reader) treeSize(ctx context.Context, m meta.Metadata) (int64, error) {
	switch m := m.(type) {
	case *meta.File:
		return r.Size(ctx, m)
	case *meta.Directory:
		entries, err := r.List(ctx, m)
		if err != nil {
			return 0, err
		}
		var total int64
		for _, e := range entries {
			n, err := r.treeSize(ctx, e.Metadata)
			if err != nil {
				return 0, err
			}
			total += n
		}
		return total, nil
	}
	return 0, nil
}

type getter struct {
	*reader
	force, verifyAll bool
	progress         func(int64)
}

func (g *getter) get(ctx context.Context, target string, m meta.Metadata) error {
	switch m := m.(type) {
	case *meta.File:
		return g.file(ctx, target, m)
	case *meta.Directory:
		return g.dir(ctx, target, m)
	}
	return fmt.Errorf("%w: unknown metadata", fetch.ErrBadMetadata)
}

func (g *getter) dir(ctx context.Context, target string, d *meta.Directory) error {
	if fi, err := os.Stat(target); err == nil && (!g.force || !fi.IsDir()) {
		return fmt.Errorf("%s exists: choose another -o, or merge into it with --force", target)
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	entries, err := g.List(ctx, d)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name, err := entryName(e.Name())
		if err != nil {
			return fmt.Errorf("directory %q: %w", d.Name, err)
		}
		if err := g.get(ctx, filepath.Join(target, name), e.Metadata); err != nil {
			return err
		}
	}
	return nil
}

// file writes file to a temporary name next to target, and renames it to
// target once it is complete and verified.
func (g *getter) file(ctx context.Context, target string, file *meta.File) (err error) {
	if _, err := os.Lstat(target); err == nil && !g.force {
		return fmt.Errorf("%s exists: choose another -o, or overwrite it with --force", target)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".mycdn-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = g.copyFile(ctx, tmp, file, g.verifyAll, g.progress); err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), target)
}
