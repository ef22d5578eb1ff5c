package pebblestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mycdn/mycdn/internal/registry/storetest"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/meta"
)

const (
	benchSize    = 2048
	benchWriters = 16
)

// parallel runs b.N calls of f on benchWriters goroutines, each call with a
// distinct number, and reports operations per second.
func parallel(b *testing.B, f func(i int64) error) {
	b.SetBytes(benchSize)
	storetest.Parallel(b, benchWriters, "ops/s", func() func(int64) error { return f })
}

// blob returns a distinct 2 KiB blob for i.
func blob(i int64) ([]byte, meta.Hash) {
	data, _ := storetest.Blob("bench", benchSize)
	binary.LittleEndian.PutUint64(data, uint64(i))
	return data, seal.Sum(data)
}

// BenchmarkPut stores new 2 KiB blobs from 16 goroutines, each put synced.
func BenchmarkPut(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	parallel(b, func(i int64) error {
		data, h := blob(i)
		return s.Put(b.Context(), h, data)
	})
}

// BenchmarkGet reads 2 KiB blobs from 16 goroutines.
func BenchmarkGet(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	const stored = 1000
	for i := range int64(stored) {
		data, h := blob(i)
		if err := s.Put(b.Context(), h, data); err != nil {
			b.Fatal(err)
		}
	}
	parallel(b, func(i int64) error {
		_, h := blob(i % stored)
		_, err := s.Get(b.Context(), h)
		return err
	})
}

// BenchmarkPutFilePerBlob is the alternative Pebble was chosen over: one
// file per blob, written to a temporary name, synced, renamed and the
// directory synced, as a durable store of files must.
func BenchmarkPutFilePerBlob(b *testing.B) {
	dir := b.TempDir()
	parallel(b, func(i int64) error {
		data, h := blob(i)
		tmp := filepath.Join(dir, fmt.Sprintf("%v.tmp", h))
		f, err := os.Create(tmp)
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(dir, h.String())); err != nil {
			return err
		}
		d, err := os.Open(dir)
		if err != nil {
			return err
		}
		return errors.Join(d.Sync(), d.Close())
	})
}
