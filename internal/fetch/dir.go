package fetch

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/meta"
)

// ErrNoEntry means a path names no entry of a directory.
var ErrNoEntry = errors.New("no such entry")

// listParallel bounds the metadata reads of a directory listing.
const listParallel = 8

// Entry is a directory entry with its metadata, which holds its name.
type Entry struct {
	meta.Entry
	Metadata meta.Metadata
}

// Name returns the entry's name.
func (e *Entry) Name() string { return Name(e.Metadata) }

// Name returns the name of a file or directory.
func Name(m meta.Metadata) string {
	switch m := m.(type) {
	case *meta.File:
		return m.Name
	case *meta.Directory:
		return m.Name
	}
	return ""
}

// Entry reads the metadata of a directory entry: sealed when it has a key,
// else plain (then checked against its lookup hash only).
func (f *Fetcher) Entry(ctx context.Context, e meta.Entry) (meta.Metadata, error) {
	if e.Key != nil {
		return f.Metadata(ctx, e.Lookup, *e.Key)
	}
	blob, err := f.opts.Registry.Get(ctx, e.Lookup)
	if err != nil {
		return nil, fmt.Errorf("metadata %v: %w", e.Lookup, err)
	}
	if seal.Sum(blob) != e.Lookup {
		return nil, fmt.Errorf("metadata %v: %w", e.Lookup, seal.ErrLookupMismatch)
	}
	m, _, err := meta.Unmarshal(blob)
	if err != nil {
		return nil, fmt.Errorf("%w: %v: %w", ErrBadMetadata, e.Lookup, err)
	}
	return m, nil
}

// List reads the metadata of every entry of d, several at a time, and
// returns them in d's order.
func (f *Fetcher) List(ctx context.Context, d *meta.Directory) ([]Entry, error) {
	out := make([]Entry, len(d.Entries))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(listParallel)
	for i, e := range d.Entries {
		g.Go(func() error {
			m, err := f.Entry(ctx, e)
			if err != nil {
				return fmt.Errorf("directory %q entry %d: %w", d.Name, i, err)
			}
			out[i] = Entry{Entry: e, Metadata: m}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// Resolve follows path, slash-separated names, from m down through
// directories, and returns the metadata it names. An empty path, or one of
// only slashes, names m itself.
func (f *Fetcher) Resolve(ctx context.Context, m meta.Metadata, path string) (meta.Metadata, error) {
	for _, name := range strings.Split(path, "/") {
		if name == "" {
			continue
		}
		d, ok := m.(*meta.Directory)
		if !ok {
			return nil, fmt.Errorf("%q: %w: %q is a file", path, ErrNoEntry, Name(m))
		}
		entries, err := f.List(ctx, d)
		if err != nil {
			return nil, err
		}
		m = nil
		for _, e := range entries {
			if e.Name() == name {
				m = e.Metadata
				break
			}
		}
		if m == nil {
			return nil, fmt.Errorf("%q: %w %q in %q", path, ErrNoEntry, name, d.Name)
		}
	}
	return m, nil
}
