package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"

	"github.com/mycdn/mycdn/cmd/internal/cli"
	"github.com/mycdn/mycdn/internal/fetch"
	"github.com/mycdn/mycdn/meta"
	"github.com/mycdn/mycdn/ref"
)

// redacted replaces embedded tokens in what stat prints.
const redacted = "<redacted>"

func newStatCmd() *cobra.Command {
	var opts readOptions
	var asJSON bool
	c := &cobra.Command{
		Use:   "stat REF",
		Short: "Show the metadata of a reference",
		Long: `stat fetches and opens the metadata that REF names and prints it: name, kind,
size, media type, content hash, blocks and the stores that hold their shards.
Embedded tokens are shown as "<redacted>". --json prints the reference, the
size and the metadata in its JSON form (see "mycdnctl meta").`,
		Args: cli.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return read(c, opts, args[0], func(r *reader, rf ref.Ref, m meta.Metadata) error {
				var size int64
				if f, ok := m.(*meta.File); ok {
					var err error
					if size, err = r.Size(c.Context(), f); err != nil {
						return err
					}
				}
				m = redact(m)
				if asJSON {
					return statJSON(c.OutOrStdout(), rf, size, m)
				}
				statText(c.OutOrStdout(), rf, size, m)
				return nil
			})
		},
	}
	opts.flags(c, false)
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// redact returns m with every embedded token replaced, leaving m as it was.
func redact(m meta.Metadata) meta.Metadata {
	f, ok := m.(*meta.File)
	if !ok {
		return m
	}
	out := *f
	out.Blocks = make([]meta.Block, len(f.Blocks))
	for i, b := range f.Blocks {
		b.Shards = append([]meta.ShardLocation(nil), b.Shards...)
		for j := range b.Shards {
			if b.Shards[j].Auth != nil {
				b.Shards[j].Auth = &meta.Auth{Token: redacted}
			}
		}
		out.Blocks[i] = b
	}
	return &out
}

func statJSON(w io.Writer, rf ref.Ref, size int64, m meta.Metadata) error {
	js, err := meta.JSON(m)
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(struct {
		Ref      string          `json:"ref"`
		Size     int64           `json:"size"`
		Metadata json.RawMessage `json:"metadata"`
	}{rf.String(), size, js}, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", out)
	return err
}

func statText(w io.Writer, rf ref.Ref, size int64, m meta.Metadata) {
	fmt.Fprintf(w, "name:     %s\n", fetch.Name(m))
	fmt.Fprintf(w, "ref:      %s\n", ref.Ref{Lookup: rf.Lookup, Key: rf.Key})
	switch m := m.(type) {
	case *meta.Directory:
		fmt.Fprintf(w, "kind:     directory\nentries:  %d\n", len(m.Entries))
	case *meta.File:
		mime := "-"
		if m.Mime != nil {
			mime = *m.Mime
		}
		fmt.Fprintf(w, "kind:     file\nsize:     %d bytes\nmime:     %s\ncontent:  %s\nblocks:   %d\n",
			size, mime, m.ContentHash, len(m.Blocks))
		if len(m.Blocks) == 0 {
			return
		}
		b := m.Blocks[0]
		fmt.Fprintf(w, "shards:   any %d of %d rebuild a block\nstores:\n", b.RequiredShards, len(b.Shards))
		for i, s := range b.Shards {
			auth := ""
			if s.Auth != nil {
				auth = " (token embedded)"
			}
			fmt.Fprintf(w, "  %d  %s db %d%s\n", i, s.Host, s.DB, auth)
		}
		if other := storesDiffer(m.Blocks); other {
			fmt.Fprintln(w, "          (some blocks use other stores)")
		}
	}
}

// storesDiffer reports whether the blocks do not all use the stores of the
// first.
func storesDiffer(blocks []meta.Block) bool {
	first := blocks[0].Shards
	for _, b := range blocks[1:] {
		if !slices.EqualFunc(b.Shards, first, func(x, y meta.ShardLocation) bool { return x.Host == y.Host && x.DB == y.DB }) {
			return true
		}
	}
	return false
}
