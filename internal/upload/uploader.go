package upload

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/mycdn/mycdn/internal/block"
	"github.com/mycdn/mycdn/internal/mimetype"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/meta"
	"github.com/mycdn/mycdn/ref"
)

// ShardStore keeps the shards of one backend under their keys.
// *shardclient.Client implements it; it retries transient errors itself.
type ShardStore interface {
	// Holds reports whether the store holds exactly value under key.
	Holds(ctx context.Context, key, value []byte) (bool, error)
	Set(ctx context.Context, key, value []byte) error
}

// MetadataStore keeps sealed metadata under its lookup hash.
// *registryclient.Client implements it; it retries transient errors itself.
type MetadataStore interface {
	Put(ctx context.Context, lookup meta.Hash, sealed []byte) error
}

// Options configure an [Uploader].
type Options struct {
	// ChunkSize, K and Parallelism are as in [Layout].
	ChunkSize   int
	K           int
	Parallelism int
	// Shards lists where shard i of every block goes, as written in the
	// metadata: with credentials only when they are to be embedded.
	Shards []meta.ShardLocation
	// Stores[i] stores shard i.
	Stores []ShardStore
	// Registry stores the sealed metadata.
	Registry MetadataStore
	// RandomNonces draws chunk and metadata nonces at random, as the
	// reference does, instead of deriving them from the content: identical
	// content is no longer recognisable, and nothing is skipped as present.
	RandomNonces bool
	// MaxMetadataSize is the registry's limit on a sealed metadata blob;
	// zero means no limit. A file whose metadata would exceed it fails
	// before any shard is sent.
	MaxMetadataSize int64
	// KeyPrefix is copied into every reference's Prefix.
	KeyPrefix string
	// OnProgress, when set, is called with the plaintext size of every
	// block once its shards are stored, from several goroutines at once.
	OnProgress func(bytes int64)
	// Log receives warnings, such as skipped files. Nil discards them.
	Log *slog.Logger
}

// Kind is what an uploaded object is.
type Kind string

// Kinds of objects.
const (
	KindFile      Kind = "file"
	KindDirectory Kind = "directory"
)

// Object describes an uploaded file or directory.
type Object struct {
	// Path is the local path it was read from ("" for a reader).
	Path string
	Name string
	Kind Kind
	// Size is the file's size, or the total size of a directory's files.
	Size uint64
	// Ref opens the object.
	Ref ref.Ref
	// Blocks is the number of blocks of a file.
	Blocks int
	// BytesSent counts shard bytes sent to stores; ShardsSkipped counts
	// shards already held by their store, so not sent. Directories count
	// their entries' too.
	BytesSent     int64
	ShardsSkipped int
}

// Uploader uploads files and directory trees: shards to the stores, then
// metadata to the registry. It is safe for concurrent use.
type Uploader struct {
	opts   Options
	layout Layout
	log    *slog.Logger
}

// New checks opts and returns an Uploader.
func New(opts Options) (*Uploader, error) {
	l := Layout{ChunkSize: opts.ChunkSize, K: opts.K, Shards: opts.Shards, Parallelism: opts.Parallelism}
	if opts.RandomNonces {
		l.Nonces = block.RandomNonces
	}
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("upload: %w", err)
	}
	if len(opts.Stores) != len(opts.Shards) {
		return nil, fmt.Errorf("upload: %d stores for %d shard locations", len(opts.Stores), len(opts.Shards))
	}
	if opts.Registry == nil {
		return nil, errors.New("upload: no registry")
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Uploader{opts: opts, layout: l, log: log}, nil
}

// Path uploads the file or directory tree at path under name (the base name
// of path when empty). mime is the media type of a file; empty detects it.
// emit, when not nil, is called with every object once it is saved: each
// file, then the directory that holds it, the one at path last. Symbolic
// links and special files inside a tree are skipped with a warning.
func (u *Uploader) Path(ctx context.Context, path, name, mime string, emit func(Object)) (Object, error) {
	if name == "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return Object{}, fmt.Errorf("upload %s: %w", path, err)
		}
		name = filepath.Base(abs)
	}
	if emit == nil {
		emit = func(Object) {}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return Object{}, fmt.Errorf("upload: %w", err)
	}
	switch {
	case fi.Mode().IsRegular():
		return u.file(ctx, path, name, mime, emit)
	case fi.IsDir():
		return u.dir(ctx, path, name, emit)
	default:
		return Object{}, fmt.Errorf("upload %s: not a regular file or a directory", path)
	}
}

// Reader uploads one file read from r to its end. mime is its media type;
// empty detects it from name and the content.
func (u *Uploader) Reader(ctx context.Context, r io.Reader, name, mime string) (Object, error) {
	return u.reader(ctx, r, -1, name, mime)
}

func (u *Uploader) file(ctx context.Context, path, name, mime string, emit func(Object)) (Object, error) {
	f, err := os.Open(path)
	if err != nil {
		return Object{}, fmt.Errorf("upload: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Object{}, fmt.Errorf("upload: %w", err)
	}
	obj, err := u.reader(ctx, f, fi.Size(), name, mime)
	if err != nil {
		return Object{}, fmt.Errorf("upload %s: %w", path, err)
	}
	obj.Path = path
	emit(obj)
	return obj, nil
}

// reader uploads r, of size bytes when size >= 0.
func (u *Uploader) reader(ctx context.Context, r io.Reader, size int64, name, mime string) (Object, error) {
	if size >= 0 {
		if need := u.fileMetadataSize(size, name, mime); u.opts.MaxMetadataSize > 0 && need > u.opts.MaxMetadataSize {
			return Object{}, fmt.Errorf("metadata of %d bytes would exceed the registry's limit of %d bytes: use a larger --chunk-size or split the file", need, u.opts.MaxMetadataSize)
		}
	}
	if mime == "" {
		br := bufio.NewReaderSize(r, mimetype.SniffLen)
		head, err := br.Peek(mimetype.SniffLen)
		if err != nil && !errors.Is(err, io.EOF) {
			return Object{}, fmt.Errorf("read: %w", err)
		}
		mime, r = mimetype.Detect(name, head), br
	}
	var stats counters
	file, err := EncodeFile(ctx, r, name, &mime, u.layout, u.sink(&stats))
	if err != nil {
		return Object{}, err
	}
	rf, err := u.publish(ctx, file)
	if err != nil {
		return Object{}, err
	}
	var fileSize uint64
	if n := len(file.Blocks); n > 0 {
		fileSize = file.Blocks[n-1].EndOffset + 1
	}
	return Object{Name: name, Kind: KindFile, Size: fileSize, Ref: rf, Blocks: len(file.Blocks),
		BytesSent: stats.sent.Load(), ShardsSkipped: int(stats.skipped.Load())}, nil
}

// fileMetadataSize returns the size of the sealed metadata of a file of
// size bytes.
func (u *Uploader) fileMetadataSize(size int64, name, mime string) int64 {
	locs, _ := meta.AppendShardLocations(nil, u.opts.Shards) // Validate checked them
	chunk := int64(u.layout.chunkSize())
	blocks := (size + chunk - 1) / chunk
	const blockFixed = 2 + 8 + 8 + 16 + 16 + 12
	header := int64(len(meta.Magic)+1+4+16+8+len(name)+1+8+len(mime)+8) + seal.Overhead + int64(len(meta.Nonce{}))
	return header + blocks*(int64(len(locs))+blockFixed)
}

func (u *Uploader) dir(ctx context.Context, path, name string, emit func(Object)) (Object, error) {
	entries, err := os.ReadDir(path) // sorted by name, bytewise
	if err != nil {
		return Object{}, fmt.Errorf("upload: %w", err)
	}
	d := &meta.Directory{Name: name, Entries: []meta.Entry{}}
	obj := Object{Path: path, Name: name, Kind: KindDirectory}
	for _, e := range entries {
		p := filepath.Join(path, e.Name())
		if !utf8.ValidString(e.Name()) {
			u.log.Warn("skipping a file whose name is not UTF-8", "path", p)
			continue
		}
		var child Object
		switch t := e.Type(); {
		case t.IsRegular():
			child, err = u.file(ctx, p, e.Name(), "", emit)
		case t.IsDir():
			child, err = u.dir(ctx, p, e.Name(), emit)
		default:
			u.log.Warn("skipping what is not a regular file or directory", "path", p, "type", t.String())
			continue
		}
		if err != nil {
			return Object{}, err
		}
		d.Entries = append(d.Entries, meta.Entry{Lookup: child.Ref.Lookup, Key: &child.Ref.Key})
		obj.Size += child.Size
		obj.BytesSent += child.BytesSent
		obj.ShardsSkipped += child.ShardsSkipped
	}
	if obj.Ref, err = u.publish(ctx, d); err != nil {
		return Object{}, fmt.Errorf("upload %s: %w", path, err)
	}
	emit(obj)
	return obj, nil
}

// publish seals m and stores it in the registry.
func (u *Uploader) publish(ctx context.Context, m meta.Metadata) (ref.Ref, error) {
	blob, err := meta.Marshal(m)
	if err != nil {
		return ref.Ref{}, err
	}
	nonce := seal.MetadataNonce(blob)
	if u.opts.RandomNonces {
		nonce = seal.RandomNonce()
	}
	sealed, lookup, key := seal.SealMetadata(blob, nonce)
	if limit := u.opts.MaxMetadataSize; limit > 0 && int64(len(sealed)) > limit {
		return ref.Ref{}, fmt.Errorf("metadata of %d bytes exceeds the registry's limit of %d bytes", len(sealed), limit)
	}
	if err := u.opts.Registry.Put(ctx, lookup, sealed); err != nil {
		return ref.Ref{}, fmt.Errorf("store metadata %v: %w", lookup, err)
	}
	return ref.Ref{Lookup: lookup, Key: key, Prefix: u.opts.KeyPrefix}, nil
}

type counters struct {
	sent    atomic.Int64
	skipped atomic.Int64
}

// sink stores the n shards of a block in their n stores at once. With
// derived nonces, a shard its store already holds byte for byte is skipped.
func (u *Uploader) sink(stats *counters) Sink {
	return func(ctx context.Context, _ int, b *meta.Block, shards [][]byte) error {
		g, ctx := errgroup.WithContext(ctx)
		key := b.EncryptedHash[:]
		for i, shard := range shards {
			g.Go(func() error {
				store, loc := u.opts.Stores[i], &u.opts.Shards[i]
				if !u.opts.RandomNonces {
					held, err := store.Holds(ctx, key, shard)
					if err != nil {
						return fmt.Errorf("shard store %d (%v db %d): check shard %v: %w", i, loc.Host, loc.DB, b.EncryptedHash, err)
					}
					if held {
						stats.skipped.Add(1)
						return nil
					}
				}
				if err := store.Set(ctx, key, shard); err != nil {
					return fmt.Errorf("shard store %d (%v db %d): store shard %v: %w", i, loc.Host, loc.DB, b.EncryptedHash, err)
				}
				stats.sent.Add(int64(len(shard)))
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		if u.opts.OnProgress != nil {
			u.opts.OnProgress(int64(b.EndOffset - b.StartOffset + 1))
		}
		return nil
	}
}
