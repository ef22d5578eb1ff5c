package store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/zeebo/blake3"

	"github.com/mycdn/mycdn/internal/shardproto"
)

// DefaultInlineMax is the default largest value kept inside the index
// rather than in a file of its own.
const DefaultInlineMax = 64 << 10

// ErrNotFound reports a key that holds no value (or whose value expired).
var ErrNotFound = errors.New("no such key")

// Options configure a [Store]. The zero value works.
type Options struct {
	// FS is the filesystem; nil means the operating system's. Tests pass a
	// crashable in-memory one.
	FS vfs.FS
	// InlineMax is the largest value kept in the index; larger values get a
	// file. Default [DefaultInlineMax].
	InlineMax int
	// Logger gets the store's warnings; nil discards them.
	Logger *slog.Logger
}

// Store is a durable map from (database, key) to values, with expiry and
// the server's access bookkeeping. It is safe for concurrent use.
type Store struct {
	fs        vfs.FS
	dir       string
	db        *pebble.DB
	inlineMax int
	log       *slog.Logger
	nextID    atomic.Uint64
	locks     [256]sync.Mutex // writers of one key hold locks[stripe(db, key)]
}

// Open opens or creates the store in dir and removes blob files that no
// record owns (left by a crash in the middle of a write).
func Open(dir string, opts Options) (*Store, error) {
	s := &Store{fs: opts.FS, dir: dir, inlineMax: opts.InlineMax, log: opts.Logger}
	if s.fs == nil {
		s.fs = vfs.Default
	}
	if s.inlineMax <= 0 {
		s.inlineMax = DefaultInlineMax
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if err := s.makeDirs(); err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	db, err := pebble.Open(s.fs.PathJoin(dir, "index"), &pebble.Options{
		FS:     s.fs,
		Logger: pebbleLogger{s.log},
	})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	s.db = db
	if err := s.removeOrphans(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	return s, nil
}

// Close closes the store. Values being read must be closed first.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", s.dir, err)
	}
	return nil
}

// Check reports whether the store can serve reads; /healthz uses it.
func (s *Store) Check() error {
	_, closer, err := s.db.Get([]byte{'s'})
	if err == nil {
		return closer.Close()
	}
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	return fmt.Errorf("store %s: %w", s.dir, err)
}

// PutOptions qualify a [Store.Put].
type PutOptions struct {
	Expiry    time.Time // zero: never expires
	IfAbsent  bool      // store only if the key holds no value (SET NX)
	IfPresent bool      // store only if the key holds a value (SET XX)
}

// Put stores value under key in database db and returns once it is on
// stable storage. It reports false, storing nothing, when IfAbsent or
// IfPresent does not hold. The store does not keep value, but the bytes of
// value are undefined once Put returns: the filesystem layer may scribble on
// buffers it writes (Pebble's in-memory one does in race builds).
func (s *Store) Put(db uint16, key, value []byte, opts PutOptions) (bool, error) {
	if err := shardproto.CheckKey(key); err != nil {
		return false, err
	}
	r := record{Info: Info{Size: int64(len(value)), Digest: blake3.Sum256(value), Expiry: opts.Expiry}}
	if len(value) <= s.inlineMax {
		r.inline = value
	} else {
		r.file = s.nextID.Add(1)
		if err := s.writeBlob(r.file, value); err != nil {
			return false, fmt.Errorf("put %x: %w", key, err)
		}
	}
	ok, old, err := s.commit(db, key, &r, opts)
	if err != nil || !ok {
		if r.file != 0 {
			s.removeBlob(r.file)
		}
		if err != nil {
			return false, fmt.Errorf("put %x: %w", key, err)
		}
		return false, nil
	}
	if old != 0 {
		s.removeBlob(old)
	}
	return true, nil
}

// commit points key at r in one synced batch and returns the blob file id
// the key held before (0 if none), which the caller removes.
func (s *Store) commit(db uint16, key []byte, r *record, opts PutOptions) (ok bool, old uint64, err error) {
	k := recordKey(db, key)
	mu := s.lock(db, key)
	mu.Lock()
	defer mu.Unlock()
	prev, found, err := s.lookup(k)
	if err != nil {
		return false, 0, err
	}
	live := found && !prev.expired(time.Now())
	if (opts.IfAbsent && live) || (opts.IfPresent && !live) {
		return false, 0, nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Set(k, appendRecord(nil, r), nil); err != nil {
		return false, 0, err
	}
	if r.file != 0 {
		if err := b.Set(fileKey(r.file), k[1:], nil); err != nil {
			return false, 0, err
		}
	}
	if found && !prev.isInline() {
		old = prev.file
		if err := b.Delete(fileKey(old), nil); err != nil {
			return false, 0, err
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return false, 0, err
	}
	return true, old, nil
}

// Delete removes key from database db and reports whether it held a live
// value.
func (s *Store) Delete(db uint16, key []byte) (bool, error) {
	return s.delete(db, key, false)
}

// delete removes key; with onlyExpired it removes it only if it expired.
func (s *Store) delete(db uint16, key []byte, onlyExpired bool) (bool, error) {
	k := recordKey(db, key)
	mu := s.lock(db, key)
	mu.Lock()
	prev, found, err := s.lookup(k)
	if err != nil || !found {
		mu.Unlock()
		return false, err
	}
	expired := prev.expired(time.Now())
	if onlyExpired && !expired {
		mu.Unlock()
		return false, nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	err = b.Delete(k, nil)
	if err == nil && !prev.isInline() {
		err = b.Delete(fileKey(prev.file), nil)
	}
	if err == nil {
		err = b.Commit(pebble.Sync)
	}
	mu.Unlock()
	if err != nil {
		return false, fmt.Errorf("delete %x: %w", key, err)
	}
	if !prev.isInline() {
		s.removeBlob(prev.file)
	}
	return !expired, nil
}

// Stat returns the info of the value under key, or [ErrNotFound].
func (s *Store) Stat(db uint16, key []byte) (Info, error) {
	r, found, err := s.lookup(recordKey(db, key))
	if err != nil {
		return Info{}, fmt.Errorf("stat %x: %w", key, err)
	}
	if !found || r.expired(time.Now()) {
		return Info{}, ErrNotFound
	}
	return r.Info, nil
}

// Get returns the value under key, or [ErrNotFound]. The caller must close
// the value.
func (s *Store) Get(db uint16, key []byte) (*Value, error) {
	k := recordKey(db, key)
	// A concurrent Put may remove the file between reading the record and
	// opening the file; the record read after that names the new one.
	var missing uint64
	for range 8 {
		raw, closer, err := s.db.Get(k)
		if errors.Is(err, pebble.ErrNotFound) {
			return nil, ErrNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("get %x: %w", key, err)
		}
		r, err := decodeRecord(raw)
		if err != nil {
			closer.Close()
			return nil, fmt.Errorf("get %x: %w", key, err)
		}
		if r.expired(time.Now()) {
			closer.Close()
			return nil, ErrNotFound
		}
		if r.isInline() {
			return &Value{Info: r.Info, inline: r.inline, closer: closer}, nil
		}
		closer.Close()
		f, err := s.fs.Open(s.blobPath(r.file))
		if err != nil {
			if isNotExist(err) && missing != r.file {
				missing = r.file
				continue
			}
			if isNotExist(err) {
				err = fmt.Errorf("%w: blob %016x is missing", ErrCorrupt, r.file)
			}
			return nil, fmt.Errorf("get %x: %w", key, err)
		}
		st, err := f.Stat()
		if err == nil && st.Size() != r.Size {
			err = fmt.Errorf("%w: blob %016x holds %d bytes, record says %d", ErrCorrupt, r.file, st.Size(), r.Size)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("get %x: %w", key, err)
		}
		return &Value{Info: r.Info, file: f}, nil
	}
	return nil, fmt.Errorf("get %x: value keeps changing under a reader", key)
}

// Value is a stored value being read. It is not safe for concurrent use.
type Value struct {
	Info
	inline []byte
	closer io.Closer
	file   vfs.File
}

// WriteTo writes the whole value to w. From a file to a TCP connection it
// uses sendfile where the operating system has it.
func (v *Value) WriteTo(w io.Writer) (int64, error) {
	if v.file == nil {
		n, err := w.Write(v.inline)
		return int64(n), err
	}
	if wt, ok := v.file.(io.WriterTo); ok {
		return wt.WriteTo(w)
	}
	return io.Copy(w, io.NewSectionReader(v.file, 0, v.Size))
}

// AppendTo appends the whole value to dst.
func (v *Value) AppendTo(dst []byte) ([]byte, error) {
	if v.file == nil {
		return append(dst, v.inline...), nil
	}
	dst = grow(dst, int(v.Size))
	n, err := v.file.ReadAt(dst[len(dst):len(dst)+int(v.Size)], 0)
	if n == int(v.Size) {
		err = nil
	}
	return dst[:len(dst)+n], err
}

// Close releases the value.
func (v *Value) Close() error {
	if v.file != nil {
		return v.file.Close()
	}
	return v.closer.Close()
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), len(b)+n)
		copy(nb, b)
		return nb
	}
	return b
}

// Scan calls fn for the live keys of database db in key order, starting
// after the key after (nil: from the start), until fn returns false. The key
// passed to fn is only valid during the call.
func (s *Store) Scan(db uint16, after []byte, fn func(key []byte, info Info) bool) error {
	prefix := recordKey(db, nil)
	lower := prefix
	if after != nil {
		lower = append(recordKey(db, after), 0)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("scan database %d: %w", db, err)
	}
	defer it.Close()
	now := time.Now()
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("scan database %d: %w", db, err)
		}
		r, err := decodeRecord(v)
		if err != nil {
			return fmt.Errorf("scan database %d, key %x: %w", db, it.Key()[len(prefix):], err)
		}
		if r.expired(now) {
			continue
		}
		if !fn(it.Key()[len(prefix):], r.Info) {
			break
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("scan database %d: %w", db, err)
	}
	return nil
}

// Sweep deletes the values that have expired and returns how many it
// deleted. Reads never return expired values; Sweep reclaims their space.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	type dbKey struct {
		db  uint16
		key []byte
	}
	var expired []dbKey
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{'k'}, UpperBound: []byte{'k' + 1}})
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	now := time.Now()
	for ok := it.First(); ok && ctx.Err() == nil; ok = it.Next() {
		r, err := decodeRecord(it.Value())
		if err != nil || !r.expired(now) || len(it.Key()) < 3 {
			continue
		}
		k := it.Key()
		expired = append(expired, dbKey{binary.BigEndian.Uint16(k[1:3]), bytes.Clone(k[3:])})
	}
	if err := it.Close(); err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	n := 0
	for _, e := range expired {
		if ctx.Err() != nil {
			break
		}
		if _, err := s.delete(e.db, e.key, true); err != nil {
			return n, fmt.Errorf("sweep: %w", err)
		}
		n++
	}
	return n, nil
}

// Databases returns the databases made with [Store.PutDatabase].
func (s *Store) Databases() (map[uint16]shardproto.Mode, error) {
	out := map[uint16]shardproto.Mode{}
	err := s.each('d', func(k, v []byte) error {
		if len(k) != 2 || len(v) != 1 {
			return fmt.Errorf("%w: database entry %x", ErrCorrupt, k)
		}
		out[binary.BigEndian.Uint16(k)] = shardproto.Mode(v[0])
		return nil
	})
	return out, err
}

// PutDatabase durably records database db with mode m.
func (s *Store) PutDatabase(db uint16, m shardproto.Mode) error {
	return s.db.Set(binary.BigEndian.AppendUint16([]byte{'d'}, db), []byte{byte(m)}, pebble.Sync)
}

// Grant is a right of a public key in a database.
type Grant struct {
	DB    uint16
	User  ed25519.PublicKey
	Right shardproto.Right
}

// Grants returns the grants made with [Store.PutGrant].
func (s *Store) Grants() ([]Grant, error) {
	var out []Grant
	err := s.each('g', func(k, v []byte) error {
		if len(k) != 2+ed25519.PublicKeySize || len(v) != 1 {
			return fmt.Errorf("%w: grant entry %x", ErrCorrupt, k)
		}
		out = append(out, Grant{binary.BigEndian.Uint16(k), bytes.Clone(k[2:]), shardproto.Right(v[0])})
		return nil
	})
	return out, err
}

// PutGrant durably records g, replacing the key's previous right in g.DB.
func (s *Store) PutGrant(g Grant) error {
	return s.db.Set(grantKey(g.DB, g.User), []byte{byte(g.Right)}, pebble.Sync)
}

// DeleteGrant durably removes the grant of user in db.
func (s *Store) DeleteGrant(db uint16, user ed25519.PublicKey) error {
	return s.db.Delete(grantKey(db, user), pebble.Sync)
}

// Secret returns the secret called name, creating it with size random bytes
// the first time.
func (s *Store) Secret(name string, size int) ([]byte, error) {
	k := append([]byte{'s'}, name...)
	v, closer, err := s.db.Get(k)
	if err == nil {
		defer closer.Close()
		if len(v) != size {
			return nil, fmt.Errorf("%w: secret %s is %d bytes, want %d", ErrCorrupt, name, len(v), size)
		}
		return bytes.Clone(v), nil
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	secret := make([]byte, size)
	_, _ = rand.Read(secret)
	if err := s.db.Set(k, secret, pebble.Sync); err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return secret, nil
}

// each calls fn for every entry under the one-byte prefix p, with the key
// after the prefix.
func (s *Store) each(p byte, fn func(k, v []byte) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{p}, UpperBound: []byte{p + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if err := fn(it.Key()[1:], it.Value()); err != nil {
			return err
		}
	}
	return it.Error()
}

// lookup reads and decodes the record under index key k. The record does not
// alias Pebble's memory.
func (s *Store) lookup(k []byte) (record, bool, error) {
	raw, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, err
	}
	defer closer.Close()
	r, err := decodeRecord(raw)
	r.inline = nil // not needed by callers; raw is released on return
	return r, err == nil, err
}

func (s *Store) lock(db uint16, key []byte) *sync.Mutex {
	h := uint32(db)
	for _, c := range key {
		h = h*31 + uint32(c)
	}
	return &s.locks[h%uint32(len(s.locks))]
}

func recordKey(db uint16, key []byte) []byte {
	k := make([]byte, 3, 3+len(key))
	k[0] = 'k'
	binary.BigEndian.PutUint16(k[1:], db)
	return append(k, key...)
}

func fileKey(id uint64) []byte { return binary.BigEndian.AppendUint64([]byte{'f'}, id) }

func grantKey(db uint16, user ed25519.PublicKey) []byte {
	return append(binary.BigEndian.AppendUint16([]byte{'g'}, db), user...)
}

// prefixEnd returns the first key after every key that starts with p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i]++; end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

func idString(id uint64) string { return fmt.Sprintf("%016x", id) }

func parseID(name string) (uint64, bool) {
	if len(name) != 16 {
		return 0, false
	}
	id, err := strconv.ParseUint(name, 16, 64)
	return id, err == nil && id != 0 && idString(id) == name
}
