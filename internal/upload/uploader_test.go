package upload_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mycdn/mycdn/internal/block"
	"github.com/mycdn/mycdn/internal/fetch"
	"github.com/mycdn/mycdn/internal/registryclient"
	"github.com/mycdn/mycdn/internal/retry"
	"github.com/mycdn/mycdn/internal/shardclient"
	"github.com/mycdn/mycdn/internal/testenv"
	"github.com/mycdn/mycdn/internal/upload"
	"github.com/mycdn/mycdn/internal/vectors"
	"github.com/mycdn/mycdn/meta"
)

// env is a network with clients to upload to it and read from it.
type env struct {
	t       *testing.T
	nw      *testenv.Network
	stores  []*shardclient.Client
	reg     *registryclient.Client
	fetcher *fetch.Fetcher
}

func newEnv(t *testing.T, n int) *env {
	t.Helper()
	e := &env{t: t, nw: testenv.StartNetwork(t, n)}
	for _, s := range e.nw.Shards {
		c, err := shardclient.New(shardclient.Options{Addr: s.Addr, Retry: retry.Policy{Retries: 2, Min: 10 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		e.stores = append(e.stores, c)
	}
	var err error
	if e.reg, err = registryclient.New(e.nw.Registry.URL, nil); err != nil {
		t.Fatal(err)
	}
	stores := &fetch.Stores{}
	t.Cleanup(stores.Close)
	e.fetcher = fetch.New(fetch.Options{Registry: e.reg, Dial: stores.Dial})
	return e
}

// uploader returns an Uploader over stores in the given order, with k.
func (e *env) uploader(k int, order []int, mod func(*upload.Options)) *upload.Uploader {
	e.t.Helper()
	locs := e.nw.Locations()
	opts := upload.Options{ChunkSize: upload.MinChunkSize, K: k, Parallelism: 2, Registry: e.reg}
	for _, i := range order {
		opts.Shards = append(opts.Shards, locs[i])
		opts.Stores = append(opts.Stores, e.stores[i])
	}
	if mod != nil {
		mod(&opts)
	}
	u, err := upload.New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// read fetches a file by reference and returns its content.
func (e *env) read(o upload.Object) []byte {
	e.t.Helper()
	m, err := e.fetcher.Metadata(ctx(e.t), o.Ref.Lookup, o.Ref.Key)
	if err != nil {
		e.t.Fatal(err)
	}
	file, ok := m.(*meta.File)
	if !ok {
		e.t.Fatalf("%s: not a file", o.Name)
	}
	r, err := e.fetcher.Open(ctx(e.t), file, 0, -1)
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func all(n int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	return order
}

func TestUploadResumesAndSkips(t *testing.T) {
	e := newEnv(t, 5)
	content := vectors.XOF("upload-skip", 3*upload.MinChunkSize+123)
	path := filepath.Join(t.TempDir(), "data.bin")
	writeFile(t, path, content)

	first, err := e.uploader(3, all(5), nil).Path(ctx(t), path, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Name != "data.bin" || first.Kind != upload.KindFile || first.Size != uint64(len(content)) || first.Blocks != 4 ||
		first.ShardsSkipped != 0 || first.BytesSent == 0 {
		t.Fatalf("first upload: %+v", first)
	}
	if got := e.read(first); !bytes.Equal(got, content) {
		t.Fatal("content read back differs")
	}
	sets := e.nw.Commands(0, "SET")

	// The same input again: the same reference, and nothing sent.
	again, err := e.uploader(3, all(5), nil).Path(ctx(t), path, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Ref != first.Ref || again.BytesSent != 0 || again.ShardsSkipped != 4*5 {
		t.Fatalf("second upload: %+v, first %+v", again, first)
	}
	if n := e.nw.Commands(0, "SET"); n != sets {
		t.Fatalf("store 0 served %d more SETs on a re-upload", n-sets)
	}

	// Another k and another order of the stores: other shards, both
	// readable, nothing skipped by mistake.
	otherK, err := e.uploader(2, all(5), nil).Path(ctx(t), path, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	reordered, err := e.uploader(3, []int{4, 3, 2, 1, 0}, nil).Path(ctx(t), path, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, o := range map[string]upload.Object{"other k": otherK, "reordered": reordered} {
		if o.Ref == first.Ref || o.ShardsSkipped != 0 {
			t.Errorf("%s: ref %v, %d shards skipped", name, o.Ref, o.ShardsSkipped)
		}
		if got := e.read(o); !bytes.Equal(got, content) {
			t.Errorf("%s: content read back differs", name)
		}
	}
	if got := e.read(first); !bytes.Equal(got, content) {
		t.Fatal("the first upload is no longer readable")
	}

	// Random nonces, as the reference: another reference each time.
	r1, err := e.uploader(3, all(5), func(o *upload.Options) { o.RandomNonces = true }).Path(ctx(t), path, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Ref == first.Ref || r1.ShardsSkipped != 0 || !bytes.Equal(e.read(r1), content) {
		t.Fatalf("random nonces: %+v", r1)
	}
}

// TestUploadOverwritesPlantedKey plants garbage under the key a shard will
// take: the uploader must not trust the key's existence.
func TestUploadOverwritesPlantedKey(t *testing.T) {
	e := newEnv(t, 4)
	content := []byte("a small file whose content someone guessed")
	enc, err := block.NewEncoder(2, e.nw.Locations(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := enc.Encode(0, content)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.stores[1].Set(ctx(t), b.EncryptedHash[:], []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	o, err := e.uploader(2, all(4), nil).Reader(ctx(t), bytes.NewReader(content), "guessed.txt", "")
	if err != nil {
		t.Fatal(err)
	}
	if o.ShardsSkipped != 0 || !bytes.Equal(e.read(o), content) {
		t.Fatalf("upload over a planted key: %+v", o)
	}
	got, err := e.stores[1].Get(ctx(t), b.EncryptedHash[:], nil)
	if err != nil || bytes.Equal(got, []byte("garbage")) {
		t.Fatalf("the planted value was kept: %q, %v", got, err)
	}
}

func TestUploadTree(t *testing.T) {
	e := newEnv(t, 3)
	root := filepath.Join(t.TempDir(), "site")
	files := map[string][]byte{
		"index.html":        []byte("<h1>hello</h1>"),
		"css/site.css":      []byte("h1{color:red}"),
		"img/big.bin":       vectors.XOF("tree-big", upload.MinChunkSize+7),
		"docs/empty.txt":    {},
		"docs/deep/a/b.txt": []byte("deep"),
	}
	for name, data := range files {
		writeFile(t, filepath.Join(root, name), data)
	}
	if err := os.Mkdir(filepath.Join(root, "emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("index.html", filepath.Join(root, "link.html")); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var emitted []string
	u := e.uploader(2, all(3), func(o *upload.Options) { o.Log = slog.New(slog.NewTextHandler(&logs, nil)) })
	top, err := u.Path(ctx(t), root, "", "", func(o upload.Object) { emitted = append(emitted, o.Name) })
	if err != nil {
		t.Fatal(err)
	}
	// Each file, then the directory that holds it; entries by name.
	want := []string{"site.css", "css", "b.txt", "a", "deep", "empty.txt", "docs", "emptydir", "big.bin", "img", "index.html", "site"}
	if !slices.Equal(emitted, want) {
		t.Fatalf("emitted %v, want %v", emitted, want)
	}
	if !strings.Contains(logs.String(), "link.html") {
		t.Errorf("the symlink was not reported as skipped: %s", logs.String())
	}
	var total uint64
	for _, d := range files {
		total += uint64(len(d))
	}
	if top.Kind != upload.KindDirectory || top.Name != "site" || top.Size != total {
		t.Fatalf("top object %+v, want size %d", top, total)
	}

	root2, err := e.fetcher.Metadata(ctx(t), top.Ref.Lookup, top.Ref.Key)
	if err != nil {
		t.Fatal(err)
	}
	dir := root2.(*meta.Directory)
	entries, err := e.fetcher.List(ctx(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, en := range entries {
		names = append(names, en.Name())
	}
	if want := []string{"css", "docs", "emptydir", "img", "index.html"}; !slices.Equal(names, want) {
		t.Fatalf("root entries %v, want %v (sorted, symlink skipped)", names, want)
	}
	for name, data := range files {
		m, err := e.fetcher.Resolve(ctx(t), root2, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f := m.(*meta.File)
		r, err := e.fetcher.Open(ctx(t), f, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: read back %d bytes, %v", name, len(got), err)
		}
		if name == "css/site.css" && (f.Mime == nil || *f.Mime != "text/css; charset=utf-8") {
			t.Errorf("site.css has mime %v", f.Mime)
		}
	}
	m, err := e.fetcher.Resolve(ctx(t), root2, "emptydir")
	if d, ok := m.(*meta.Directory); err != nil || !ok || len(d.Entries) != 0 {
		t.Fatalf("emptydir: %v, %v", m, err)
	}
}

func TestUploadFailures(t *testing.T) {
	e := newEnv(t, 3)
	path := filepath.Join(t.TempDir(), "f.bin")
	writeFile(t, path, vectors.XOF("fail", 2*upload.MinChunkSize))

	// The registry's limit is checked before any shard is sent.
	sets := e.nw.Commands(0, "SET")
	_, err := e.uploader(2, all(3), func(o *upload.Options) { o.MaxMetadataSize = 100 }).Path(ctx(t), path, "", "", nil)
	if err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("metadata over the limit: %v", err)
	}
	if e.nw.Commands(0, "SET") != sets {
		t.Fatal("shards were sent for an upload whose metadata cannot be stored")
	}

	// A store that stays down fails the upload, naming it, and nothing is
	// emitted.
	e.nw.Stop(1)
	emitted := 0
	_, err = e.uploader(2, all(3), nil).Path(ctx(t), path, "", "", func(upload.Object) { emitted++ })
	if err == nil || !strings.Contains(err.Error(), "shard store 1 ("+e.nw.Shards[1].Addr) || emitted != 0 {
		t.Fatalf("store down: %v, %d objects emitted", err, emitted)
	}

	// A cancelled upload stops.
	e.nw.Restart(1)
	c, cancel := context.WithCancel(ctx(t))
	cancel()
	if _, err := e.uploader(2, all(3), nil).Path(c, path, "", "", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if _, err := e.uploader(2, all(3), nil).Path(ctx(t), filepath.Join(t.TempDir(), "missing"), "", "", nil); err == nil {
		t.Fatal("a missing path uploaded")
	}
}

// TestUploadSizes uploads files of sizes around the chunk size, and 64 MiB,
// and reads each back byte for byte.
func TestUploadSizes(t *testing.T) {
	e := newEnv(t, 5)
	u := e.uploader(3, all(5), nil)
	const chunk = upload.MinChunkSize
	for _, size := range []int{0, 1, chunk - 1, chunk, chunk + 1, 64 << 20} {
		content := vectors.XOF("sizes", size)
		o, err := u.Reader(ctx(t), bytes.NewReader(content), "f", "")
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if o.Size != uint64(size) || o.Blocks != (size+chunk-1)/chunk {
			t.Fatalf("size %d: %+v", size, o)
		}
		if got := e.read(o); !bytes.Equal(got, content) {
			t.Fatalf("size %d: read back %d bytes that differ", size, len(got))
		}
	}
}

// TestUploadResumesAfterInterruption stops an upload halfway, then uploads
// again: the shards stored before the interruption are not sent again.
func TestUploadResumesAfterInterruption(t *testing.T) {
	e := newEnv(t, 5)
	content := vectors.XOF("resume", 20*upload.MinChunkSize)
	c, cancel := context.WithCancel(ctx(t))
	stored := 0
	u := e.uploader(3, all(5), func(o *upload.Options) {
		o.Parallelism = 1
		o.OnProgress = func(int64) {
			if stored++; stored == 10 {
				cancel() // halfway
			}
		}
	})
	if _, err := u.Reader(c, bytes.NewReader(content), "f", ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted upload: %v", err)
	}
	o, err := e.uploader(3, all(5), nil).Reader(ctx(t), bytes.NewReader(content), "f", "")
	if err != nil {
		t.Fatal(err)
	}
	if o.ShardsSkipped < 10*5 || o.ShardsSkipped == 20*5 {
		t.Fatalf("resumed upload skipped %d shards, want at least the 50 stored before", o.ShardsSkipped)
	}
	if got := e.read(o); !bytes.Equal(got, content) {
		t.Fatal("read back differs")
	}
}

// TestUploadToStockRedis uploads to five stock redis-server processes, which
// have no DIGEST: a re-upload compares stored bytes instead.
func TestUploadToStockRedis(t *testing.T) {
	e := newEnv(t, 0)
	var locs []meta.ShardLocation
	var stores []upload.ShardStore
	for range 5 {
		r := testenv.StartRedis(t)
		c, err := shardclient.New(shardclient.Options{Addr: r.Addr, DB: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		stores = append(stores, c)
		locs = append(locs, meta.ShardLocation{Host: netip.MustParseAddrPort(r.Addr), DB: 2})
	}
	content := vectors.XOF("stock", 2*upload.MinChunkSize+9)
	var objs [2]upload.Object
	for i := range objs {
		u, err := upload.New(upload.Options{ChunkSize: upload.MinChunkSize, K: 3, Shards: locs, Stores: stores, Registry: e.reg})
		if err != nil {
			t.Fatal(err)
		}
		if objs[i], err = u.Reader(ctx(t), bytes.NewReader(content), "f", ""); err != nil {
			t.Fatal(err)
		}
	}
	if objs[0].ShardsSkipped != 0 || objs[1].ShardsSkipped != 3*5 || objs[1].Ref != objs[0].Ref {
		t.Fatalf("uploads %+v", objs)
	}
	if got := e.read(objs[0]); !bytes.Equal(got, content) {
		t.Fatal("read back differs")
	}
}
