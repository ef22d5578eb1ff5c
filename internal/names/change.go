package names

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/mycdn/mycdn/internal/xeddsa"
	"github.com/mycdn/mycdn/ref"
)

// Domain is the label that precedes the canonical encoding of every signed
// change, so that its signatures mean nothing anywhere else.
const Domain = "mycdn-names-v1"

// MaxValueLen is the longest value, in bytes.
const MaxValueLen = 1024

// Op is what a change does. Its values are the reference's op bytes.
type Op uint8

// The operations.
const (
	OpWrite  Op = 0 // set the value (and create or re-create the name)
	OpDelete Op = 1 // leave a tombstone
	OpSetACL Op = 2 // replace the ACL
)

var opNames = [...]string{OpWrite: "write", OpDelete: "delete", OpSetACL: "set_acl"}

// String returns "write", "delete" or "set_acl": the op's name in JSON.
func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// MarshalText implements [encoding.TextMarshaler].
func (o Op) MarshalText() ([]byte, error) {
	if int(o) >= len(opNames) {
		return nil, fmt.Errorf("%w: unknown op %d", ErrInvalid, uint8(o))
	}
	return []byte(o.String()), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler].
func (o *Op) UnmarshalText(b []byte) error {
	for i, n := range opNames {
		if string(b) == n {
			*o = Op(i)
			return nil
		}
	}
	return fmt.Errorf("%w: unknown op %.20q (want write, delete or set_acl)", ErrInvalid, b)
}

// Signature is an XEdDSA signature.
type Signature [xeddsa.SignatureSize]byte

// Change is a signed change to a name: the body of a POST to the name in the
// registry's API. In JSON:
//
//	{"op": "write", "key": "<name>", "value": "holo://…", "acl": {"write": […], "admin": […]},
//	 "nonce": 1, "pubkey_x25519": "<64 hex>", "signature": "<128 hex>"}
//
// A delete has neither value nor acl; a set_acl has no value.
type Change struct {
	Op Op
	// Name is the name changed (the reference's key).
	Name string
	// Value is the new value of a write: a reference in holo:// form as
	// [ref.Ref.String] writes it.
	Value string
	// ACL is the name's ACL: for a write, the current one (the creator's
	// for a new name), for a set-ACL, the new one.
	ACL ACL
	// Nonce is the name's nonce + 1.
	Nonce uint32
	// Pub is the signer's X25519 public key.
	Pub xeddsa.PublicKey
	// Sig is the signature by Pub of [Domain] + the canonical encoding.
	Sig Signature
}

// Check returns an error matching [ErrInvalid] unless c is well formed: a
// valid name, a known op, a nonce of at least 1, a value (a canonical
// holo:// reference) on writes only, and a valid ACL on writes and set-ACLs
// only. It does not check the signature.
func (c *Change) Check() error {
	if err := Check(c.Name); err != nil {
		return err
	}
	if c.Nonce == 0 {
		return fmt.Errorf("%w: nonce 0: the first change of a name has nonce 1", ErrInvalid)
	}
	switch c.Op {
	case OpWrite:
		if err := CheckValue(c.Value); err != nil {
			return err
		}
		return c.ACL.Check()
	case OpSetACL:
		if c.Value != "" {
			return fmt.Errorf("%w: a set_acl carries no value", ErrInvalid)
		}
		return c.ACL.Check()
	case OpDelete:
		if c.Value != "" || len(c.ACL.Write)+len(c.ACL.Admin) > 0 {
			return fmt.Errorf("%w: a delete carries no value or acl", ErrInvalid)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown op %d", ErrInvalid, uint8(c.Op))
}

// CheckValue returns an error matching [ErrInvalid] unless v is a reference
// in holo:// form exactly as [ref.Ref.String] writes it, at most
// [MaxValueLen] bytes.
func CheckValue(v string) error {
	if len(v) > MaxValueLen {
		return fmt.Errorf("%w: value of %d bytes, at most %d", ErrInvalid, len(v), MaxValueLen)
	}
	r, err := ref.Parse(v)
	if err != nil {
		return fmt.Errorf("%w: value: %w", ErrInvalid, err)
	}
	if r.String() != v {
		return fmt.Errorf("%w: value %.100q: want the holo:// form %s", ErrInvalid, v, r)
	}
	return nil
}

// payload returns the bytes c's signature covers: [Domain], then the
// canonical encoding. It is meaningful only for a change that passes Check,
// whose lengths fit their fields.
func (c *Change) payload() []byte {
	n := len(Domain) + 1 + 4 + len(c.Name) + 4 + len(c.Value) + 4 + 17*(len(c.ACL.Write)+len(c.ACL.Admin)) + 4 + xeddsa.PublicKeySize
	b := make([]byte, 0, n)
	b = append(b, Domain...)
	b = append(b, byte(c.Op))
	b = appendString(b, c.Name)
	switch c.Op {
	case OpWrite:
		b = appendString(b, c.Value)
		b = c.ACL.appendCanonical(b)
	case OpSetACL:
		b = c.ACL.appendCanonical(b)
	}
	b = binary.LittleEndian.AppendUint32(b, c.Nonce)
	return append(b, c.Pub[:]...)
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// Sign sets c.Pub to k's public key and c.Sig to k's signature of c. It
// fails, leaving c unsigned, when c does not pass [Change.Check].
func (c *Change) Sign(k *xeddsa.PrivateKey) error {
	if err := c.Check(); err != nil {
		return err
	}
	c.Pub = k.PublicKey()
	copy(c.Sig[:], xeddsa.Sign(k, c.payload()))
	return nil
}

// Verify reports whether c passes [Change.Check] and c.Sig is c.Pub's
// signature of it.
func (c *Change) Verify() bool {
	return c.Check() == nil && xeddsa.Verify(&c.Pub, c.payload(), c.Sig[:])
}

// changeJSON is the JSON form of a Change.
type changeJSON struct {
	Op    *Op      `json:"op"`
	Key   string   `json:"key"`
	Value string   `json:"value,omitempty"`
	ACL   *ACL     `json:"acl,omitempty"`
	Nonce uint32   `json:"nonce"`
	Pub   hexBytes `json:"pubkey_x25519"`
	Sig   hexBytes `json:"signature"`
}

// MarshalJSON implements [json.Marshaler].
func (c Change) MarshalJSON() ([]byte, error) {
	j := changeJSON{Op: &c.Op, Key: c.Name, Value: c.Value, Nonce: c.Nonce, Pub: c.Pub[:], Sig: c.Sig[:]}
	if c.Op != OpDelete {
		j.ACL = &c.ACL
	}
	return json.Marshal(j)
}

// UnmarshalJSON implements [json.Unmarshaler]. It refuses unknown fields
// and a missing op, pubkey_x25519 or signature; it does not call
// [Change.Check].
func (c *Change) UnmarshalJSON(b []byte) error {
	var j changeJSON
	if err := decodeStrict(b, &j); err != nil {
		return err
	}
	if j.Op == nil || j.Pub == nil || j.Sig == nil {
		return fmt.Errorf("%w: want op, pubkey_x25519 and signature", ErrInvalid)
	}
	*c = Change{Op: *j.Op, Name: j.Key, Value: j.Value, Nonce: j.Nonce}
	if j.ACL != nil {
		c.ACL = *j.ACL
	}
	if err := fixed(c.Pub[:], j.Pub, "pubkey_x25519"); err != nil {
		return err
	}
	return fixed(c.Sig[:], j.Sig, "signature")
}

// decodeStrict decodes one JSON value from b into v, refusing unknown
// fields and trailing data. Errors match [ErrInvalid].
func decodeStrict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: data after the JSON object", ErrInvalid)
	}
	return nil
}

// hexBytes is bytes in JSON as lowercase hexadecimal.
type hexBytes []byte

func (h hexBytes) MarshalText() ([]byte, error) { return hex.AppendEncode(nil, h), nil }

func (h *hexBytes) UnmarshalText(b []byte) error {
	if len(b) > 2*xeddsa.SignatureSize {
		return fmt.Errorf("%w: %d hex characters, at most %d", ErrInvalid, len(b), 2*xeddsa.SignatureSize)
	}
	d, err := hex.AppendDecode([]byte{}, b)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	*h = d
	return nil
}

// fixed copies src to dst, which it must fill exactly.
func fixed(dst, src []byte, field string) error {
	if len(src) != len(dst) {
		return fmt.Errorf("%w: %s: want %d hex characters, got %d", ErrInvalid, field, 2*len(dst), 2*len(src))
	}
	copy(dst, src)
	return nil
}
