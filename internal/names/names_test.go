package names

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/mycdn/mycdn/internal/xeddsa"
)

const (
	testRef  = "holo://00112233445566778899aabbccddeeff?key=ffeeddccbbaa99887766554433221100"
	testRef2 = "holo://0123456789abcdef0123456789abcdef?key=fedcba9876543210fedcba9876543210&prefix=a/b/"
)

var (
	alice = key(0x11)
	bob   = key(0x22)
	carol = key(0x33)
)

func key(b byte) *xeddsa.PrivateKey {
	var k xeddsa.PrivateKey
	for i := range k {
		k[i] = b
	}
	return &k
}

func addr(k *xeddsa.PrivateKey) netip.Addr { return k.PublicKey().Address() }

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"site", true},
		{"my-site-2", true},
		{"0", true},
		{"9-x", true},
		{strings.Repeat("a", 63), true},
		{strings.Repeat("0", 31), true},
		{strings.Repeat("0", 33), true},
		{strings.Repeat("a", 31) + "g", true}, // 32 characters, not all hex
		{"0123456789abcdef0123456789abcde-", false},
		{"0123456789abcdef0123456789abcdez", true},
		{"", false},
		{strings.Repeat("a", 64), false},
		{"0123456789abcdef0123456789abcdef", false},
		{"ffffffffffffffffffffffffffffffff", false},
		{"Site", false},
		{"-site", false},
		{"site-", false},
		{"-", false},
		{"my_site", false},
		{"my.site", false},
		{"my site", false},
		{"sité", false},
		{"site\x00", false},
	} {
		err := Check(tc.name)
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("Check(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

func unhex(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(parts, ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPayload checks the signed bytes against the layout of DESIGN §5
// written out by hand: label, op, u32 LE key, u32 LE value, u16 LE counts of
// 0x00-tagged principals, u32 LE nonce, public key.
func TestPayload(t *testing.T) {
	w := netip.MustParseAddr("400:1:2:3:4:5:6:7")
	a := netip.MustParseAddr("5ff:ffff:ffff:ffff:ffff:ffff:ffff:fffe")
	pub := alice.PublicKey()
	label := hex.EncodeToString([]byte(Domain))
	site := "04000000" + hex.EncodeToString([]byte("site"))
	acl := "0100" + "00" + "04000001000200030004000500060007" + "0100" + "00" + "05fffffffffffffffffffffffffffffe"
	nonce := "07010000" // 263
	for _, tc := range []struct {
		c    Change
		want []byte
	}{
		{Change{Op: OpWrite, Name: "site", Value: testRef, ACL: ACL{Write: []netip.Addr{w}, Admin: []netip.Addr{a}}, Nonce: 263, Pub: pub},
			unhex(t, label, "00", site, "4c000000", hex.EncodeToString([]byte(testRef)), acl, nonce, pub.String())},
		{Change{Op: OpDelete, Name: "site", Nonce: 263, Pub: pub},
			unhex(t, label, "01", site, nonce, pub.String())},
		{Change{Op: OpSetACL, Name: "site", ACL: ACL{Write: []netip.Addr{w}, Admin: []netip.Addr{a}}, Nonce: 263, Pub: pub},
			unhex(t, label, "02", site, acl, nonce, pub.String())},
		{Change{Op: OpSetACL, Name: "site", ACL: ACL{Admin: []netip.Addr{a, w}}, Nonce: 263, Pub: pub},
			unhex(t, label, "02", site, "0000", "0200", "00", "05fffffffffffffffffffffffffffffe", "00", "04000001000200030004000500060007", nonce, pub.String())},
	} {
		if len(testRef) != 0x4c {
			t.Fatalf("test reference of %d bytes", len(testRef))
		}
		if err := tc.c.Check(); err != nil {
			t.Fatalf("%v: %v", tc.c.Op, err)
		}
		if got := tc.c.payload(); !bytes.Equal(got, tc.want) {
			t.Errorf("%v payload\n got %x\nwant %x", tc.c.Op, got, tc.want)
		}
	}
}

func write(k *xeddsa.PrivateKey, name, value string, acl ACL, nonce uint32) *Change {
	c := &Change{Op: OpWrite, Name: name, Value: value, ACL: acl, Nonce: nonce}
	if err := c.Sign(k); err != nil {
		panic(err)
	}
	return c
}

func setACL(k *xeddsa.PrivateKey, name string, acl ACL, nonce uint32) *Change {
	c := &Change{Op: OpSetACL, Name: name, ACL: acl, Nonce: nonce}
	if err := c.Sign(k); err != nil {
		panic(err)
	}
	return c
}

func del(k *xeddsa.PrivateKey, name string, nonce uint32) *Change {
	c := &Change{Op: OpDelete, Name: name, Nonce: nonce}
	if err := c.Sign(k); err != nil {
		panic(err)
	}
	return c
}

func TestSignVerify(t *testing.T) {
	c := write(alice, "site", testRef, CreatorACL(addr(alice)), 1)
	if !c.Verify() || c.Pub != alice.PublicKey() {
		t.Fatal("a signed change does not verify")
	}
	for name, f := range map[string]func(c *Change){
		"op":        func(c *Change) { c.Op = OpSetACL; c.Value = "" },
		"name":      func(c *Change) { c.Name = "sitf" },
		"value":     func(c *Change) { c.Value = testRef2 },
		"acl":       func(c *Change) { c.ACL.Write = append(c.ACL.Write, addr(bob)) },
		"nonce":     func(c *Change) { c.Nonce++ },
		"pub":       func(c *Change) { c.Pub = bob.PublicKey() },
		"signature": func(c *Change) { c.Sig[5] ^= 1 },
		"invalid":   func(c *Change) { c.Value = "x" },
	} {
		d := *c
		d.ACL = c.ACL.Clone()
		f(&d)
		if d.Verify() {
			t.Errorf("a change with another %s verifies", name)
		}
	}
	bad := Change{Op: OpWrite, Name: "Bad", Value: testRef, ACL: CreatorACL(addr(alice)), Nonce: 1}
	if err := bad.Sign(alice); !errors.Is(err, ErrInvalid) || bad.Sig != (Signature{}) {
		t.Fatalf("signing an invalid change: %v", err)
	}
}

func TestChangeCheck(t *testing.T) {
	acl := CreatorACL(addr(alice))
	for name, c := range map[string]Change{
		"nonce 0":             {Op: OpWrite, Name: "s", Value: testRef, ACL: acl},
		"bad name":            {Op: OpWrite, Name: "S", Value: testRef, ACL: acl, Nonce: 1},
		"unknown op":          {Op: 3, Name: "s", Nonce: 1},
		"empty value":         {Op: OpWrite, Name: "s", ACL: acl, Nonce: 1},
		"http value":          {Op: OpWrite, Name: "s", Value: "http://127.0.0.1/00112233445566778899aabbccddeeff/ffeeddccbbaa99887766554433221100/", ACL: acl, Nonce: 1},
		"uppercase value":     {Op: OpWrite, Name: "s", Value: strings.ToUpper(testRef[:20]) + testRef[20:], ACL: acl, Nonce: 1},
		"long value":          {Op: OpWrite, Name: "s", Value: testRef + "&prefix=" + strings.Repeat("p", MaxValueLen), ACL: acl, Nonce: 1},
		"no admin":            {Op: OpWrite, Name: "s", Value: testRef, ACL: ACL{Write: []netip.Addr{addr(alice)}}, Nonce: 1},
		"twice":               {Op: OpSetACL, Name: "s", ACL: ACL{Admin: []netip.Addr{addr(alice), addr(bob), addr(alice)}}, Nonce: 1},
		"ipv4 principal":      {Op: OpSetACL, Name: "s", ACL: ACL{Admin: []netip.Addr{netip.MustParseAddr("10.0.0.1")}}, Nonce: 1},
		"not mycelium":        {Op: OpSetACL, Name: "s", ACL: ACL{Admin: []netip.Addr{netip.MustParseAddr("2001:db8::1")}}, Nonce: 1},
		"zone":                {Op: OpSetACL, Name: "s", ACL: ACL{Admin: []netip.Addr{netip.MustParseAddr("400::1%eth0")}}, Nonce: 1},
		"zero principal":      {Op: OpSetACL, Name: "s", ACL: ACL{Admin: []netip.Addr{{}}}, Nonce: 1},
		"set_acl with value":  {Op: OpSetACL, Name: "s", Value: testRef, ACL: acl, Nonce: 1},
		"delete with value":   {Op: OpDelete, Name: "s", Value: testRef, Nonce: 1},
		"delete with acl":     {Op: OpDelete, Name: "s", ACL: acl, Nonce: 1},
		"too many principals": {Op: OpSetACL, Name: "s", ACL: ACL{Admin: []netip.Addr{addr(alice)}, Write: manyAddrs(MaxPrincipals + 1)}, Nonce: 1},
	} {
		if err := c.Check(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Check = %v, want ErrInvalid", name, err)
		}
	}
	ok := Change{Op: OpSetACL, Name: "s", ACL: ACL{Admin: []netip.Addr{addr(alice)}, Write: manyAddrs(MaxPrincipals)}, Nonce: 1}
	if err := ok.Check(); err != nil {
		t.Errorf("%d writers: %v", MaxPrincipals, err)
	}
	if err := (&Change{Op: OpWrite, Name: "s", Value: testRef2, ACL: acl, Nonce: 1}).Check(); err != nil {
		t.Errorf("a reference with a prefix: %v", err)
	}
}

func manyAddrs(n int) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = netip.AddrFrom16([16]byte{4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)})
	}
	return out
}

// step applies c to the state in *cur, checking the error it must give,
// and replaces *cur on success.
func step(t *testing.T, cur **State, c *Change, want error) {
	t.Helper()
	next, err := Apply(*cur, c)
	if want == nil {
		if err != nil {
			t.Fatalf("%s of %q nonce %d by %v: %v", c.Op, c.Name, c.Nonce, c.Pub.Address(), err)
		}
		if err := next.Check(); err != nil {
			t.Fatalf("Apply made an invalid state: %v", err)
		}
		*cur = &next
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("%s of %q nonce %d by %v: %v, want %v", c.Op, c.Name, c.Nonce, c.Pub.Address(), err, want)
	}
}

func TestApply(t *testing.T) {
	A, B, C := addr(alice), addr(bob), addr(carol)
	var s *State
	creator := CreatorACL(A)

	// Creation rules.
	step(t, &s, del(alice, "site", 1), ErrNotFound)
	step(t, &s, setACL(alice, "site", creator, 1), ErrNotFound)
	step(t, &s, write(alice, "site", testRef, ACL{Admin: []netip.Addr{B}}, 1), ErrInvalid) // creator not admin
	step(t, &s, write(alice, "site", testRef, creator, 2), ErrConflict)                    // first nonce is 1
	first := write(alice, "site", testRef, creator, 1)
	step(t, &s, first, nil)
	if s.Value != testRef || s.Nonce != 1 || s.Deleted || !s.ACL.Equal(&creator) || s.Op != OpWrite || s.Pub != alice.PublicKey() || s.Sig != first.Sig {
		t.Fatalf("state after creation %+v", s)
	}

	// Wrong signatures.
	forged := write(bob, "site", testRef2, creator, 2)
	forged.Pub = alice.PublicKey()
	step(t, &s, forged, ErrBadSignature)
	tampered := write(alice, "site", testRef, creator, 2)
	tampered.Value = testRef2
	step(t, &s, tampered, ErrBadSignature)

	// Replays and stale or skipping nonces.
	step(t, &s, first, ErrConflict)
	step(t, &s, write(alice, "site", testRef2, creator, 1), ErrConflict)
	step(t, &s, write(alice, "site", testRef2, creator, 3), ErrConflict)
	step(t, &s, write(alice, "site", testRef2, creator, 2), nil)

	// Another name's change does not apply.
	step(t, &s, write(alice, "other", testRef, creator, 3), ErrInvalid)

	// A stranger may not write, delete or change the ACL.
	step(t, &s, write(bob, "site", testRef, creator, 3), ErrDenied)
	step(t, &s, del(bob, "site", 3), ErrDenied)
	step(t, &s, setACL(bob, "site", CreatorACL(B), 3), ErrDenied)

	// A writer writes, with the name's ACL only, and may do nothing else.
	withBob := ACL{Write: []netip.Addr{B}, Admin: []netip.Addr{A}}
	step(t, &s, &Change{Op: OpSetACL, Name: "site", ACL: ACL{Write: []netip.Addr{B}}, Nonce: 3, Pub: alice.PublicKey()}, ErrInvalid) // no admin left
	step(t, &s, setACL(alice, "site", withBob, 3), nil)
	if s.Value != testRef2 || s.Op != OpSetACL {
		t.Fatalf("set_acl changed the value: %+v", s)
	}
	step(t, &s, write(bob, "site", testRef, creator, 4), ErrConflict) // signed over an old ACL
	step(t, &s, write(bob, "site", testRef, withBob, 4), nil)
	step(t, &s, del(bob, "site", 5), ErrDenied)
	step(t, &s, setACL(bob, "site", ACL{Write: []netip.Addr{B}, Admin: []netip.Addr{B}}, 5), ErrDenied)

	// A writer removed from the ACL may no longer write, even with a change
	// signed before the removal.
	early := write(bob, "site", testRef2, withBob, 6)
	step(t, &s, setACL(alice, "site", creator, 5), nil)
	step(t, &s, early, ErrDenied)
	step(t, &s, write(bob, "site", testRef2, creator, 6), ErrDenied)

	// Admin hand-over: alice adds carol as admin, carol removes alice.
	step(t, &s, setACL(alice, "site", ACL{Admin: []netip.Addr{A, C}}, 6), nil)
	onlyCarol := ACL{Admin: []netip.Addr{C}}
	step(t, &s, setACL(carol, "site", onlyCarol, 7), nil)
	step(t, &s, write(alice, "site", testRef, onlyCarol, 8), ErrDenied)
	step(t, &s, setACL(alice, "site", creator, 8), ErrDenied)
	step(t, &s, write(carol, "site", testRef, onlyCarol, 8), nil)

	// Delete, then re-create: the tombstone keeps the nonce and the ACL.
	beforeDelete := write(carol, "site", testRef2, onlyCarol, 10)
	step(t, &s, del(carol, "site", 9), nil)
	if !s.Deleted || s.Value != "" || s.Nonce != 9 || !s.ACL.Equal(&onlyCarol) {
		t.Fatalf("tombstone %+v", s)
	}
	step(t, &s, del(carol, "site", 10), ErrNotFound)
	step(t, &s, write(alice, "site", testRef, CreatorACL(A), 10), ErrDenied) // not a new name: nobody else takes it
	step(t, &s, write(carol, "site", testRef, onlyCarol, 9), ErrConflict)    // stale
	// A writer may not re-create a deleted name; its admins may.
	step(t, &s, setACL(carol, "site", ACL{Write: []netip.Addr{B}, Admin: []netip.Addr{C}}, 10), nil)
	if !s.Deleted {
		t.Fatal("set_acl re-created a deleted name")
	}
	step(t, &s, write(bob, "site", testRef, s.ACL, 11), ErrDenied)
	step(t, &s, setACL(carol, "site", onlyCarol, 11), nil)
	step(t, &s, beforeDelete, ErrConflict) // signed before the delete, with a nonce now used
	step(t, &s, write(carol, "site", testRef2, onlyCarol, 12), nil)
	if s.Deleted || s.Value != testRef2 || s.Nonce != 12 {
		t.Fatalf("re-created state %+v", s)
	}
}

func TestNonceSpace(t *testing.T) {
	s := &State{Name: "site", Value: testRef, ACL: CreatorACL(addr(alice)), Nonce: 1<<32 - 1}
	step(t, &s, write(alice, "site", testRef2, s.ACL, 1<<32-1), ErrConflict)
	step(t, &s, write(alice, "site", testRef2, s.ACL, 1), ErrConflict)
}

func TestJSON(t *testing.T) {
	acl := ACL{Write: []netip.Addr{addr(bob)}, Admin: []netip.Addr{addr(alice)}}
	for _, c := range []*Change{
		write(alice, "site", testRef, acl, 1),
		del(alice, "site", 2),
		setACL(alice, "site", acl, 3),
	} {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var got Change
		if err := json.Unmarshal(b, &got); err != nil || !got.Verify() {
			t.Fatalf("%s: %v", b, err)
		}
		if c.Op == OpDelete && (strings.Contains(string(b), `"acl"`) || strings.Contains(string(b), `"value"`)) {
			t.Errorf("delete JSON %s carries an acl or a value", b)
		}
	}
	c := write(alice, "site", testRef, CreatorACL(addr(alice)), 1)
	b, _ := json.Marshal(c)
	want := `{"op":"write","key":"site","value":"` + testRef + `","acl":{"write":[],"admin":["` + addr(alice).String() +
		`"]},"nonce":1,"pubkey_x25519":"` + alice.PublicKey().String() + `","signature":"` + hex.EncodeToString(c.Sig[:]) + `"}`
	if string(b) != want {
		t.Fatalf("JSON\n got %s\nwant %s", b, want)
	}
	for name, in := range map[string]string{
		"unknown field":   strings.Replace(want, `"nonce"`, `"extra":1,"nonce"`, 1),
		"no op":           strings.Replace(want, `"op":"write",`, "", 1),
		"bad op":          strings.Replace(want, `"op":"write"`, `"op":"append"`, 1),
		"no pubkey":       strings.Replace(want, `"pubkey_x25519":"`+alice.PublicKey().String()+`",`, "", 1),
		"short pubkey":    strings.Replace(want, alice.PublicKey().String(), alice.PublicKey().String()[2:], 1),
		"bad hex":         strings.Replace(want, `"signature":"`, `"signature":"zz`, 1),
		"long signature":  strings.Replace(want, `"signature":"`, `"signature":"00`, 1),
		"negative nonce":  strings.Replace(want, `"nonce":1`, `"nonce":-1`, 1),
		"huge nonce":      strings.Replace(want, `"nonce":1`, `"nonce":4294967296`, 1),
		"trailing":        want + "{}",
		"acl field":       strings.Replace(want, `"write":[]`, `"writers":[]`, 1),
		"bad principal":   strings.Replace(want, addr(alice).String(), "not an address", 1),
		"not an object":   `[]`,
		"number as value": strings.Replace(want, `"`+testRef+`"`, "1", 1),
	} {
		var c Change
		if err := json.Unmarshal([]byte(in), &c); err == nil {
			t.Errorf("%s: accepted %s", name, in)
		}
	}

	s, err := Apply(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(s)
	wantState := `{"key":"site","value":"` + testRef + `","deleted":false,"nonce":1,"acl":{"write":[],"admin":["` + addr(alice).String() +
		`"]},"op":"write","pubkey_x25519":"` + alice.PublicKey().String() + `","signature":"` + hex.EncodeToString(c.Sig[:]) + `"}`
	if string(b) != wantState {
		t.Fatalf("state JSON\n got %s\nwant %s", b, wantState)
	}
	var got State
	if err := json.Unmarshal(b, &got); err != nil || got.Name != s.Name || got.Sig != s.Sig || !got.ACL.Equal(&s.ACL) {
		t.Fatalf("state round trip: %+v, %v", got, err)
	}
	for name, in := range map[string]string{
		"deleted with value": strings.Replace(wantState, `"deleted":false`, `"deleted":true`, 1),
		"live without value": strings.Replace(wantState, testRef, "", 1),
		"nonce 0":            strings.Replace(wantState, `"nonce":1`, `"nonce":0`, 1),
		"no admin":           strings.Replace(wantState, `"admin":["`+addr(alice).String()+`"]`, `"admin":[]`, 1),
		"bad name":           strings.Replace(wantState, `"key":"site"`, `"key":"-"`, 1),
		"unknown field":      strings.Replace(wantState, `"key"`, `"x":0,"key"`, 1),
	} {
		var st State
		if err := json.Unmarshal([]byte(in), &st); !errors.Is(err, ErrInvalid) {
			t.Errorf("state %s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestEdit(t *testing.T) {
	A, B, C := addr(alice), addr(bob), addr(carol)
	acl := ACL{Write: []netip.Addr{A, B}, Admin: []netip.Addr{A}}
	e := Edit{AddWriters: []netip.Addr{C, B, C}, RemoveWriters: []netip.Addr{A}, AddAdmins: []netip.Addr{C}, RemoveAdmins: []netip.Addr{B}}
	got := e.Apply(acl)
	want := ACL{Write: []netip.Addr{B, C}, Admin: []netip.Addr{A, C}}
	if !got.Equal(&want) {
		t.Fatalf("edit gave %+v, want %+v", got, want)
	}
	if acl.Write[0] != A || len(acl.Write) != 2 {
		t.Fatal("edit changed its input")
	}
	if e.Empty() || !(&Edit{}).Empty() {
		t.Fatal("Empty is wrong")
	}
	// Removing and adding one principal adds it.
	got = (&Edit{AddAdmins: []netip.Addr{B}, RemoveAdmins: []netip.Addr{B}}).Apply(acl)
	if !got.IsAdmin(B) {
		t.Fatal("add after remove did not add")
	}
}

// TestPayloadExample checks the example of docs/registry.md.
func TestPayloadExample(t *testing.T) {
	pub := alice.PublicKey()
	if pub.String() != "7b4e909bbe7ffe44c465a220037d608ee35897d31ef972f07f74892cb0f73f13" || addr(alice).String() != "5ea:4578:6f:62c8:bee5:3ee9:c3f0:1fc6" {
		t.Fatalf("key of 0x11 bytes: public key %v, address %v", pub, addr(alice))
	}
	c := Change{Op: OpWrite, Name: "site", Value: testRef, ACL: CreatorACL(addr(alice)), Nonce: 1, Pub: pub}
	want := unhex(t, hex.EncodeToString([]byte("mycdn-names-v1")), "00", "04000000", "73697465", "4c000000", hex.EncodeToString([]byte(testRef)),
		"0000", "0100", "00", "05ea4578006f62c8bee53ee9c3f01fc6", "01000000", "7b4e909bbe7ffe44c465a220037d608ee35897d31ef972f07f74892cb0f73f13")
	if got := c.payload(); !bytes.Equal(got, want) {
		t.Fatalf("payload\n got %x\nwant %x", got, want)
	}
}

// BenchmarkApply measures the registry's check of a change: an XEdDSA
// verification, the nonce and the ACL.
func BenchmarkApply(b *testing.B) {
	cur, err := Apply(nil, write(alice, "site", testRef, CreatorACL(addr(alice)), 1))
	if err != nil {
		b.Fatal(err)
	}
	c := write(alice, "site", testRef2, cur.ACL, 2)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Apply(&cur, c); err != nil {
			b.Fatal(err)
		}
	}
}
