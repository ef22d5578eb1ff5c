package names

import (
	"encoding/json"
	"fmt"

	"github.com/mycdn/mycdn/internal/xeddsa"
)

// State is what the registry keeps of a name: its value, ACL and nonce,
// and the last change, so anyone can check who made it. In JSON:
//
//	{"key": "<name>", "value": "holo://…", "deleted": false, "nonce": 3,
//	 "acl": {"write": […], "admin": […]},
//	 "op": "write", "pubkey_x25519": "<64 hex>", "signature": "<128 hex>"}
type State struct {
	// Name is the name (the reference's key).
	Name string
	// Value is the reference the name points at; empty when Deleted.
	Value string
	// Deleted is set by a delete and cleared by the write that re-creates
	// the name.
	Deleted bool
	// ACL says who may change the name; a delete keeps it.
	ACL ACL
	// Nonce is the nonce of the last change; the next one carries Nonce+1.
	Nonce uint32
	// Op, Pub and Sig are the last change's op, signer and signature.
	Op  Op
	Pub xeddsa.PublicKey
	Sig Signature
}

// Check returns an error matching [ErrInvalid] unless s is a state that
// [Apply] can produce: a valid name, value (empty when deleted) and ACL, a
// nonce of at least 1 and a known op. It does not check the signature.
func (s *State) Check() error {
	if err := Check(s.Name); err != nil {
		return err
	}
	if s.Nonce == 0 {
		return fmt.Errorf("%w: state at nonce 0", ErrInvalid)
	}
	if s.Op > OpSetACL {
		return fmt.Errorf("%w: unknown op %d", ErrInvalid, uint8(s.Op))
	}
	if s.Deleted != (s.Value == "") {
		return fmt.Errorf("%w: a state has a value exactly when it is not deleted", ErrInvalid)
	}
	if !s.Deleted {
		if err := CheckValue(s.Value); err != nil {
			return err
		}
	}
	return s.ACL.Check()
}

// Apply returns the state of a name after change c, given its current state
// cur (nil for a name never written); see the package's rules. Errors
// match [ErrInvalid] for a malformed change, [ErrBadSignature],
// [ErrDenied] when the signer may not make the change, [ErrNotFound] when
// it needs a name that does not exist or is deleted already, and
// [ErrConflict] when its nonce is not cur's + 1 or a write carries an ACL
// other than cur's.
func Apply(cur *State, c *Change) (State, error) {
	if err := c.Check(); err != nil {
		return State{}, err
	}
	if cur != nil && cur.Name != c.Name {
		return State{}, fmt.Errorf("%w: a change of %q applied to the state of %q", ErrInvalid, c.Name, cur.Name)
	}
	if !c.Verify() {
		return State{}, fmt.Errorf("%w: %s of %q with nonce %d by %v", ErrBadSignature, c.Op, c.Name, c.Nonce, c.Pub)
	}
	if err := allowed(cur, c); err != nil {
		return State{}, err
	}
	var prev uint32
	if cur != nil {
		prev = cur.Nonce
	}
	switch next := uint64(prev) + 1; {
	case uint64(c.Nonce) < next:
		return State{}, fmt.Errorf("%w: nonce %d is not after the name's nonce %d: the change is stale or replayed (the next change of %q carries nonce %d)",
			ErrConflict, c.Nonce, prev, c.Name, next)
	case uint64(c.Nonce) > next:
		return State{}, fmt.Errorf("%w: nonce %d skips ahead of the name's nonce %d (the next change of %q carries nonce %d)",
			ErrConflict, c.Nonce, prev, c.Name, next)
	}
	if c.Op == OpWrite && cur != nil && !cur.ACL.Equal(&c.ACL) {
		return State{}, fmt.Errorf("%w: the write carries an ACL other than the name's: read the name's state and sign again", ErrConflict)
	}
	s := State{Name: c.Name, Nonce: c.Nonce, Op: c.Op, Pub: c.Pub, Sig: c.Sig}
	switch c.Op {
	case OpWrite:
		s.Value, s.ACL = c.Value, c.ACL.Clone()
	case OpDelete:
		s.Deleted, s.ACL = true, cur.ACL.Clone()
	case OpSetACL:
		s.Value, s.Deleted, s.ACL = cur.Value, cur.Deleted, c.ACL.Clone()
	}
	return s, nil
}

// allowed returns an error unless c's signer may make c on cur.
func allowed(cur *State, c *Change) error {
	who := c.Pub.Address()
	if cur == nil {
		if c.Op != OpWrite {
			return fmt.Errorf("%w: %q: a %s needs an existing name", ErrNotFound, c.Name, c.Op)
		}
		if !c.ACL.IsAdmin(who) {
			return fmt.Errorf("%w: the ACL of a new name must list its creator %v as an admin", ErrInvalid, who)
		}
		return nil
	}
	admin := cur.ACL.IsAdmin(who)
	switch {
	case c.Op == OpWrite && cur.Deleted && !admin:
		return fmt.Errorf("%w: %v is not an admin of %q: only admins may re-create a deleted name", ErrDenied, who, c.Name)
	case c.Op == OpWrite && !cur.ACL.IsWriter(who):
		return fmt.Errorf("%w: %v is neither a writer nor an admin of %q", ErrDenied, who, c.Name)
	case c.Op != OpWrite && !admin:
		return fmt.Errorf("%w: %v is not an admin of %q: only admins may %s", ErrDenied, who, c.Name, c.Op)
	case c.Op == OpDelete && cur.Deleted:
		return fmt.Errorf("%w: %q is deleted already", ErrNotFound, c.Name)
	}
	return nil
}

// stateJSON is the JSON form of a State.
type stateJSON struct {
	Key     string   `json:"key"`
	Value   string   `json:"value"`
	Deleted bool     `json:"deleted"`
	Nonce   uint32   `json:"nonce"`
	ACL     ACL      `json:"acl"`
	Op      Op       `json:"op"`
	Pub     hexBytes `json:"pubkey_x25519"`
	Sig     hexBytes `json:"signature"`
}

// MarshalJSON implements [json.Marshaler].
func (s State) MarshalJSON() ([]byte, error) {
	return json.Marshal(stateJSON{Key: s.Name, Value: s.Value, Deleted: s.Deleted, Nonce: s.Nonce, ACL: s.ACL,
		Op: s.Op, Pub: s.Pub[:], Sig: s.Sig[:]})
}

// UnmarshalJSON implements [json.Unmarshaler], refusing unknown fields and
// states that do not pass [State.Check].
func (s *State) UnmarshalJSON(b []byte) error {
	var j stateJSON
	if err := decodeStrict(b, &j); err != nil {
		return err
	}
	st := State{Name: j.Key, Value: j.Value, Deleted: j.Deleted, Nonce: j.Nonce, ACL: j.ACL, Op: j.Op}
	if err := fixed(st.Pub[:], j.Pub, "pubkey_x25519"); err != nil {
		return err
	}
	if err := fixed(st.Sig[:], j.Sig, "signature"); err != nil {
		return err
	}
	if err := st.Check(); err != nil {
		return err
	}
	*s = st
	return nil
}
