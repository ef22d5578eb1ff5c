package cache_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mycdn/mycdn/internal/cache"
)

func TestLRU(t *testing.T) {
	var evicted []string
	c := cache.NewLRU(10, func(k string, _ int) { evicted = append(evicted, k) })
	c.Add("a", 1, 4)
	c.Add("b", 2, 4)
	if v, ok := c.Get("a"); !ok || v != 1 { // a is now the most recent
		t.Fatalf("Get(a) = %v, %v", v, ok)
	}
	c.Add("c", 3, 4) // 12 > 10: evict b, the least recent
	if _, ok := c.Get("b"); ok {
		t.Fatal("b was not evicted")
	}
	if len(evicted) != 1 || evicted[0] != "b" {
		t.Fatalf("evicted %v, want [b]", evicted)
	}
	c.Add("huge", 9, 11) // costs more than the capacity: not stored, nothing evicted
	if _, ok := c.Get("huge"); ok || len(evicted) != 1 {
		t.Fatal("a value above capacity was stored or evicted others")
	}
	c.Add("a", 5, 2) // replace: not an eviction
	if v, _ := c.Get("a"); v != 5 || len(evicted) != 1 {
		t.Fatalf("replace: Get(a) = %v, evicted %v", v, evicted)
	}
	n, cost, hits, misses := c.Stats()
	if n != 2 || cost != 6 || hits != 2 || misses != 2 {
		t.Fatalf("Stats = %d %d %d %d", n, cost, hits, misses)
	}
}

func TestLRUConcurrent(t *testing.T) {
	c := cache.NewLRU[int, []byte](1000, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				k := (g*1000 + i) % 300
				if _, ok := c.Get(k); !ok {
					c.Add(k, make([]byte, 10), 10)
				}
			}
		}()
	}
	wg.Wait()
	if _, cost, _, _ := c.Stats(); cost > 1000 {
		t.Fatalf("cost %d above capacity", cost)
	}
}

func TestDir(t *testing.T) {
	path := t.TempDir()
	d, err := cache.OpenDir(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := d.Put(fmt.Sprint("k", i), bytes.Repeat([]byte{byte(i)}, 30)); err != nil {
			t.Fatal(err)
		}
	}
	// 5 x 30 > 100: only the last three remain, on disk too.
	for i := range 5 {
		b, ok := d.Get(fmt.Sprint("k", i))
		if want := i >= 2; ok != want || (ok && !bytes.Equal(b, bytes.Repeat([]byte{byte(i)}, 30))) {
			t.Errorf("Get(k%d) = %v, want present %v", i, ok, want)
		}
		_, err := os.Stat(filepath.Join(path, fmt.Sprint("k", i)))
		if (err == nil) != (i >= 2) {
			t.Errorf("file k%d exists: %v", i, err == nil)
		}
	}
	if files, size := d.Stats(); files != 3 || size != 90 {
		t.Errorf("Stats = %d files, %d bytes; want 3, 90", files, size)
	}
	if err := d.Put("big", make([]byte, 101)); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Get("big"); ok {
		t.Error("a file above capacity was kept")
	}

	// Reopening keeps what fits, the newest first, and drops leftovers.
	now := time.Now()
	for i, k := range []string{"k2", "k3", "k4"} {
		os.Chtimes(filepath.Join(path, k), now, now.Add(time.Duration(i)*time.Second))
	}
	os.WriteFile(filepath.Join(path, ".tmp-123"), []byte("partial"), 0o600)
	d2, err := cache.OpenDir(path, 60)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d2.Get("k2"); ok {
		t.Error("reopened cache kept the oldest file beyond its capacity")
	}
	if _, ok := d2.Get("k4"); !ok {
		t.Error("reopened cache lost the newest file")
	}
	if _, err := os.Stat(filepath.Join(path, ".tmp-123")); !os.IsNotExist(err) {
		t.Error("a leftover temporary file was kept")
	}
}
