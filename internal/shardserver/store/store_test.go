package store_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/zeebo/blake3"

	"github.com/mycdn/mycdn/internal/shardproto"
	"github.com/mycdn/mycdn/internal/shardserver/store"
)

const inlineMax = 1 << 10

func open(t testing.TB, fs vfs.FS, dir string) *store.Store {
	t.Helper()
	s, err := store.Open(dir, store.Options{FS: fs, InlineMax: inlineMax})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func value(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func read(t testing.TB, s *store.Store, db uint16, key string) ([]byte, error) {
	t.Helper()
	v, err := s.Get(db, []byte(key))
	if err != nil {
		return nil, err
	}
	defer v.Close()
	b, err := v.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != v.Size || blake3.Sum256(b) != v.Digest {
		t.Fatalf("%s: value does not match its info", key)
	}
	var w bytes.Buffer
	if n, err := v.WriteTo(&w); err != nil || n != v.Size || !bytes.Equal(w.Bytes(), b) {
		t.Fatalf("%s: WriteTo gave %d, %v", key, n, err)
	}
	return b, nil
}

// blobFiles counts the files under DIR/blobs.
func blobFiles(t testing.TB, fs vfs.FS, dir string) int {
	t.Helper()
	n := 0
	for i := range 256 {
		names, err := fs.List(fs.PathJoin(dir, "blobs", fmt.Sprintf("%02x", i)))
		if err != nil {
			t.Fatal(err)
		}
		n += len(names)
	}
	return n
}

func TestPutGetDelete(t *testing.T) {
	fs := vfs.NewMem()
	s := open(t, fs, "/s")
	defer s.Close()
	vals := map[string][]byte{
		"empty":  {},
		"small":  value(1, 100),
		"edge":   value(2, inlineMax),
		"file":   value(3, inlineMax+1),
		"shard":  value(4, 5<<20+17),
		"binary": value(5, 3000),
	}
	for k, v := range vals {
		if ok, err := s.Put(7, []byte(k), bytes.Clone(v), store.PutOptions{}); !ok || err != nil {
			t.Fatalf("put %s: %v %v", k, ok, err)
		}
	}
	if got := blobFiles(t, fs, "/s"); got != 3 {
		t.Errorf("%d blob files, want 3 (values above %d bytes)", got, inlineMax)
	}
	for k, v := range vals {
		got, err := read(t, s, 7, k)
		if err != nil || !bytes.Equal(got, v) {
			t.Errorf("get %s: %d bytes, %v", k, len(got), err)
		}
		info, err := s.Stat(7, []byte(k))
		if err != nil || info.Digest != blake3.Sum256(v) || info.Size != int64(len(v)) {
			t.Errorf("stat %s: %+v, %v", k, info, err)
		}
		if _, err := s.Get(8, []byte(k)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get %s in another database: %v", k, err)
		}
	}
	// Overwrites replace the file, or move between file and index.
	for _, k := range []string{"file", "small"} {
		v := value(9, 5000)
		if _, err := s.Put(7, []byte(k), bytes.Clone(v), store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if got, _ := read(t, s, 7, k); !bytes.Equal(got, v) {
			t.Errorf("overwrite of %s not seen", k)
		}
	}
	if got := blobFiles(t, fs, "/s"); got != 4 {
		t.Errorf("%d blob files after overwrites, want 4", got)
	}
	for _, k := range []string{"file", "shard", "small"} {
		if ok, err := s.Delete(7, []byte(k)); !ok || err != nil {
			t.Errorf("delete %s: %v %v", k, ok, err)
		}
		if ok, err := s.Delete(7, []byte(k)); ok || err != nil {
			t.Errorf("second delete %s: %v %v", k, ok, err)
		}
		if _, err := s.Get(7, []byte(k)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get deleted %s: %v", k, err)
		}
	}
	if got := blobFiles(t, fs, "/s"); got != 1 {
		t.Errorf("%d blob files after deletes, want 1", got)
	}
	var keys []string
	if err := s.Scan(7, nil, func(k []byte, _ store.Info) bool { keys = append(keys, string(k)); return true }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(keys, ",") != "binary,edge,empty" {
		t.Errorf("scan gave %v", keys)
	}
	keys = nil
	_ = s.Scan(7, []byte("binary"), func(k []byte, _ store.Info) bool { keys = append(keys, string(k)); return len(keys) < 1 })
	if strings.Join(keys, ",") != "edge" {
		t.Errorf("scan after binary, limit 1, gave %v", keys)
	}
	if _, err := s.Put(7, nil, []byte("x"), store.PutOptions{}); !errors.Is(err, shardproto.ErrBadKey) {
		t.Errorf("empty key: %v", err)
	}
}

func TestConditionsAndExpiry(t *testing.T) {
	s := open(t, vfs.NewMem(), "/s")
	defer s.Close()
	k := []byte("k")
	put := func(v string, o store.PutOptions) bool {
		ok, err := s.Put(0, k, []byte(v), o)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if put("a", store.PutOptions{IfPresent: true}) {
		t.Error("XX stored into an absent key")
	}
	if !put("a", store.PutOptions{IfAbsent: true}) {
		t.Error("NX did not store into an absent key")
	}
	if put("b", store.PutOptions{IfAbsent: true}) {
		t.Error("NX stored over a value")
	}
	if !put(strings.Repeat("c", 2*inlineMax), store.PutOptions{IfPresent: true, Expiry: time.Now().Add(50 * time.Millisecond)}) {
		t.Error("XX did not store over a value")
	}
	if info, err := s.Stat(0, k); err != nil || info.Expiry.IsZero() {
		t.Fatalf("stat: %+v %v", info, err)
	}
	time.Sleep(60 * time.Millisecond)
	if _, err := s.Get(0, k); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired value: %v", err)
	}
	if !put("d", store.PutOptions{IfAbsent: true, Expiry: time.Now().Add(-time.Second)}) {
		t.Error("NX did not store over an expired value")
	}
	if _, err := s.Put(0, []byte("other"), []byte("x"), store.PutOptions{Expiry: time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(0, []byte("kept"), []byte("x"), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	n, err := s.Sweep(context.Background())
	if err != nil || n != 2 {
		t.Errorf("sweep removed %d, %v; want 2", n, err)
	}
	if _, err := read(t, s, 0, "kept"); err != nil {
		t.Errorf("sweep removed a live value: %v", err)
	}
}

func TestReopen(t *testing.T) {
	fs := vfs.NewMem()
	s := open(t, fs, "/s")
	big, small := value(1, 100_000), value(2, 10)
	for k, v := range map[string][]byte{"big": big, "small": small} {
		if _, err := s.Put(3, []byte(k), bytes.Clone(v), store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	user := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	if err := s.PutDatabase(3, shardproto.Private); err != nil {
		t.Fatal(err)
	}
	if err := s.PutGrant(store.Grant{DB: 3, User: user, Right: shardproto.Write}); err != nil {
		t.Fatal(err)
	}
	secret, err := s.Secret("token", 32)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A file no record owns, as a crash between writing a blob and
	// committing its record leaves.
	f, _ := fs.Create("/s/blobs/07/00000000000fff07", vfs.WriteCategoryUnspecified)
	_, _ = f.Write([]byte("orphan"))
	f.Close()

	s = open(t, fs, "/s")
	defer s.Close()
	if got := blobFiles(t, fs, "/s"); got != 1 {
		t.Errorf("%d blob files after reopen, want 1 (orphan removed)", got)
	}
	for k, v := range map[string][]byte{"big": big, "small": small} {
		if got, err := read(t, s, 3, k); err != nil || !bytes.Equal(got, v) {
			t.Errorf("%s after reopen: %v", k, err)
		}
	}
	// New blobs never reuse an id in use.
	if _, err := s.Put(3, []byte("big2"), bytes.Clone(big), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := read(t, s, 3, "big"); !bytes.Equal(got, big) {
		t.Error("a new blob overwrote an old one")
	}
	dbs, err := s.Databases()
	if err != nil || dbs[3] != shardproto.Private || len(dbs) != 1 {
		t.Errorf("databases: %v %v", dbs, err)
	}
	grants, err := s.Grants()
	if err != nil || len(grants) != 1 || !grants[0].User.Equal(user) || grants[0].Right != shardproto.Write || grants[0].DB != 3 {
		t.Errorf("grants: %+v %v", grants, err)
	}
	if err := s.DeleteGrant(3, user); err != nil {
		t.Fatal(err)
	}
	if grants, _ := s.Grants(); len(grants) != 0 {
		t.Errorf("grant not deleted: %+v", grants)
	}
	if again, err := s.Secret("token", 32); err != nil || !bytes.Equal(again, secret) {
		t.Errorf("secret changed across reopen: %v", err)
	}
}

// TestConcurrentOverwrite has readers see whole values only while writers
// overwrite one key (run with -race).
func TestConcurrentOverwrite(t *testing.T) {
	s := open(t, vfs.NewMem(), "/s")
	defer s.Close()
	k := []byte("hot")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.Put(0, k, value(uint64(w*1000+i), 500+i%3*inlineMax), store.PutOptions{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if _, err := read(t, s, 0, "hot"); err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

// TestPowerCut runs writers on a filesystem that keeps only synced data at
// a simulated power cut (with 0% or 50% of unsynced data surviving at
// random), then reopens the store on what survived: every acknowledged
// value is there, whole, and nothing partial is visible.
func TestPowerCut(t *testing.T) {
	for _, unsynced := range []int{0, 50} {
		for round := range 4 {
			t.Run(fmt.Sprintf("unsynced=%d%%/round=%d", unsynced, round), func(t *testing.T) {
				powerCut(t, unsynced, uint64(round))
			})
		}
	}
}

func powerCut(t *testing.T, unsynced int, seed uint64) {
	fs := vfs.NewCrashableMem()
	s := open(t, fs, "/shard")
	type history struct {
		attempts [][32]byte // digests of every value put, in order
		acked    int        // attempts[:acked] were acknowledged; -1: none
	}
	var (
		mu    sync.Mutex
		hist  = map[string]*history{}
		stop  = make(chan struct{})
		wg    sync.WaitGroup
		sizes = []int{0, 10, inlineMax, inlineMax + 1, 50_000, 300_000}
	)
	for w := range 3 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// Mostly new keys, some overwrites of this writer's keys.
				key := fmt.Sprintf("w%d-%d", w, i)
				if i > 0 && r.IntN(4) == 0 {
					key = fmt.Sprintf("w%d-%d", w, r.IntN(i))
				}
				v := value(r.Uint64(), sizes[r.IntN(len(sizes))])
				mu.Lock()
				h := hist[key]
				if h == nil {
					h = &history{acked: -1}
					hist[key] = h
				}
				h.attempts = append(h.attempts, blake3.Sum256(v))
				n := len(h.attempts)
				mu.Unlock()
				if _, err := s.Put(1, []byte(key), v, store.PutOptions{}); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				h.acked = max(h.acked, n)
				mu.Unlock()
			}
		})
	}
	time.Sleep(time.Duration(200+rand.N(200)) * time.Millisecond)
	mu.Lock()
	crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: unsynced, RNG: rand.New(rand.NewPCG(seed, 99))})
	type want struct {
		ok     map[[32]byte]bool
		absent bool
	}
	wants := map[string]want{}
	acks := 0
	for k, h := range hist {
		w := want{ok: map[[32]byte]bool{}, absent: h.acked < 0}
		from := max(h.acked-1, 0)
		for _, d := range h.attempts[from:] {
			w.ok[d] = true
		}
		if h.acked > 0 {
			acks++
		}
		wants[k] = w
	}
	mu.Unlock()
	close(stop)
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if acks < 5 {
		t.Fatalf("only %d values acknowledged before the cut; the test proves little", acks)
	}

	s = open(t, crashed, "/shard")
	defer s.Close()
	present := 0
	for k, w := range wants {
		v, err := s.Get(1, []byte(k))
		if errors.Is(err, store.ErrNotFound) {
			if !w.absent {
				t.Errorf("%s: acknowledged value lost", k)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		b, err := v.AppendTo(nil)
		v.Close()
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		d := blake3.Sum256(b)
		if d != v.Digest || !w.ok[d] {
			t.Errorf("%s: %d bytes that are neither the acknowledged value nor a later whole one", k, len(b))
		}
		present++
	}
	files := 0
	_ = s.Scan(1, nil, func(_ []byte, info store.Info) bool {
		if info.Size > inlineMax {
			files++
		}
		return true
	})
	if got := blobFiles(t, crashed, "/shard"); got != files {
		t.Errorf("%d blob files for %d file-backed values: orphans left", got, files)
	}
	t.Logf("%d keys, %d acknowledged, %d present after the cut", len(wants), acks, present)
}
