package registryclient_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mycdn/mycdn/internal/names"
	"github.com/mycdn/mycdn/internal/registryclient"
	"github.com/mycdn/mycdn/internal/registryserver"
	"github.com/mycdn/mycdn/internal/xeddsa"
	"github.com/mycdn/mycdn/meta"
	"github.com/mycdn/mycdn/ref"
)

var (
	alice = xeddsa.GenerateKey()
	bob   = xeddsa.GenerateKey()
)

func testRef(i byte) ref.Ref { return ref.Ref{Lookup: meta.Hash{i, 1}, Key: meta.Hash{i, 2}} }

func mustResolve(t *testing.T, c *registryclient.Client, name string, want ref.Ref) {
	t.Helper()
	got, err := c.Resolve(t.Context(), name)
	if err != nil || got != want {
		t.Fatalf("resolve %q = %v, %v; want %v", name, got, err, want)
	}
}

func TestNames(t *testing.T) {
	s := newRegistry(t, registryserver.Options{Open: true})
	c := newClient(t, s.URL, &registryclient.Options{})
	ctx := t.Context()

	before := s.requests.Load()
	for _, bad := range []string{"Bad", "0123456789abcdef0123456789abcdef", ""} {
		if _, err := c.Resolve(ctx, bad); !errors.Is(err, names.ErrInvalid) {
			t.Fatalf("resolve %q: %v; want names.ErrInvalid", bad, err)
		}
	}
	if s.requests.Load() != before {
		t.Fatal("bad names were sent")
	}
	if _, err := c.Resolve(ctx, "site"); !errors.Is(err, names.ErrNotFound) {
		t.Fatalf("resolve of a new name: %v; want names.ErrNotFound", err)
	}

	st, err := c.SetName(ctx, &alice, "site", testRef(1))
	if err != nil || st.Nonce != 1 || !st.ACL.Equal(&names.ACL{Admin: []netip.Addr{alice.PublicKey().Address()}}) {
		t.Fatalf("create: %+v, %v", st, err)
	}
	mustResolve(t, c, "site", testRef(1))
	if st, err := c.SetName(ctx, &alice, "site", testRef(2)); err != nil || st.Nonce != 2 {
		t.Fatalf("update: %+v, %v", st, err)
	}
	mustResolve(t, c, "site", testRef(2))

	_, err = c.SetName(ctx, &bob, "site", testRef(3))
	var se *registryclient.StatusError
	if !errors.Is(err, names.ErrDenied) || !errors.As(err, &se) || se.Code != http.StatusForbidden {
		t.Fatalf("a stranger's write: %v; want names.ErrDenied", err)
	}
	addBob := names.Edit{AddWriters: []netip.Addr{bob.PublicKey().Address()}}
	if _, err := c.EditNameACL(ctx, &bob, "site", addBob); !errors.Is(err, names.ErrDenied) {
		t.Fatalf("a stranger's ACL change: %v", err)
	}
	if st, err := c.EditNameACL(ctx, &alice, "site", addBob); err != nil || !st.ACL.IsWriter(bob.PublicKey().Address()) || st.Value != testRef(2).String() {
		t.Fatalf("add a writer: %+v, %v", st, err)
	}
	if _, err := c.SetName(ctx, &bob, "site", testRef(3)); err != nil {
		t.Fatalf("a writer's write: %v", err)
	}
	mustResolve(t, c, "site", testRef(3))
	if _, err := c.DeleteName(ctx, &bob, "site"); !errors.Is(err, names.ErrDenied) {
		t.Fatalf("a writer's delete: %v", err)
	}

	// Delete, then re-create.
	st, err = c.DeleteName(ctx, &alice, "site")
	if err != nil || !st.Deleted || st.Nonce != 5 {
		t.Fatalf("delete: %+v, %v", st, err)
	}
	if _, err := c.Resolve(ctx, "site"); !errors.Is(err, names.ErrNotFound) {
		t.Fatalf("resolve of a deleted name: %v", err)
	}
	if st, err := c.Name(ctx, "site"); err != nil || !st.Deleted || !st.ACL.IsWriter(bob.PublicKey().Address()) {
		t.Fatalf("the tombstone: %+v, %v", st, err)
	}
	if _, err := c.DeleteName(ctx, &alice, "site"); !errors.Is(err, names.ErrNotFound) {
		t.Fatalf("delete of a deleted name: %v", err)
	}
	if _, err := c.SetName(ctx, &bob, "site", testRef(4)); !errors.Is(err, names.ErrDenied) {
		t.Fatalf("a writer re-creates a deleted name: %v", err)
	}
	if st, err := c.SetName(ctx, &alice, "site", testRef(4)); err != nil || st.Deleted || st.Nonce != 6 || !st.ACL.IsWriter(bob.PublicKey().Address()) {
		t.Fatalf("re-create: %+v, %v", st, err)
	}
	mustResolve(t, c, "site", testRef(4))

	if _, err := c.DeleteName(ctx, &alice, "never"); !errors.Is(err, names.ErrNotFound) {
		t.Fatalf("delete of a new name: %v", err)
	}
	if _, err := c.EditNameACL(ctx, &alice, "never", addBob); !errors.Is(err, names.ErrNotFound) {
		t.Fatalf("ACL of a new name: %v", err)
	}
	withPath := testRef(5)
	withPath.Path = "index.html"
	if _, err := c.SetName(ctx, &alice, "site", withPath); !errors.Is(err, names.ErrInvalid) {
		t.Fatalf("a reference with a path: %v", err)
	}
	// A change whose nonce is stale is refused with names.ErrConflict.
	stale := names.Change{Op: names.OpWrite, Name: "site", Value: testRef(6).String(), ACL: st.ACL, Nonce: 1}
	if err := stale.Sign(&alice); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Change(ctx, &stale); !errors.Is(err, names.ErrConflict) || !errors.As(err, &se) || se.Code != http.StatusConflict {
		t.Fatalf("stale change: %v", err)
	}
}

// TestNameConcurrentSet checks that writers setting one name at once all
// succeed, each reading the nonce again when another took it.
func TestNameConcurrentSet(t *testing.T) {
	s := newRegistry(t, registryserver.Options{Open: true})
	c := newClient(t, s.URL, &registryclient.Options{})
	if _, err := c.SetName(t.Context(), &alice, "race", testRef(0)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EditNameACL(t.Context(), &alice, "race", names.Edit{AddWriters: []netip.Addr{bob.PublicKey().Address()}}); err != nil {
		t.Fatal(err)
	}
	const each = 5
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for i, k := range []*xeddsa.PrivateKey{&alice, &bob} {
		wg.Go(func() {
			for j := range each {
				if _, err := c.SetName(t.Context(), k, "race", testRef(byte(10*i+j))); err != nil {
					errs <- fmt.Errorf("writer %d, set %d: %w", i, j, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st, err := c.Name(t.Context(), "race"); err != nil || st.Nonce != 2+2*each {
		t.Fatalf("after %d sets: %+v, %v", 2*each, st, err)
	}
}

// TestNameLostAnswer checks that a change applied by the registry whose
// answer is lost counts as applied when its retry is refused as stale.
func TestNameLostAnswer(t *testing.T) {
	s := newRegistry(t, registryserver.Options{Open: true})
	c := newClient(t, s.URL, &registryclient.Options{})
	var lost atomic.Bool
	var posts atomic.Int64
	s.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost {
			return false
		}
		posts.Add(1)
		if lost.Swap(true) {
			return false
		}
		s.reg.ServeHTTP(httptest.NewRecorder(), r) // applied, but the answer is lost
		w.WriteHeader(http.StatusBadGateway)
		return true
	})
	st, err := c.SetName(t.Context(), &alice, "lost", testRef(1))
	if err != nil || st.Nonce != 1 || st.Value != testRef(1).String() {
		t.Fatalf("set with a lost answer: %+v, %v", st, err)
	}
	if n := posts.Load(); n != 2 {
		t.Fatalf("%d POSTs, want the lost one and its retry", n)
	}
}

// TestNameCreateCredentials checks that on a registry that is not open, the
// client's token lets any key create a name.
func TestNameCreateCredentials(t *testing.T) {
	s := newRegistry(t, registryserver.Options{})
	if _, err := newClient(t, s.URL, &registryclient.Options{}).SetName(t.Context(), &alice, "a", testRef(1)); !errors.Is(err, names.ErrDenied) {
		t.Fatalf("create without credentials: %v; want names.ErrDenied", err)
	}
	if _, err := newClient(t, s.URL, nil).SetName(t.Context(), &alice, "a", testRef(1)); err != nil {
		t.Fatalf("create with a token: %v", err)
	}
	if _, err := newClient(t, s.URL, &registryclient.Options{}).SetName(t.Context(), &writerKey, "b", testRef(1)); err != nil {
		t.Fatalf("create by a writer of the registry: %v", err)
	}
}

// TestNameBadAnswers checks that states the registry should not answer
// are refused.
func TestNameBadAnswers(t *testing.T) {
	s := newRegistry(t, registryserver.Options{Open: true})
	c := newClient(t, s.URL, &registryclient.Options{})
	if _, err := c.SetName(t.Context(), &alice, "other", testRef(1)); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"not json":      "{",
		"invalid state": `{"key":"site","value":"x","deleted":false,"nonce":1,"acl":{"write":[],"admin":[]},"op":"write","pubkey_x25519":"","signature":""}`,
		"another name":  "",
	} {
		s.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if body == "" {
				r.URL.Path = "/api/v1/names/other"
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(body))
			return true
		})
		_, err := c.Resolve(t.Context(), "site")
		if err == nil || errors.Is(err, names.ErrInvalid) || errors.Is(err, names.ErrNotFound) {
			t.Errorf("%s: %v; want an error of its own", name, err)
		}
	}
}
