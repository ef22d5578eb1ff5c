package cache

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Dir keeps files named by keys in a directory, evicting the least recently
// used ones when their total size exceeds its capacity. Keys must be valid
// file names; callers use hex hashes. Writes go to a temporary file that is
// renamed into place, so a reader never sees a partial file.
type Dir struct {
	path string
	lru  *LRU[string, struct{}]
	mu   sync.Mutex // serialises eviction with writes
}

// OpenDir opens or creates a cache directory holding at most capacity
// bytes. Files already there are kept, the most recently modified first,
// as far as the capacity allows.
func OpenDir(path string, capacity int64) (*Dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	type file struct {
		name string
		info fs.FileInfo
	}
	var files []file
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			os.Remove(filepath.Join(path, e.Name())) // left by a crash
			continue
		}
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			files = append(files, file{e.Name(), info})
		}
	}
	slices.SortFunc(files, func(a, b file) int { return cmp.Compare(a.info.ModTime().UnixNano(), b.info.ModTime().UnixNano()) })
	d := &Dir{path: path}
	d.lru = NewLRU(capacity, func(key string, _ struct{}) { os.Remove(filepath.Join(path, key)) })
	for _, f := range files { // oldest first, so the newest end up most recent
		d.lru.Add(f.name, struct{}{}, f.info.Size())
	}
	return d, nil
}

// Get returns the content stored under key.
func (d *Dir) Get(key string) ([]byte, bool) {
	if _, ok := d.lru.Get(key); !ok {
		return nil, false
	}
	b, err := os.ReadFile(filepath.Join(d.path, key))
	if err != nil {
		return nil, false
	}
	return b, true
}

// Put stores data under key.
func (d *Dir) Put(key string, data []byte) error {
	if int64(len(data)) > d.lru.capacity {
		return nil // would be evicted at once
	}
	tmp, err := os.CreateTemp(d.path, ".tmp-")
	if err != nil {
		return fmt.Errorf("cache dir: %w", err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("cache dir: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := os.Rename(tmp.Name(), filepath.Join(d.path, key)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("cache dir: %w", err)
	}
	d.lru.Add(key, struct{}{}, int64(len(data)))
	return nil
}

// Stats returns the number of files kept and their total size.
func (d *Dir) Stats() (files int, bytes int64) {
	n, cost, _, _ := d.lru.Stats()
	return n, cost
}
