package names

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// decodePayload is the inverse of Change.payload, for tests: the signature
// covers the payload, so two changes must never encode alike, which a
// decoder that gives every payload back exactly proves. Nothing in the
// registry decodes payloads; it re-encodes the changes it gets.
func decodePayload(b []byte) (Change, error) {
	var c Change
	rest, ok := bytes.CutPrefix(b, []byte(Domain))
	if !ok {
		return c, errors.New("no domain label")
	}
	d := decoder{b: rest}
	c.Op = Op(d.u8())
	c.Name = d.str(MaxNameLen)
	switch c.Op {
	case OpWrite:
		c.Value = d.str(MaxValueLen)
		c.ACL = d.acl()
	case OpSetACL:
		c.ACL = d.acl()
	case OpDelete:
	default:
		return c, fmt.Errorf("op %d", c.Op)
	}
	c.Nonce = d.u32()
	copy(c.Pub[:], d.take(len(c.Pub)))
	if d.err == nil && len(d.b) > 0 {
		d.err = errors.New("trailing bytes")
	}
	return c, d.err
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil || n > len(d.b) {
		d.err = errors.New("truncated")
		return make([]byte, n)
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() byte    { return d.take(1)[0] }
func (d *decoder) u32() uint32 { return binary.LittleEndian.Uint32(d.take(4)) }

func (d *decoder) str(limit int) string {
	n := d.u32()
	if n > uint32(limit) {
		d.err = errors.New("string too long")
		return ""
	}
	return string(d.take(int(n)))
}

func (d *decoder) acl() ACL {
	var a ACL
	for _, list := range []*[]netip.Addr{&a.Write, &a.Admin} {
		n := int(binary.LittleEndian.Uint16(d.take(2)))
		if n > MaxPrincipals {
			d.err = errors.New("too many principals")
			return a
		}
		*list = []netip.Addr{}
		for range n {
			if d.u8() != principalUser {
				d.err = errors.New("not a user principal")
				return a
			}
			*list = append(*list, netip.AddrFrom16([16]byte(d.take(16))))
		}
	}
	return a
}

// FuzzPayload checks that the canonical encoding is one to one: every
// payload that decodes to a valid change is exactly that change's payload.
func FuzzPayload(f *testing.F) {
	acl := ACL{Write: []netip.Addr{addr(bob)}, Admin: []netip.Addr{addr(alice)}}
	for _, c := range []*Change{
		write(alice, "site", testRef, acl, 1),
		write(alice, strings.Repeat("a", 63), testRef2, CreatorACL(addr(alice)), 1<<32-1),
		del(alice, "site", 7),
		setACL(alice, "s", ACL{Write: manyAddrs(3), Admin: manyAddrs(2)}, 2),
	} {
		f.Add(c.payload())
	}
	f.Add([]byte(Domain))
	f.Add([]byte(Domain + "\x00\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodePayload(b)
		if err != nil || c.Check() != nil {
			return
		}
		if got := c.payload(); !bytes.Equal(got, b) {
			t.Fatalf("payload %x decodes to %+v, which encodes to %x", b, c, got)
		}
	})
}

// FuzzChangeJSON checks that decoding a change's JSON never panics and that
// a valid change survives a round trip through JSON.
func FuzzChangeJSON(f *testing.F) {
	for _, c := range []*Change{
		write(alice, "site", testRef, CreatorACL(addr(alice)), 1),
		del(alice, "site", 2),
		setACL(alice, "site", ACL{Write: []netip.Addr{addr(bob)}, Admin: []netip.Addr{addr(alice)}}, 3),
	} {
		b, _ := json.Marshal(c)
		f.Add(b)
	}
	f.Add([]byte(`{"op":"delete","key":"a","nonce":1,"pubkey_x25519":"","signature":""}`))
	f.Add([]byte(`{"acl":{"write":null,"admin":["400::"]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Change
		if err := json.Unmarshal(b, &c); err != nil || c.Check() != nil {
			return
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("marshal %+v: %v", c, err)
		}
		var d Change
		if err := json.Unmarshal(out, &d); err != nil || !reflect.DeepEqual(canon(d), canon(c)) {
			t.Fatalf("%s gave %+v, re-encoded as %s, which gives %+v, %v", b, c, out, d, err)
		}
		if !bytes.Equal(d.payload(), c.payload()) {
			t.Fatal("the round trip changed the signed payload")
		}
	})
}

// canon returns c with nil lists as empty ones, which JSON does not tell
// apart.
func canon(c Change) Change {
	c.ACL = c.ACL.Clone()
	return c
}

// FuzzStateJSON checks that decoding a state's JSON, as the client does
// with the registry's answers, never panics and accepts only valid states,
// which survive a round trip.
func FuzzStateJSON(f *testing.F) {
	s, err := Apply(nil, write(alice, "site", testRef, CreatorACL(addr(alice)), 1))
	if err != nil {
		f.Fatal(err)
	}
	b, _ := json.Marshal(s)
	f.Add(b)
	s.Deleted, s.Value, s.Op = true, "", OpDelete
	b, _ = json.Marshal(s)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var s State
		if err := json.Unmarshal(b, &s); err != nil {
			return
		}
		if err := s.Check(); err != nil {
			t.Fatalf("accepted an invalid state: %v", err)
		}
		out, _ := json.Marshal(s)
		var d State
		if err := json.Unmarshal(out, &d); err != nil || d.Name != s.Name || d.Value != s.Value || d.Nonce != s.Nonce || d.Sig != s.Sig || !d.ACL.Equal(&s.ACL) {
			t.Fatalf("round trip of %s: %+v, %v", out, d, err)
		}
	})
}

// FuzzCheck checks Check against a plain statement of the rule.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"a", "site", "-a", "a-", "0123456789abcdef0123456789abcdef", strings.Repeat("z", 63), strings.Repeat("z", 64), "A", "a.b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := len(s) >= 1 && len(s) <= 63 && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == "" &&
			s[0] != '-' && s[len(s)-1] != '-' && (len(s) != 32 || strings.Trim(s, "0123456789abcdef") != "")
		if err := Check(s); (err == nil) != want {
			t.Fatalf("Check(%q) = %v, want ok %v", s, err, want)
		}
	})
}
