package names

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
)

// MaxPrincipals is the most principals each list of an ACL holds.
const MaxPrincipals = 256

// principalUser is the tag of a user principal in the canonical encoding;
// the reference's group principals (tag 1) are not supported.
const principalUser = 0x00

// ACL says who may change a name. Principals are Mycelium addresses, in JSON
// in IPv6 text form. Order matters: the signature covers the lists as they
// are.
type ACL struct {
	// Write lists the principals that may write the value.
	Write []netip.Addr `json:"write"`
	// Admin lists the principals that may write, delete and change the ACL.
	Admin []netip.Addr `json:"admin"`
}

// CreatorACL returns the ACL of a name created by pub: pub its only admin,
// no writers, as the reference's client creates names.
func CreatorACL(pub netip.Addr) ACL {
	return ACL{Write: []netip.Addr{}, Admin: []netip.Addr{pub}}
}

// IsAdmin reports whether p may write, delete and change the ACL.
func (a *ACL) IsAdmin(p netip.Addr) bool { return slices.Contains(a.Admin, p) }

// IsWriter reports whether p may write the value: a writer or an admin.
func (a *ACL) IsWriter(p netip.Addr) bool { return slices.Contains(a.Write, p) || a.IsAdmin(p) }

// Equal reports whether a and b hold the same lists in the same order.
func (a *ACL) Equal(b *ACL) bool {
	return slices.Equal(a.Write, b.Write) && slices.Equal(a.Admin, b.Admin)
}

// Clone returns a copy of a that shares no memory with it; empty lists are
// non-nil.
func (a *ACL) Clone() ACL {
	return ACL{Write: append([]netip.Addr{}, a.Write...), Admin: append([]netip.Addr{}, a.Admin...)}
}

// MarshalJSON writes empty lists as [], not null.
func (a ACL) MarshalJSON() ([]byte, error) {
	type plain ACL
	return json.Marshal(plain(a.Clone()))
}

// Check returns an error matching [ErrInvalid] unless a has at least one
// admin, at most [MaxPrincipals] per list, no principal twice in a list, and
// only Mycelium addresses.
func (a *ACL) Check() error {
	if len(a.Admin) == 0 {
		return fmt.Errorf("%w: an ACL needs at least one admin", ErrInvalid)
	}
	for _, l := range []struct {
		name string
		list []netip.Addr
	}{{"write", a.Write}, {"admin", a.Admin}} {
		if len(l.list) > MaxPrincipals {
			return fmt.Errorf("%w: %d principals in the %s list, at most %d", ErrInvalid, len(l.list), l.name, MaxPrincipals)
		}
		for i, p := range l.list {
			if err := CheckPrincipal(p); err != nil {
				return fmt.Errorf("%s list: %w", l.name, err)
			}
			if slices.Contains(l.list[:i], p) {
				return fmt.Errorf("%w: %v is twice in the %s list", ErrInvalid, p, l.name)
			}
		}
	}
	return nil
}

// CheckPrincipal returns an error matching [ErrInvalid] unless p is a
// Mycelium address: IPv6, in 400::/7, without a zone.
func CheckPrincipal(p netip.Addr) error {
	if !p.Is6() || p.Zone() != "" || p.As16()[0]&0xfe != 0x04 {
		return fmt.Errorf("%w: principal %v is not a Mycelium address (an IPv6 address in 400::/7)", ErrInvalid, p)
	}
	return nil
}

// appendCanonical appends a in the reference's canonical encoding.
func (a *ACL) appendCanonical(b []byte) []byte {
	for _, list := range [][]netip.Addr{a.Write, a.Admin} {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(list)))
		for _, p := range list {
			a16 := p.As16()
			b = append(append(b, principalUser), a16[:]...)
		}
	}
	return b
}

// Edit is a change to an ACL's lists.
type Edit struct {
	AddWriters, RemoveWriters, AddAdmins, RemoveAdmins []netip.Addr
}

// Empty reports whether e changes nothing.
func (e *Edit) Empty() bool {
	return len(e.AddWriters)+len(e.RemoveWriters)+len(e.AddAdmins)+len(e.RemoveAdmins) == 0
}

// Apply returns a with e's removals, then its additions: principals already
// listed keep their place, new ones are appended in e's order.
func (e *Edit) Apply(a ACL) ACL {
	return ACL{Write: edit(a.Write, e.RemoveWriters, e.AddWriters), Admin: edit(a.Admin, e.RemoveAdmins, e.AddAdmins)}
}

func edit(list, remove, add []netip.Addr) []netip.Addr {
	out := []netip.Addr{}
	for _, p := range list {
		if !slices.Contains(remove, p) {
			out = append(out, p)
		}
	}
	for _, p := range add {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
