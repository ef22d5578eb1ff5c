package gateway_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mycdn/mycdn/internal/cache"
	"github.com/mycdn/mycdn/internal/gateway"
	"github.com/mycdn/mycdn/internal/seal"
)

// TestCaches reads a file larger than both caches: each stays within its
// bound, the disk holds sealed blocks only, a warm read asks no store, and
// blocks on disk are served with every store down.
func TestCaches(t *testing.T) {
	const memBytes, diskBytes = 3 * chunk, 4*chunk + 100
	dir := t.TempDir()
	disk, err := cache.OpenDir(dir, diskBytes)
	if err != nil {
		t.Fatal(err)
	}
	caches := gateway.NewCaches(memBytes, disk)
	e := newEnv(t, envOptions{caches: caches})
	const size = 8*chunk + 99
	data := random(size, 7)
	r := e.put("big.bin", "", data)
	if resp := e.do("GET", e.pathURL(r, "")); !bytes.Equal(resp.body, data) {
		t.Fatal("first read differs")
	}
	caches.Close() // waits for the disk writes queued
	s := caches.Stats()
	if s.BlockBytes > memBytes-memBytes/10 || s.BlockBytes < chunk || s.DiskBytes > diskBytes || s.DiskBytes < chunk {
		t.Fatalf("caches out of bounds: %+v", s)
	}
	var onDisk int64
	file := metadata(t, e, r)
	ents, _ := os.ReadDir(dir)
	for _, ent := range ents {
		b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			t.Fatal(err)
		}
		onDisk += int64(len(b))
		if ent.Name() != seal.Sum(b).String() {
			t.Errorf("disk cache file %s does not hash to its name", ent.Name())
		}
		for _, blk := range file.Blocks {
			plain := data[blk.StartOffset : blk.EndOffset+1]
			if bytes.Contains(b, plain[:min(len(plain), 64)]) {
				t.Errorf("disk cache file %s holds plaintext", ent.Name())
			}
		}
	}
	if onDisk > diskBytes || onDisk != s.DiskBytes {
		t.Errorf("%d bytes on disk, stats say %d, bound %d", onDisk, s.DiskBytes, diskBytes)
	}

	// A block read is cached: reading it again asks no store.
	rng := "Range: bytes=" + strconv.Itoa(3*chunk+5) + "-" + strconv.Itoa(3*chunk+104)
	e.do("GET", e.pathURL(r, ""), rng)
	before := e.gets()
	if resp := e.do("GET", e.pathURL(r, ""), rng); resp.StatusCode != 206 || !bytes.Equal(resp.body, data[3*chunk+5:3*chunk+105]) {
		t.Fatalf("warm range: %d", resp.StatusCode)
	}
	if got := e.gets() - before; got != 0 {
		t.Errorf("warm range read %d shards", got)
	}

	// A gateway started again on the disk cache, with every store down,
	// serves the blocks on disk, and only those.
	for i := range e.nw.Shards {
		e.nw.Stop(i)
	}
	disk, err = cache.OpenDir(dir, diskBytes)
	if err != nil {
		t.Fatal(err)
	}
	caches = gateway.NewCaches(memBytes, disk)
	defer caches.Close()
	again := newEnv(t, envOptions{nw: e.nw, caches: caches})
	var hit, miss int
	for _, blk := range file.Blocks {
		off := int(blk.StartOffset)
		resp := again.do("GET", again.pathURL(r, ""), "Range: bytes="+strconv.Itoa(off)+"-"+strconv.Itoa(off+9))
		_, err := os.Stat(filepath.Join(dir, blk.EncryptedHash.String()))
		switch {
		case err == nil && resp.StatusCode == 206 && bytes.Equal(resp.body, data[off:off+10]):
			hit++
		case err != nil && resp.StatusCode == 503:
			miss++
		default:
			t.Errorf("block at %d, on disk %v: %d %q", off, err == nil, resp.StatusCode, resp.body)
		}
	}
	if hit == 0 || miss == 0 || caches.Stats().DiskHits != int64(hit) {
		t.Errorf("%d blocks served from disk (%d disk hits), %d not", hit, caches.Stats().DiskHits, miss)
	}
}

// TestShutdown stops the gateway during a download: the download
// completes, and new connections are refused.
func TestShutdown(t *testing.T) {
	e := newEnv(t, envOptions{sendBuffer: 32 << 10})
	data := random(4*chunk, 8)
	r := e.put("f", "", data)
	req, _ := http.NewRequest("GET", e.pathURL(r, ""), nil)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	stopped := make(chan struct{})
	go func() {
		e.stop()
		close(stopped)
	}()
	time.Sleep(200 * time.Millisecond) // the listener closes
	conn, err := (&net.Dialer{}).DialContext(context.Background(), "tcp", e.addr)
	if err == nil {
		conn.Close()
		t.Error("a new connection was accepted during shutdown")
	}
	got, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download during shutdown: %d bytes, %v", len(got), err)
	}
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the download")
	}
}
