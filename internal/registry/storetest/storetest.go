// Package storetest is the conformance suite every [registry.Store] must
// pass: call [Run] from a test of the store's package with a function that
// opens an empty store. It covers blobs and names.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/meta"
)

// Open returns a new, empty store for one test. The suite closes it.
type Open func(t *testing.T) registry.Store

// Run runs every test of the suite against stores from open.
func Run(t *testing.T, open Open) {
	for _, tc := range []struct {
		name string
		f    func(*testing.T, registry.Store)
	}{
		{"NotFound", testNotFound},
		{"PutGet", testPutGet},
		{"Sizes", testSizes},
		{"Idempotent", testIdempotent},
		{"Immutable", testImmutable},
		{"Owned", testOwned},
		{"Concurrent", testConcurrent},
		{"Cancelled", testCancelled},
		{"Ping", testPing},
		{"NameNotFound", testNameNotFound},
		{"NameSetGet", testNameSetGet},
		{"NameCompareAndSet", testNameCompareAndSet},
		{"NameConcurrent", testNameConcurrent},
		{"NameOwned", testNameOwned},
		{"NameCancelled", testNameCancelled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.f(t, s)
		})
	}
}

// Blob returns n bytes made from seed and their lookup hash.
func Blob(seed string, n int) ([]byte, meta.Hash) {
	b := make([]byte, n)
	h := blake3.New()
	h.WriteString(seed)
	if _, err := h.Digest().Read(b); err != nil {
		panic(err) // reading a BLAKE3 XOF cannot fail
	}
	return b, seal.Sum(b)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func put(t *testing.T, s registry.Store, h meta.Hash, b []byte) {
	t.Helper()
	if err := s.Put(ctxT(t), h, b); err != nil {
		t.Fatalf("put %v: %v", h, err)
	}
}

func mustGet(t *testing.T, s registry.Store, h meta.Hash, want []byte) {
	t.Helper()
	got, err := s.Get(ctxT(t), h)
	if err != nil {
		t.Fatalf("get %v: %v", h, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("get %v: %d bytes, not the %d stored", h, len(got), len(want))
	}
	n, err := s.Stat(ctxT(t), h)
	if err != nil || n != int64(len(want)) {
		t.Fatalf("stat %v = %d, %v; want %d", h, n, err, len(want))
	}
}

func testNotFound(t *testing.T, s registry.Store) {
	_, h := Blob("absent", 10)
	if b, err := s.Get(ctxT(t), h); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("get of an absent hash = %d bytes, %v; want ErrNotFound", len(b), err)
	}
	if n, err := s.Stat(ctxT(t), h); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("stat of an absent hash = %d, %v; want ErrNotFound", n, err)
	}
	b, h2 := Blob("present", 10)
	put(t, s, h2, b)
	if _, err := s.Get(ctxT(t), h); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("get of an absent hash beside a stored one: %v; want ErrNotFound", err)
	}
}

func testPutGet(t *testing.T, s registry.Store) {
	var hashes []meta.Hash
	var blobs [][]byte
	for i := range 20 {
		b, h := Blob(fmt.Sprint("blob ", i), 100+i)
		put(t, s, h, b)
		hashes, blobs = append(hashes, h), append(blobs, b)
	}
	for i, h := range hashes {
		mustGet(t, s, h, blobs[i])
	}
	// Hashes that differ in one byte, the first or the last, are different keys.
	b, h := Blob("neighbour", 50)
	first, last := h, h
	first[0]++
	last[15]++
	put(t, s, h, b)
	put(t, s, first, []byte("first"))
	put(t, s, last, []byte("last"))
	mustGet(t, s, h, b)
	mustGet(t, s, first, []byte("first"))
	mustGet(t, s, last, []byte("last"))
}

func testSizes(t *testing.T, s registry.Store) {
	for _, n := range []int{0, 1, 28, 2048, 1 << 20, 9<<20 + 7} {
		b, h := Blob(fmt.Sprint("size ", n), n)
		put(t, s, h, b)
		mustGet(t, s, h, b)
	}
}

func testIdempotent(t *testing.T, s registry.Store) {
	b, h := Blob("twice", 3000)
	put(t, s, h, b)
	put(t, s, h, bytes.Clone(b))
	mustGet(t, s, h, b)
}

// testImmutable checks that a stored blob is never replaced, so a second Put
// of a hash, whatever it carries, keeps the first blob.
func testImmutable(t *testing.T, s registry.Store) {
	b, h := Blob("first", 100)
	put(t, s, h, b)
	put(t, s, h, []byte("something else"))
	mustGet(t, s, h, b)
}

// testOwned checks that the store keeps no reference to the slice given to
// Put and hands out slices that the caller may change.
func testOwned(t *testing.T, s registry.Store) {
	b, h := Blob("owned", 500)
	in := bytes.Clone(b)
	put(t, s, h, in)
	clear(in)
	out, err := s.Get(ctxT(t), h)
	if err != nil {
		t.Fatal(err)
	}
	clear(out)
	mustGet(t, s, h, b)
}

func testConcurrent(t *testing.T, s registry.Store) {
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				// Workers share half of their blobs, so puts of one hash race.
				b, h := Blob(fmt.Sprint("concurrent ", i, " ", w%2*i), 1000+i)
				if err := s.Put(ctxT(t), h, b); err != nil {
					errs <- err
					return
				}
				got, err := s.Get(ctxT(t), h)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, b) {
					errs <- fmt.Errorf("get %v returned other bytes", h)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testCancelled(t *testing.T, s registry.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	b, h := Blob("cancelled", 10)
	if err := s.Put(ctx, h, b); !errors.Is(err, context.Canceled) {
		t.Errorf("put with a cancelled context: %v; want context.Canceled", err)
	}
	if _, err := s.Get(ctx, h); !errors.Is(err, context.Canceled) {
		t.Errorf("get with a cancelled context: %v; want context.Canceled", err)
	}
	if _, err := s.Get(ctxT(t), h); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("a put with a cancelled context stored the blob: %v", err)
	}
}

func testPing(t *testing.T, s registry.Store) {
	if err := s.Ping(ctxT(t)); err != nil {
		t.Errorf("ping: %v", err)
	}
}
