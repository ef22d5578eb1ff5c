package fetch_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mycdn/mycdn/internal/block"
	"github.com/mycdn/mycdn/internal/fetch"
	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/internal/registryclient"
	"github.com/mycdn/mycdn/internal/retry"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/internal/shardclient"
	"github.com/mycdn/mycdn/internal/testenv"
	"github.com/mycdn/mycdn/internal/upload"
	"github.com/mycdn/mycdn/internal/vectors"
	"github.com/mycdn/mycdn/meta"
	"github.com/mycdn/mycdn/ref"
)

const chunk = upload.MinChunkSize

type env struct {
	t   *testing.T
	nw  *testenv.Network
	reg *registryclient.Client
	log bytes.Buffer
}

func newEnv(t *testing.T, n int) *env {
	t.Helper()
	e := &env{t: t, nw: testenv.StartNetwork(t, n)}
	var err error
	if e.reg, err = registryclient.New(e.nw.Registry.URL, nil); err != nil {
		t.Fatal(err)
	}
	return e
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// fetcher returns a Fetcher that reads shard i from addrs[i] when given
// (a proxy, say), else from the location in the metadata.
func (e *env) fetcher(opts fetch.Options, addrs map[string]string) *fetch.Fetcher {
	opts.Registry = e.reg
	opts.Log = slog.New(slog.NewTextHandler(&e.log, nil))
	opts.Dial = func(loc meta.ShardLocation) (fetch.ShardReader, error) {
		addr := loc.Host.String()
		if a, ok := addrs[addr]; ok {
			addr = a
		}
		c, err := shardclient.New(shardclient.Options{Addr: addr, DB: int(loc.DB), Retry: retry.Policy{Retries: -1}})
		if err == nil {
			e.t.Cleanup(func() { c.Close() })
		}
		return c, err
	}
	return fetch.New(opts)
}

// upload stores content with k of the network's stores and returns its
// File metadata and reference.
func (e *env) upload(k int, content []byte) (*meta.File, ref.Ref) {
	e.t.Helper()
	var stores []upload.ShardStore
	for _, s := range e.nw.Shards {
		c, err := shardclient.New(shardclient.Options{Addr: s.Addr})
		if err != nil {
			e.t.Fatal(err)
		}
		e.t.Cleanup(func() { c.Close() })
		stores = append(stores, c)
	}
	u, err := upload.New(upload.Options{ChunkSize: chunk, K: k, Shards: e.nw.Locations(), Stores: stores, Registry: e.reg})
	if err != nil {
		e.t.Fatal(err)
	}
	o, err := u.Reader(ctx(e.t), bytes.NewReader(content), "f.bin", "")
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := e.fetcher(fetch.Options{}, nil).Metadata(ctx(e.t), o.Ref.Lookup, o.Ref.Key)
	if err != nil {
		e.t.Fatal(err)
	}
	return m.(*meta.File), o.Ref
}

func readRange(t *testing.T, f *fetch.Fetcher, file *meta.File, off, n int64) ([]byte, error) {
	t.Helper()
	r, err := f.Open(ctx(t), file, off, n)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// gets returns the GETs each store has served so far.
func (e *env) gets() []int {
	n := make([]int, len(e.nw.Shards))
	for i := range n {
		n[i] = e.nw.Commands(i, "GET")
	}
	return n
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

func diff(a, b []int) []int {
	d := make([]int, len(a))
	for i := range a {
		d[i] = b[i] - a[i]
	}
	return d
}

// TestRangesAndEconomy reads ranges of a 4-block file and checks bytes and
// the GETs the stores served: k per block the range touches, no more.
func TestRangesAndEconomy(t *testing.T) {
	e := newEnv(t, 5)
	size := 3*chunk + 1000
	content := vectors.XOF("ranges", size)
	file, _ := e.upload(3, content)
	// No hedge unless a store takes a second: every read here is healthy.
	f := e.fetcher(fetch.Options{HedgeMin: time.Second}, nil)
	cases := []struct {
		name   string
		off, n int64
		blocks int
	}{
		{"first byte", 0, 1, 1},
		{"last byte", int64(size - 1), 1, 1},
		{"across a block boundary", chunk - 10, 20, 2},
		{"inside one block", chunk + 100, 5000, 1},
		{"whole file", 0, -1, 4},
		{"from an offset to the end", 2*chunk + 5, -1, 2},
		{"past the end", int64(size), 10, 0},
	}
	for _, tc := range cases {
		before := e.gets()
		got, err := readRange(t, f, file, tc.off, tc.n)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		end := int64(size)
		if tc.n >= 0 {
			end = min(tc.off+tc.n, end)
		}
		if want := content[min(tc.off, int64(size)):end]; !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes that differ from the %d wanted", tc.name, len(got), len(want))
		}
		if g := diff(before, e.gets()); sum(g) != 3*tc.blocks {
			t.Errorf("%s: %v GETs, want %d (k=3 per block touched)", tc.name, g, 3*tc.blocks)
		}
	}
	if got, err := f.Size(ctx(t), file); err != nil || got != int64(size) {
		t.Errorf("Size = %d, %v", got, err)
	}
}

// TestFaults reads with stores down, a corrupt shard, and too few stores.
func TestFaults(t *testing.T) {
	e := newEnv(t, 5)
	content := vectors.XOF("faults", 2*chunk+77)
	file, _ := e.upload(3, content)

	e.nw.Stop(0)
	e.nw.Stop(4)
	if got, err := readRange(t, e.fetcher(fetch.Options{}, nil), file, 0, -1); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("with two of five stores down: %v", err)
	}
	e.nw.Restart(0)
	e.nw.Restart(4)

	// Corrupt the blob file of shard 1 of block 0 on store 1's disk.
	b := &file.Blocks[0]
	enc, err := block.NewEncoder(3, b.Shards, block.FixedNonces(b.Nonce))
	if err != nil {
		t.Fatal(err)
	}
	_, shards, err := enc.Encode(0, content[:chunk])
	if err != nil {
		t.Fatal(err)
	}
	corruptFile(t, e.nw.Shards[1].Dir, shards[1])
	f := e.fetcher(fetch.Options{}, nil)
	if got, err := readRange(t, f, file, 0, -1); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("with a corrupt shard: %v", err)
	}
	if f.CorruptShards() != 1 || !strings.Contains(e.log.String(), "corrupt shard") ||
		!strings.Contains(e.log.String(), "store="+e.nw.Shards[1].Addr) {
		t.Fatalf("the corrupt shard was not reported with its store: %d found, log %s", f.CorruptShards(), e.log.String())
	}

	e.nw.Stop(0)
	e.nw.Stop(4)
	e.nw.Stop(2)
	_, err = readRange(t, e.fetcher(fetch.Options{}, nil), file, 0, -1)
	if !errors.Is(err, fetch.ErrUnavailable) || !strings.Contains(err.Error(), e.nw.Shards[2].Addr) {
		t.Fatalf("with three of five stores down: %v", err)
	}
}

// corruptFile flips a byte of the file under dir that holds exactly data.
func corruptFile(t *testing.T, dir string, data []byte) {
	t.Helper()
	found := false
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || found || !d.Type().IsRegular() {
			return err
		}
		if info, _ := d.Info(); info == nil || info.Size() != int64(len(data)) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(b, data) {
			return err
		}
		b[len(b)/2] ^= 0xff
		found = true
		return os.WriteFile(p, b, 0o600)
	})
	if !found {
		t.Fatal("no file holds the shard")
	}
}

// TestSlowStore puts a store that answers slowly among the first k asked:
// the read hedges to another store instead of waiting for it.
func TestSlowStore(t *testing.T) {
	e := newEnv(t, 5)
	content := vectors.XOF("slow", 3*chunk)
	file, _ := e.upload(3, content)
	const delay = time.Second
	slow := testenv.StartDelayProxy(t, e.nw.Shards[0].Addr, delay)
	f := e.fetcher(fetch.Options{HedgeMin: 20 * time.Millisecond}, map[string]string{e.nw.Shards[0].Addr: slow.Addr})
	before := e.gets()
	start := time.Now()
	got, err := readRange(t, f, file, 0, -1)
	took := time.Since(start)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("read: %v", err)
	}
	// The slow store answers each 64 KiB of a shard a second late: waiting
	// for it would take about six seconds per block.
	if took > 2*delay {
		t.Errorf("read took %v with one slow store: not hedged", took)
	}
	if g := diff(before, e.gets()); g[3]+g[4] == 0 {
		t.Errorf("GETs %v: no hedge to the stores not asked first", g)
	}
}

// TestBadReferences checks the errors of a wrong key, an unknown
// reference and metadata that does not decode.
func TestBadReferences(t *testing.T) {
	e := newEnv(t, 3)
	_, r := e.upload(2, []byte("content"))
	f := e.fetcher(fetch.Options{}, nil)
	wrong := r.Key
	wrong[0] ^= 1
	if _, err := f.Metadata(ctx(t), r.Lookup, wrong); !errors.Is(err, seal.ErrAuth) {
		t.Errorf("wrong key: %v", err)
	}
	if _, err := f.Metadata(ctx(t), meta.Hash{1}, r.Key); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("unknown reference: %v", err)
	}
	garbage := []byte("MCDN\x01 not bincode")
	sealed, lookup, key := seal.SealMetadata(garbage, seal.MetadataNonce(garbage))
	if err := e.reg.Put(ctx(t), lookup, sealed); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Metadata(ctx(t), lookup, key); !errors.Is(err, fetch.ErrBadMetadata) {
		t.Errorf("corrupt metadata: %v", err)
	}
}

// TestReferenceWrittenMetadata reads content laid out as the reference
// uploader writes it: random nonces, and the last block's end offset not
// clamped to the file.
func TestReferenceWrittenMetadata(t *testing.T) {
	e := newEnv(t, 4)
	const refChunk = 2 * chunk
	for _, size := range []int{10, refChunk + 5} {
		content := vectors.XOF("reference", size)
		locs := e.nw.Locations()
		enc, err := block.NewEncoder(2, locs, block.RandomNonces)
		if err != nil {
			t.Fatal(err)
		}
		file := &meta.File{ContentHash: seal.Sum(content), Name: "ref.bin"}
		for i := 0; i*refChunk < size; i++ {
			plain := content[i*refChunk : min((i+1)*refChunk, size)]
			b, shards, err := enc.Encode(i, plain)
			if err != nil {
				t.Fatal(err)
			}
			b.StartOffset, b.EndOffset = uint64(i*refChunk), uint64((i+1)*refChunk-1) // unclamped
			for j, s := range shards {
				c, _ := shardclient.New(shardclient.Options{Addr: e.nw.Shards[j].Addr})
				if err := c.Set(ctx(t), b.EncryptedHash[:], s); err != nil {
					t.Fatal(err)
				}
				c.Close()
			}
			file.Blocks = append(file.Blocks, b)
		}
		f := e.fetcher(fetch.Options{}, nil)
		if got, err := f.Size(ctx(t), file); err != nil || got != int64(size) {
			t.Fatalf("size %d: Size = %d, %v", size, got, err)
		}
		got, err := readRange(t, f, file, 0, -1)
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("size %d: read %d bytes, %v", size, len(got), err)
		}
		tail, err := readRange(t, f, file, int64(size-3), 100)
		if err != nil || !bytes.Equal(tail, content[size-3:]) {
			t.Fatalf("size %d: tail %q, %v", size, tail, err)
		}
	}
}

// TestBadOffsets rejects metadata whose blocks do not follow each other.
func TestBadOffsets(t *testing.T) {
	e := newEnv(t, 3)
	loc := meta.ShardLocation{Host: netip.MustParseAddrPort("127.0.0.1:1")}
	file := &meta.File{Blocks: []meta.Block{
		{Shards: []meta.ShardLocation{loc, loc, loc}, RequiredShards: 2, StartOffset: 0, EndOffset: 9},
		{Shards: []meta.ShardLocation{loc, loc, loc}, RequiredShards: 2, StartOffset: 5, EndOffset: 20},
	}}
	f := e.fetcher(fetch.Options{}, nil)
	if _, err := f.Open(ctx(t), file, 0, -1); !errors.Is(err, fetch.ErrBadMetadata) {
		t.Errorf("overlapping blocks: %v", err)
	}
	if _, err := f.Size(ctx(t), file); !errors.Is(err, fetch.ErrBadMetadata) {
		t.Errorf("overlapping blocks: Size: %v", err)
	}
}
