package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/mycdn/mycdn/internal/names"
	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/ref"
)

// NameState returns a valid state of name at nonce, made from seed: the
// stores do not check signatures, so its Pub and Sig are arbitrary bytes.
// Its ACL has writers writers and two admins.
func NameState(name, seed string, nonce uint32, writers int) names.State {
	b := make([]byte, 32+32+64+16*(writers+2))
	h := blake3.New()
	h.WriteString(seed)
	if _, err := h.Digest().Read(b); err != nil {
		panic(err) // reading a BLAKE3 XOF cannot fail
	}
	st := names.State{Name: name, Nonce: nonce, Op: names.OpWrite}
	var r ref.Ref
	copy(r.Lookup[:], b[:16])
	copy(r.Key[:], b[16:32])
	st.Value = r.String()
	copy(st.Pub[:], b[32:64])
	copy(st.Sig[:], b[64:128])
	p := b[128:]
	principal := func() netip.Addr {
		a := [16]byte(p[:16])
		p = p[16:]
		a[0] = 0x04 | a[0]&1
		return netip.AddrFrom16(a)
	}
	st.ACL.Write = []netip.Addr{}
	for range writers {
		st.ACL.Write = append(st.ACL.Write, principal())
	}
	st.ACL.Admin = []netip.Addr{principal(), principal()}
	return st
}

// sameState reports whether a and b are equal, empty and nil lists alike.
func sameState(a, b names.State) bool {
	return a.Name == b.Name && a.Value == b.Value && a.Deleted == b.Deleted && a.Nonce == b.Nonce &&
		a.Op == b.Op && a.Pub == b.Pub && a.Sig == b.Sig && a.ACL.Equal(&b.ACL)
}

func setName(t *testing.T, s registry.Store, prev uint32, st names.State) {
	t.Helper()
	if err := s.SetName(ctxT(t), prev, st); err != nil {
		t.Fatalf("set name %q from nonce %d: %v", st.Name, prev, err)
	}
}

func mustName(t *testing.T, s registry.Store, want names.State) {
	t.Helper()
	got, err := s.GetName(ctxT(t), want.Name)
	if err != nil {
		t.Fatalf("get name %q: %v", want.Name, err)
	}
	if !sameState(got, want) {
		t.Fatalf("get name %q = %+v, want %+v", want.Name, got, want)
	}
}

func testNameNotFound(t *testing.T, s registry.Store) {
	if st, err := s.GetName(ctxT(t), "absent"); !errors.Is(err, names.ErrNotFound) {
		t.Errorf("get of an absent name = %+v, %v; want names.ErrNotFound", st, err)
	}
	setName(t, s, 0, NameState("present", "x", 1, 0))
	for _, n := range []string{"absent", "presen", "present-2"} {
		if _, err := s.GetName(ctxT(t), n); !errors.Is(err, names.ErrNotFound) {
			t.Errorf("get of absent %q beside a stored name: %v; want names.ErrNotFound", n, err)
		}
	}
	// Names and blobs do not share keys.
	b, h := Blob("beside a name", 10)
	put(t, s, h, b)
	if _, err := s.GetName(ctxT(t), h.String()[:31]); !errors.Is(err, names.ErrNotFound) {
		t.Errorf("a blob reads as a name: %v", err)
	}
}

func testNameSetGet(t *testing.T, s registry.Store) {
	long := strings.Repeat("z", names.MaxNameLen)
	states := []names.State{NameState("site", "one", 1, 0), NameState(long, "two", 1, names.MaxPrincipals)}
	for _, st := range states {
		setName(t, s, 0, st)
	}
	for _, st := range states {
		mustName(t, s, st)
	}
	// Each change replaces the state; a tombstone keeps nonce and ACL.
	next := NameState("site", "three", 2, 3)
	next.Op = names.OpSetACL
	setName(t, s, 1, next)
	mustName(t, s, next)
	tomb := next
	tomb.Nonce, tomb.Op, tomb.Deleted, tomb.Value = 3, names.OpDelete, true, ""
	setName(t, s, 2, tomb)
	mustName(t, s, tomb)
	again := NameState("site", "four", 4, 1)
	setName(t, s, 3, again)
	mustName(t, s, again)
	mustName(t, s, states[1])
	// The largest nonce.
	top := NameState("top", "five", 1<<32-1, 0)
	setName(t, s, 0, NameState("top", "six", 1<<32-2, 0))
	setName(t, s, 1<<32-2, top)
	mustName(t, s, top)
}

// testNameCompareAndSet checks that a state is replaced only from the
// nonce the caller expects.
func testNameCompareAndSet(t *testing.T, s registry.Store) {
	first := NameState("cas", "first", 1, 1)
	setName(t, s, 0, first)
	if err := s.SetName(ctxT(t), 0, NameState("cas", "again", 1, 1)); !errors.Is(err, names.ErrConflict) {
		t.Fatalf("creating a stored name: %v; want names.ErrConflict", err)
	}
	for _, prev := range []uint32{2, 5, 1<<32 - 1} {
		if err := s.SetName(ctxT(t), prev, NameState("cas", "wrong", prev+1, 0)); !errors.Is(err, names.ErrConflict) {
			t.Fatalf("set from nonce %d when at 1: %v; want names.ErrConflict", prev, err)
		}
	}
	mustName(t, s, first)
	if err := s.SetName(ctxT(t), 1, NameState("other", "x", 2, 0)); !errors.Is(err, names.ErrConflict) {
		t.Fatalf("update of an absent name: %v; want names.ErrConflict", err)
	}
	if _, err := s.GetName(ctxT(t), "other"); !errors.Is(err, names.ErrNotFound) {
		t.Fatalf("a failed update stored a name: %v", err)
	}
}

// testNameConcurrent races writers that change one name from the same
// nonce: in every round exactly one wins, and its state is the one kept.
func testNameConcurrent(t *testing.T, s registry.Store) {
	const workers, rounds = 8, 10
	for round := range uint32(rounds) {
		var wg sync.WaitGroup
		errs := make([]error, workers)
		for w := range workers {
			wg.Go(func() {
				errs[w] = s.SetName(ctxT(t), round, NameState("race", fmt.Sprint(round, w), round+1, w))
			})
		}
		wg.Wait()
		winner := -1
		for w, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: writers %d and %d both won", round, winner, w)
			case err == nil:
				winner = w
			case !errors.Is(err, names.ErrConflict):
				t.Fatalf("round %d: writer %d: %v", round, w, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no writer won", round)
		}
		mustName(t, s, NameState("race", fmt.Sprint(round, winner), round+1, winner))
	}
}

// testNameOwned checks that the store keeps no reference to the state
// given to SetName and hands out states the caller may change.
func testNameOwned(t *testing.T, s registry.Store) {
	st := NameState("owned", "owned", 1, 2)
	in := st
	in.ACL = st.ACL.Clone()
	setName(t, s, 0, in)
	in.ACL.Write[0], in.ACL.Admin[0] = in.ACL.Admin[1], in.ACL.Write[1]
	out, err := s.GetName(ctxT(t), "owned")
	if err != nil {
		t.Fatal(err)
	}
	out.ACL.Write[0], out.ACL.Admin[0] = out.ACL.Admin[1], out.ACL.Write[1]
	mustName(t, s, st)
}

func testNameCancelled(t *testing.T, s registry.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.SetName(ctx, 0, NameState("cancelled", "x", 1, 0)); !errors.Is(err, context.Canceled) {
		t.Errorf("set name with a cancelled context: %v; want context.Canceled", err)
	}
	if _, err := s.GetName(ctx, "cancelled"); !errors.Is(err, context.Canceled) {
		t.Errorf("get name with a cancelled context: %v; want context.Canceled", err)
	}
	if _, err := s.GetName(ctxT(t), "cancelled"); !errors.Is(err, names.ErrNotFound) {
		t.Errorf("a set with a cancelled context stored the name: %v", err)
	}
}
