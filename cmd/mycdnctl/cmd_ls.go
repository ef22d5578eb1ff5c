package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"

	"github.com/spf13/cobra"

	"github.com/mycdn/mycdn/cmd/internal/cli"
	"github.com/mycdn/mycdn/internal/fetch"
	"github.com/mycdn/mycdn/meta"
	"github.com/mycdn/mycdn/ref"
)

type lsOptions struct {
	readOptions
	recursive bool
	json      bool
}

// lsEntry is one line of ls.
type lsEntry struct {
	Path string `json:"path"`
	Name string `json:"name"`
	Kind string `json:"kind"`
	Size int64  `json:"size"`
	Ref  string `json:"ref,omitempty"`
}

func newLsCmd() *cobra.Command {
	var opts lsOptions
	c := &cobra.Command{
		Use:   "ls REF",
		Short: "List a directory",
		Long: `ls lists the entries of the directory that REF names: kind (d or f), size
in bytes and name; with -R the whole tree, by path. A file is listed alone.
--json prints one JSON object per entry (path, name, kind, size, ref).`,
		Args: cli.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return read(c, opts.readOptions, args[0], func(r *reader, rf ref.Ref, m meta.Metadata) error {
				if d, ok := m.(*meta.Directory); ok {
					return r.listDir(c.Context(), c.OutOrStdout(), opts, "", d)
				}
				return r.list(c.Context(), c.OutOrStdout(), opts, "", fetch.Entry{Entry: meta.Entry{Lookup: rf.Lookup, Key: &rf.Key}, Metadata: m})
			})
		},
	}
	opts.flags(c, false)
	c.Flags().BoolVarP(&opts.recursive, "recursive", "R", false, "list the whole tree")
	c.Flags().BoolVar(&opts.json, "json", false, "print one JSON object per entry")
	return c
}

func (r *reader) listDir(ctx context.Context, w io.Writer, opts lsOptions, prefix string, d *meta.Directory) error {
	entries, err := r.List(ctx, d)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := r.list(ctx, w, opts, prefix, e); err != nil {
			return err
		}
	}
	return nil
}

// list prints one entry, and with -R what a directory holds.
func (r *reader) list(ctx context.Context, w io.Writer, opts lsOptions, prefix string, e fetch.Entry) error {
	le := lsEntry{Name: e.Name(), Path: path.Join(prefix, e.Name()), Kind: "directory"}
	if e.Key != nil {
		le.Ref = ref.Ref{Lookup: e.Lookup, Key: *e.Key}.String()
	}
	file, isFile := e.Metadata.(*meta.File)
	if isFile {
		le.Kind = "file"
		var err error
		if le.Size, err = r.Size(ctx, file); err != nil {
			return err
		}
	}
	if opts.json {
		b, err := json.Marshal(le)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\n", b)
	} else if isFile {
		fmt.Fprintf(w, "f %12d  %s\n", le.Size, le.Path)
	} else {
		fmt.Fprintf(w, "d %12s  %s/\n", "-", le.Path)
	}
	if d, ok := e.Metadata.(*meta.Directory); ok && opts.recursive {
		return r.listDir(ctx, w, opts, le.Path, d)
	}
	return nil
}
