package shardproto

import (
	"encoding"
	"errors"
	"fmt"
	"strings"
)

// Commands of our own, beside the standard Redis ones.
const (
	CmdChallenge = "CHALLENGE"  // CHALLENGE -> 64 hex chars
	CmdToken     = "TOKEN"      // TOKEN <pubkey hex> <signature hex> -> session token
	CmdDigest    = "DIGEST"     // DIGEST <key> -> 64 hex chars of BLAKE3-256 of the value, or nil
	CmdDBCreate  = "DB.CREATE"  // DB.CREATE <db> <mode>
	CmdACLGrant  = "ACL.GRANT"  // ACL.GRANT <db> <pubkey hex> <read|write|admin>
	CmdACLRevoke = "ACL.REVOKE" // ACL.REVOKE <db> <pubkey hex>
	CmdACLList   = "ACL.LIST"   // ACL.LIST [db]
)

// Error prefixes of the replies, as Redis uses them.
const (
	ErrPrefixNoAuth    = "NOAUTH"    // the command needs a login
	ErrPrefixNoPerm    = "NOPERM"    // the logged-in key lacks the right
	ErrPrefixWrongPass = "WRONGPASS" // a token, signature or secret was refused
)

// Limits both ends agree on.
const (
	// MaxKeyLen is the longest key a shard store accepts. Content shards use
	// 16-byte keys.
	MaxKeyLen = 512
	// DefaultMaxValue is the default largest value: shards are at most
	// 5 MiB + 17 bytes, so 8 MiB leaves room.
	DefaultMaxValue = 8 << 20
	// MaxDB is the highest database number (databases are u16 in metadata).
	MaxDB = 1<<16 - 1
	// DigestSize is the size of a DIGEST: BLAKE3-256.
	DigestSize = 32
)

// ErrBadKey reports a key that is empty or longer than [MaxKeyLen].
var ErrBadKey = errors.New("key must be 1 to 512 bytes")

// CheckKey reports whether key may be stored.
func CheckKey(key []byte) error {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return fmt.Errorf("%w, got %d", ErrBadKey, len(key))
	}
	return nil
}

// Mode is a database's access mode.
type Mode uint8

// Modes of a database.
const (
	// Private databases need a read grant to read and a write grant to write.
	Private Mode = iota + 1
	// PublicRead databases can be read without login (the reference gateway
	// never logs in); writes need a write grant.
	PublicRead
	// PublicRW databases can be read and written by anyone who can connect:
	// for development.
	PublicRW
)

var modeNames = enum[Mode]{"database mode", []string{"private", "public-read", "public-rw"}}

// String returns the mode's name as written in shard.toml.
func (m Mode) String() string { return modeNames.name(m) }

// ParseMode parses "private", "public-read" or "public-rw".
func ParseMode(s string) (Mode, error) { return modeNames.parse(s) }

// MarshalText implements [encoding.TextMarshaler].
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler].
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	*m = v
	return err
}

// Right is what a key may do in a database. Each right includes the ones
// below it: admin includes write, write includes read.
type Right uint8

// Rights, in increasing order.
const (
	Read Right = iota + 1
	Write
	Admin
)

var rightNames = enum[Right]{"right", []string{"read", "write", "admin"}}

// String returns the right's name.
func (r Right) String() string { return rightNames.name(r) }

// ParseRight parses "read", "write" or "admin".
func ParseRight(s string) (Right, error) { return rightNames.parse(s) }

// enum names the values 1, 2, ... of an enumeration.
type enum[T ~uint8] struct {
	kind  string
	names []string // names[i] is the name of value i+1
}

func (e enum[T]) name(v T) string {
	if v >= 1 && int(v) <= len(e.names) {
		return e.names[v-1]
	}
	return fmt.Sprintf("%s(%d)", e.kind, uint8(v))
}

func (e enum[T]) parse(s string) (T, error) {
	for i, n := range e.names {
		if s == n {
			return T(i + 1), nil
		}
	}
	last := len(e.names) - 1
	return 0, fmt.Errorf("unknown %s %q: want %s or %s", e.kind, s, strings.Join(e.names[:last], ", "), e.names[last])
}

// Includes reports whether r grants at least want.
func (r Right) Includes(want Right) bool { return r >= want }

// MarshalText implements [encoding.TextMarshaler].
func (r Right) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler].
func (r *Right) UnmarshalText(b []byte) error {
	v, err := ParseRight(string(b))
	*r = v
	return err
}

var (
	_ encoding.TextUnmarshaler = (*Mode)(nil)
	_ encoding.TextUnmarshaler = (*Right)(nil)
)
