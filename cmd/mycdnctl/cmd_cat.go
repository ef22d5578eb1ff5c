package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/mycdn/mycdn/cmd/internal/cli"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/meta"
	"github.com/mycdn/mycdn/ref"
)

func newCatCmd() *cobra.Command {
	var opts readOptions
	c := &cobra.Command{
		Use:   "cat REF",
		Short: "Write a file to standard output",
		Long: `cat fetches the file that REF names and writes it to standard output. REF is
a holo:// reference or a gateway URL (whose path may lead into a directory).
Every block is verified before a byte of it is written.`,
		Example: `  mycdnctl cat --registry http://127.0.0.1:8081 'holo://<lookup>?key=<key>'
  mycdnctl cat 'http://127.0.0.1:8080/<lookup>/<key>/css/site.css' > site.css`,
		Args: cli.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return read(c, opts, args[0], func(r *reader, _ ref.Ref, m meta.Metadata) error {
				file, ok := m.(*meta.File)
				if !ok {
					return fmt.Errorf("%s is a directory: list it with ls, or fetch it with get", args[0])
				}
				_, err := r.copyFile(c.Context(), c.OutOrStdout(), file, opts.verifyAll, nil)
				return explain(err)
			})
		},
	}
	opts.flags(c, true)
	return c
}

// copyFile writes the verified content of file to w and returns its size.
// With verifyAll the whole file is also re-hashed as it is written and
// checked against its content hash at the end, so a mismatch is an error
// after the bytes. progress, when set, is told of the bytes written.
func (r *reader) copyFile(ctx context.Context, w io.Writer, file *meta.File, verifyAll bool, progress func(int64)) (int64, error) {
	rd, err := r.Open(ctx, file, 0, -1)
	if err != nil {
		return 0, err
	}
	defer rd.Close()
	var h *seal.Hasher
	if verifyAll {
		h = seal.NewHasher()
		w = io.MultiWriter(w, h)
	}
	if progress != nil {
		w = progressWriter{w, progress}
	}
	n, err := io.Copy(w, rd)
	if err != nil {
		return n, err
	}
	if h != nil && h.Sum() != file.ContentHash {
		return n, fmt.Errorf("file %q does not match its content hash %v", file.Name, file.ContentHash)
	}
	return n, nil
}

type progressWriter struct {
	w    io.Writer
	done func(int64)
}

func (p progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done(int64(n))
	return n, err
}
