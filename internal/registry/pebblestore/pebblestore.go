// Package pebblestore is the registry's embedded [registry.Store]: blobs and
// names in a Pebble database in one directory, written with fsync, with no
// setup.
//
// Keys are a one-byte kind, then the record's own key: 'b' + the 16-byte
// lookup hash for a blob, whose value is the blob unchanged; 'n' + the name
// for a name, whose value is its [names.State] in JSON. A Pebble database is
// opened by one process at a time, so a lock in the process makes a name's
// compare and set atomic.
package pebblestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	"github.com/mycdn/mycdn/internal/names"
	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/meta"
)

// First bytes of keys: the kinds of records.
const (
	kindBlob = 'b'
	kindName = 'n'
)

// Options configure a Store. The zero value works.
type Options struct {
	// CacheSize is the size of the block cache in bytes (default 64 MiB).
	CacheSize int64
	// Log receives Pebble's messages: informational ones at debug level
	// (default: discarded).
	Log *slog.Logger
}

// Store is a [registry.Store] in a Pebble database. It is safe for
// concurrent use.
type Store struct {
	db *pebble.DB
	// locks make the existence check and the write of a Put atomic, so a
	// stored blob is never written again, and the nonce check and the write
	// of a SetName; a hash takes the lock of its first byte, a name that of
	// its CRC-32.
	locks [64]sync.Mutex
}

var _ registry.Store = (*Store)(nil)

// Open opens the store in dir, creating dir and the database if needed.
func Open(dir string, opts Options) (*Store, error) {
	if opts.CacheSize <= 0 {
		opts.CacheSize = 64 << 20
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pebblestore: %w", err)
	}
	po := &pebble.Options{
		CacheSize:          opts.CacheSize,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             logger{opts.Log},
	}
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(10) // cheap misses for Put's check
	po.EnsureDefaults()
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: open %s: %w", dir, err)
	}
	return &Store{db: db}, nil
}

func blobKey(h meta.Hash) []byte {
	k := make([]byte, 1+len(h))
	k[0] = kindBlob
	copy(k[1:], h[:])
	return k
}

// Put implements [registry.Store.Put].
func (s *Store) Put(ctx context.Context, hash meta.Hash, data []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebblestore: put %v: %w", hash, err)
	}
	key := blobKey(hash)
	mu := &s.locks[int(hash[0])%len(s.locks)]
	mu.Lock()
	defer mu.Unlock()
	_, closer, err := s.db.Get(key)
	switch {
	case err == nil:
		return closer.Close()
	case !errors.Is(err, pebble.ErrNotFound):
		return fmt.Errorf("pebblestore: put %v: %w", hash, err)
	}
	if err := s.db.Set(key, data, pebble.Sync); err != nil {
		return fmt.Errorf("pebblestore: put %v: %w", hash, err)
	}
	return nil
}

// Get implements [registry.Store.Get].
func (s *Store) Get(ctx context.Context, hash meta.Hash) ([]byte, error) {
	var out []byte
	err := s.get(ctx, hash, func(v []byte) { out = append([]byte(nil), v...) })
	if err != nil {
		return nil, fmt.Errorf("pebblestore: get %v: %w", hash, err)
	}
	return out, nil
}

// Stat implements [registry.Store.Stat].
func (s *Store) Stat(ctx context.Context, hash meta.Hash) (int64, error) {
	var n int64
	err := s.get(ctx, hash, func(v []byte) { n = int64(len(v)) })
	if err != nil {
		return 0, fmt.Errorf("pebblestore: stat %v: %w", hash, err)
	}
	return n, nil
}

// get calls f with the value of hash, which is valid only during the call.
func (s *Store) get(ctx context.Context, hash meta.Hash, f func([]byte)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v, closer, err := s.db.Get(blobKey(hash))
	if errors.Is(err, pebble.ErrNotFound) {
		return registry.ErrNotFound
	}
	if err != nil {
		return err
	}
	f(v)
	return closer.Close()
}

func nameKey(name string) []byte { return append([]byte{kindName}, name...) }

// GetName implements [registry.Store.GetName].
func (s *Store) GetName(ctx context.Context, name string) (names.State, error) {
	st, err := s.getName(ctx, name)
	if err != nil {
		return names.State{}, fmt.Errorf("pebblestore: get name %q: %w", name, err)
	}
	return st, nil
}

func (s *Store) getName(ctx context.Context, name string) (names.State, error) {
	var st names.State
	if err := ctx.Err(); err != nil {
		return st, err
	}
	v, closer, err := s.db.Get(nameKey(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return st, names.ErrNotFound
	}
	if err != nil {
		return st, err
	}
	defer closer.Close()
	if err := json.Unmarshal(v, &st); err != nil {
		return st, fmt.Errorf("stored state: %w", err)
	}
	return st, nil
}

// SetName implements [registry.Store.SetName].
func (s *Store) SetName(ctx context.Context, prev uint32, st names.State) error {
	if err := s.setName(ctx, prev, st); err != nil {
		return fmt.Errorf("pebblestore: set name %q: %w", st.Name, err)
	}
	return nil
}

func (s *Store) setName(ctx context.Context, prev uint32, st names.State) error {
	v, err := json.Marshal(st)
	if err != nil {
		return err
	}
	mu := &s.locks[crc32.ChecksumIEEE([]byte(st.Name))%uint32(len(s.locks))]
	mu.Lock()
	defer mu.Unlock()
	var have uint32
	switch cur, err := s.getName(ctx, st.Name); {
	case err == nil:
		have = cur.Nonce
	case !errors.Is(err, names.ErrNotFound):
		return err
	}
	if have != prev {
		return fmt.Errorf("%w: stored nonce %d, not %d", names.ErrConflict, have, prev)
	}
	return s.db.Set(nameKey(st.Name), v, pebble.Sync)
}

// Ping implements [registry.Store.Ping]; an open database can always serve.
func (s *Store) Ping(ctx context.Context) error { return ctx.Err() }

// Close implements [registry.Store.Close], flushing and closing the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("pebblestore: close: %w", err)
	}
	return nil
}

// logger passes Pebble's messages to slog.
type logger struct{ log *slog.Logger }

func (l logger) Infof(format string, args ...any) {
	l.log.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (l logger) Errorf(format string, args ...any) {
	l.log.Error("pebble: " + fmt.Sprintf(format, args...))
}

// Fatalf logs and exits, as Pebble expects of a Logger.
func (l logger) Fatalf(format string, args ...any) {
	l.log.Error("pebble: fatal: " + fmt.Sprintf(format, args...))
	os.Exit(1)
}
