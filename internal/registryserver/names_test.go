package registryserver_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/mycdn/mycdn/internal/names"
	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/internal/registryserver"
	"github.com/mycdn/mycdn/internal/xeddsa"
)

const (
	ref1 = "holo://00112233445566778899aabbccddeeff?key=ffeeddccbbaa99887766554433221100"
	ref2 = "holo://0123456789abcdef0123456789abcdef?key=fedcba9876543210fedcba9876543210"
)

var (
	alice = xeddsa.GenerateKey()
	bob   = xeddsa.GenerateKey()
	carol = xeddsa.GenerateKey()
)

func addr(k *xeddsa.PrivateKey) netip.Addr { return k.PublicKey().Address() }

func acl(writers []*xeddsa.PrivateKey, admins ...*xeddsa.PrivateKey) names.ACL {
	a := names.ACL{Write: []netip.Addr{}}
	for _, k := range writers {
		a.Write = append(a.Write, addr(k))
	}
	for _, k := range admins {
		a.Admin = append(a.Admin, addr(k))
	}
	return a
}

// signedChange returns c signed by k.
func signedChange(t testing.TB, k *xeddsa.PrivateKey, c names.Change) *names.Change {
	t.Helper()
	if err := c.Sign(k); err != nil {
		t.Fatal(err)
	}
	return &c
}

func writeChange(t testing.TB, k *xeddsa.PrivateKey, name, value string, a names.ACL, nonce uint32) *names.Change {
	return signedChange(t, k, names.Change{Op: names.OpWrite, Name: name, Value: value, ACL: a, Nonce: nonce})
}

func aclChange(t testing.TB, k *xeddsa.PrivateKey, name string, a names.ACL, nonce uint32) *names.Change {
	return signedChange(t, k, names.Change{Op: names.OpSetACL, Name: name, ACL: a, Nonce: nonce})
}

func deleteChange(t testing.TB, k *xeddsa.PrivateKey, name string, nonce uint32) *names.Change {
	return signedChange(t, k, names.Change{Op: names.OpDelete, Name: name, Nonce: nonce})
}

func marshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// send posts c to its name and checks the answer's status; a 200 must carry
// the state c makes.
func send(t *testing.T, base string, c *names.Change, want int, headers ...string) reply {
	t.Helper()
	r := do(t, "POST", base+registry.NamePath(c.Name), bodyOf(marshal(t, c)), headers...)
	if r.code != want {
		t.Fatalf("%s of %q nonce %d by %v: %d %s, want %d", c.Op, c.Name, c.Nonce, c.Pub.Address(), r.code, r.body, want)
	}
	if want != http.StatusOK {
		r.errorMessage(t)
		return r
	}
	var st names.State
	if err := json.Unmarshal(r.body, &st); err != nil || st.Nonce != c.Nonce || st.Sig != c.Sig || st.Op != c.Op {
		t.Fatalf("%s answered %s (%v)", c.Op, r.body, err)
	}
	return r
}

// state returns the state of name, failing t unless GET answers 200.
func state(t *testing.T, base, name string) names.State {
	t.Helper()
	r := do(t, "GET", base+registry.NamePath(name), nil)
	var st names.State
	if r.code != http.StatusOK || r.header.Get("Content-Type") != "application/json" || json.Unmarshal(r.body, &st) != nil {
		t.Fatalf("GET name %q = %d %q", name, r.code, r.body)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("GET name: Cache-Control %q, want no-cache", cc)
	}
	return st
}

func TestNames(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Run("Rules", func(t *testing.T) { testNameRules(t, serve(t, st.open(t), registryserver.Options{Open: true})) })
			t.Run("Create", func(t *testing.T) { testNameCreate(t, st.open(t)) })
			t.Run("BadRequests", func(t *testing.T) { testNameBadRequests(t, serve(t, st.open(t), registryserver.Options{Open: true})) })
			t.Run("Concurrent", func(t *testing.T) { testNameConcurrent(t, serve(t, st.open(t), registryserver.Options{Open: true})) })
		})
	}
}

// testNameRules walks a name through every rule of DESIGN §5 over HTTP.
func testNameRules(t *testing.T, base string) {
	const site = "site"
	if r := do(t, "GET", base+registry.NamePath(site), nil); r.code != http.StatusNotFound || !strings.Contains(r.errorMessage(t), "name not found") {
		t.Fatalf("GET of a new name: %d %s", r.code, r.body)
	}
	onlyAlice := acl(nil, &alice)
	send(t, base, deleteChange(t, &alice, site, 1), http.StatusNotFound)
	send(t, base, aclChange(t, &alice, site, onlyAlice, 1), http.StatusNotFound)
	send(t, base, writeChange(t, &alice, site, ref1, acl(nil, &bob), 1), http.StatusBadRequest) // the creator must be admin
	first := writeChange(t, &alice, site, ref1, onlyAlice, 1)
	send(t, base, first, http.StatusOK)
	if st := state(t, base, site); st.Value != ref1 || st.Nonce != 1 || st.Deleted || !st.ACL.Equal(&onlyAlice) || st.Pub != alice.PublicKey() {
		t.Fatalf("state after creation: %+v", st)
	}

	// Wrong signature: by another key, over other bytes, or damaged.
	forged := writeChange(t, &bob, site, ref2, onlyAlice, 2)
	forged.Pub = alice.PublicKey()
	r := send(t, base, forged, http.StatusUnauthorized)
	if !strings.Contains(r.errorMessage(t), "signature does not verify") {
		t.Fatalf("forged: %s", r.body)
	}
	tampered := writeChange(t, &alice, site, ref1, onlyAlice, 2)
	tampered.Value = ref2
	send(t, base, tampered, http.StatusUnauthorized)
	damaged := writeChange(t, &alice, site, ref2, onlyAlice, 2)
	damaged.Sig[63] ^= 0x10
	send(t, base, damaged, http.StatusUnauthorized)

	// A replayed request, a stale nonce and a nonce that skips ahead.
	if r := send(t, base, first, http.StatusConflict); !strings.Contains(r.errorMessage(t), "stale or replayed") {
		t.Fatalf("replay: %s", r.body)
	}
	send(t, base, writeChange(t, &alice, site, ref2, onlyAlice, 1), http.StatusConflict)
	send(t, base, writeChange(t, &alice, site, ref2, onlyAlice, 3), http.StatusConflict)
	if st := state(t, base, site); st.Value != ref1 || st.Nonce != 1 {
		t.Fatalf("refused changes changed the state: %+v", st)
	}
	send(t, base, writeChange(t, &alice, site, ref2, onlyAlice, 2), http.StatusOK)

	// A writer not in the ACL may do nothing.
	send(t, base, writeChange(t, &bob, site, ref1, onlyAlice, 3), http.StatusForbidden)
	send(t, base, deleteChange(t, &bob, site, 3), http.StatusForbidden)
	send(t, base, aclChange(t, &bob, site, acl(nil, &bob), 3), http.StatusForbidden)

	// Added as a writer, bob writes, with the name's ACL, and does nothing else.
	withBob := acl([]*xeddsa.PrivateKey{&bob}, &alice)
	send(t, base, aclChange(t, &alice, site, withBob, 3), http.StatusOK)
	send(t, base, writeChange(t, &bob, site, ref1, onlyAlice, 4), http.StatusConflict) // an old ACL
	send(t, base, writeChange(t, &bob, site, ref1, withBob, 4), http.StatusOK)
	send(t, base, deleteChange(t, &bob, site, 5), http.StatusForbidden)
	send(t, base, aclChange(t, &bob, site, acl(nil, &bob), 5), http.StatusForbidden)

	// Removed from the ACL, bob may no longer write, not even with a change
	// he signed before.
	early := writeChange(t, &bob, site, ref2, withBob, 6)
	send(t, base, aclChange(t, &alice, site, onlyAlice, 5), http.StatusOK)
	send(t, base, early, http.StatusForbidden)
	send(t, base, writeChange(t, &bob, site, ref2, onlyAlice, 6), http.StatusForbidden)

	// Admin hand-over: alice makes carol an admin, carol removes alice.
	send(t, base, aclChange(t, &alice, site, acl(nil, &alice, &carol), 6), http.StatusOK)
	onlyCarol := acl(nil, &carol)
	send(t, base, aclChange(t, &carol, site, onlyCarol, 7), http.StatusOK)
	send(t, base, writeChange(t, &alice, site, ref1, onlyCarol, 8), http.StatusForbidden)
	send(t, base, aclChange(t, &alice, site, onlyAlice, 8), http.StatusForbidden)
	send(t, base, writeChange(t, &carol, site, ref1, onlyCarol, 8), http.StatusOK)

	// Delete, then re-create: the tombstone keeps the nonce and the ACL, so
	// only carol may re-create the name, and nothing signed before returns.
	beforeDelete := writeChange(t, &carol, site, ref2, onlyCarol, 10)
	send(t, base, deleteChange(t, &carol, site, 9), http.StatusOK)
	if st := state(t, base, site); !st.Deleted || st.Value != "" || st.Nonce != 9 || !st.ACL.Equal(&onlyCarol) || st.Op != names.OpDelete {
		t.Fatalf("tombstone %+v", st)
	}
	send(t, base, deleteChange(t, &carol, site, 10), http.StatusNotFound)
	send(t, base, writeChange(t, &alice, site, ref1, onlyAlice, 10), http.StatusForbidden)
	send(t, base, writeChange(t, &carol, site, ref1, onlyCarol, 1), http.StatusConflict)
	send(t, base, aclChange(t, &carol, site, acl([]*xeddsa.PrivateKey{&bob}, &carol), 10), http.StatusOK)
	send(t, base, writeChange(t, &bob, site, ref1, acl([]*xeddsa.PrivateKey{&bob}, &carol), 11), http.StatusForbidden) // writers do not re-create
	send(t, base, aclChange(t, &carol, site, onlyCarol, 11), http.StatusOK)
	send(t, base, beforeDelete, http.StatusConflict)
	send(t, base, writeChange(t, &carol, site, ref2, onlyCarol, 12), http.StatusOK)
	if st := state(t, base, site); st.Deleted || st.Value != ref2 || st.Nonce != 12 {
		t.Fatalf("re-created %+v", st)
	}
}

// testNameCreate checks who may create names on a registry that is not
// open: its writers and holders of its tokens. Changes to existing names
// follow their ACLs only.
func testNameCreate(t *testing.T, store registry.Store) {
	base := serve(t, store, writeOpts())
	send(t, base, writeChange(t, &alice, "a", ref1, acl(nil, &alice), 1), http.StatusForbidden)
	send(t, base, writeChange(t, &alice, "a", ref1, acl(nil, &alice), 1), http.StatusForbidden, "Authorization: Bearer wrong")
	send(t, base, writeChange(t, &alice, "a", ref1, acl(nil, &alice), 1), http.StatusOK, bearer)
	send(t, base, writeChange(t, &writerKey, "b", ref1, acl(nil, &writerKey), 1), http.StatusOK)
	// alice, not a writer of the registry, changes and re-creates her name.
	send(t, base, writeChange(t, &alice, "a", ref2, acl(nil, &alice), 2), http.StatusOK)
	send(t, base, deleteChange(t, &alice, "a", 3), http.StatusOK)
	send(t, base, writeChange(t, &alice, "a", ref1, acl(nil, &alice), 4), http.StatusOK)
	// A refused creation stores nothing.
	if r := do(t, "GET", base+registry.NamePath("c"), nil); r.code != http.StatusNotFound {
		t.Fatalf("GET of a refused name: %d", r.code)
	}
	send(t, base, writeChange(t, &alice, "c", ref1, acl(nil, &alice), 1), http.StatusForbidden)
	if r := do(t, "GET", base+registry.NamePath("c"), nil); r.code != http.StatusNotFound {
		t.Fatalf("a refused creation stored the name: %d", r.code)
	}
}

func testNameBadRequests(t *testing.T, base string) {
	good := marshal(t, writeChange(t, &alice, "site", ref1, acl(nil, &alice), 1))
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
	}{
		{"hex name", "GET", "/0123456789abcdef0123456789abcdef", "", http.StatusBadRequest},
		{"uppercase", "GET", "/Site", "", http.StatusBadRequest},
		{"long", "GET", "/" + strings.Repeat("a", 64), "", http.StatusBadRequest},
		{"dot", "POST", "/my.site", string(good), http.StatusBadRequest},
		{"other key", "POST", "/other", string(good), http.StatusBadRequest},
		{"not json", "POST", "/site", "{", http.StatusBadRequest},
		{"unknown field", "POST", "/site", strings.Replace(string(good), `"nonce"`, `"x":1,"nonce"`, 1), http.StatusBadRequest},
		{"no op", "POST", "/site", strings.Replace(string(good), `"op":"write",`, "", 1), http.StatusBadRequest},
		{"value not a reference", "POST", "/site", strings.Replace(string(good), ref1, "https://example.org/", 1), http.StatusBadRequest},
		{"principal not mycelium", "POST", "/site", strings.Replace(string(good), addr(&alice).String(), "2001:db8::1", 1), http.StatusBadRequest},
		{"huge", "POST", "/site", `{"key":"` + strings.Repeat("a", registry.MaxNameBody) + `"}`, http.StatusRequestEntityTooLarge},
		{"PUT", "PUT", "/site", string(good), http.StatusMethodNotAllowed},
		{"DELETE", "DELETE", "/site", "", http.StatusMethodNotAllowed},
		{"sub path", "GET", "/site/acl", "", http.StatusNotFound},
	} {
		r := do(t, tc.method, base+registry.NamesPath+tc.path, strings.NewReader(tc.body))
		if r.code != tc.code {
			t.Errorf("%s: %s %s = %d %s, want %d", tc.name, tc.method, tc.path, r.code, r.body, tc.code)
			continue
		}
		r.errorMessage(t)
	}
	// A body of unknown length over the limit.
	r := do(t, "POST", base+registry.NamePath("site"), chunked{strings.NewReader(strings.Repeat(" ", registry.MaxNameBody+1))})
	if r.code != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked huge body: %d", r.code)
	}
	if r := do(t, "GET", base+registry.NamePath("site"), nil); r.code != http.StatusNotFound {
		t.Fatalf("a bad request stored the name: %d", r.code)
	}
}

// testNameConcurrent races changes signed with the same nonce, by one
// writer and by several: in every round exactly one is applied, the others
// get 409, and the state is the winner's.
func testNameConcurrent(t *testing.T, base string) {
	const workers, rounds = 6, 8
	keys := []*xeddsa.PrivateKey{&alice, &bob, &carol}
	var shared names.ACL
	for round := range uint32(rounds) {
		changes := make([]*names.Change, workers)
		for w := range changes {
			a := shared
			if round == 0 { // racing creators, each making all three writers
				a = acl(keys, keys[w%len(keys)])
			}
			value := fmt.Sprintf("holo://%032x?key=%032x", round, w)
			changes[w] = writeChange(t, keys[w%len(keys)], "race", value, a, round+1)
		}
		codes := make([]int, workers)
		var wg sync.WaitGroup
		for w, c := range changes {
			wg.Go(func() {
				codes[w] = do(t, "POST", base+registry.NamePath("race"), bodyOf(marshal(t, c))).code
			})
		}
		wg.Wait()
		winner := -1
		for w, code := range codes {
			switch {
			case code == http.StatusOK && winner >= 0:
				t.Fatalf("round %d: changes %d and %d both applied", round, winner, w)
			case code == http.StatusOK:
				winner = w
			case code != http.StatusConflict:
				t.Fatalf("round %d: change %d answered %d", round, w, code)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no change applied (%v)", round, codes)
		}
		if st := state(t, base, "race"); st.Value != changes[winner].Value || st.Sig != changes[winner].Sig {
			t.Fatalf("round %d: state %+v is not the winner's", round, st)
		}
		if round == 0 {
			shared = state(t, base, "race").ACL // the winner's: every key writes
		}
	}
}
