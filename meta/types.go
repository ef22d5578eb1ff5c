package meta

import (
	"encoding/hex"
	"fmt"
	"net/netip"
)

// Hash is a 16-byte BLAKE3 hash: the first 16 bytes of the BLAKE3 digest.
// Depending on its place it is a content key, a shard key or a lookup key.
type Hash [16]byte

// Nonce is a 12-byte AES-GCM nonce.
type Nonce [12]byte

// ParseHash parses exactly 32 hexadecimal characters.
func ParseHash(s string) (Hash, error) {
	var h Hash
	err := parseHex(h[:], s)
	return h, err
}

// ParseNonce parses exactly 24 hexadecimal characters.
func ParseNonce(s string) (Nonce, error) {
	var n Nonce
	err := parseHex(n[:], s)
	return n, err
}

func parseHex(dst []byte, s string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("want %d hex characters, got %d", 2*len(dst), len(s))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("bad hex: %w", err)
	}
	return nil
}

// String returns h as 32 lowercase hexadecimal characters.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText implements [encoding.TextMarshaler] with [Hash.String].
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler] with [ParseHash].
func (h *Hash) UnmarshalText(b []byte) error {
	v, err := ParseHash(string(b))
	if err != nil {
		return fmt.Errorf("hash: %w", err)
	}
	*h = v
	return nil
}

// String returns n as 24 lowercase hexadecimal characters.
func (n Nonce) String() string { return hex.EncodeToString(n[:]) }

// MarshalText implements [encoding.TextMarshaler] with [Nonce.String].
func (n Nonce) MarshalText() ([]byte, error) { return []byte(n.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler] with [ParseNonce].
func (n *Nonce) UnmarshalText(b []byte) error {
	v, err := ParseNonce(string(b))
	if err != nil {
		return fmt.Errorf("nonce: %w", err)
	}
	*n = v
	return nil
}

// Metadata is either a [*File] or a [*Directory].
type Metadata interface {
	metadata()
}

// File describes an uploaded file: its blocks, in order, and how to fetch them.
type File struct {
	// ContentHash is the hash of the whole plaintext file.
	ContentHash Hash   `json:"content_hash"`
	Name        string `json:"name"`
	// Mime is the media type, or nil when none was recorded.
	Mime   *string `json:"mime"`
	Blocks []Block `json:"blocks"`
}

// Directory lists the metadata of its entries. The entries' names live in
// their own metadata; an entry may itself be a directory.
type Directory struct {
	Entries []Entry `json:"files"`
	Name    string  `json:"name"`
}

// Entry points to the sealed metadata of a directory entry.
type Entry struct {
	// Lookup is the hash of the sealed metadata: its key in the registry.
	Lookup Hash
	// Key is the hash of the plaintext metadata, which opens it, or nil when
	// the entry's metadata is not sealed.
	Key *Hash
}

// Block is one chunk of a file, sealed and spread over shard stores.
type Block struct {
	// Shards holds where shard i of the block lives, for each i.
	Shards []ShardLocation `json:"shards"`
	// RequiredShards is k: any k of the shards rebuild the block.
	RequiredShards uint16 `json:"required_shards"`
	// StartOffset and EndOffset give the block's place in the file; EndOffset
	// is inclusive. The reference system does not clamp the last block's
	// EndOffset to the file size: a block's true length is its plaintext's.
	StartOffset uint64 `json:"start_offset,string"`
	EndOffset   uint64 `json:"end_offset,string"`
	// ContentHash is the hash of the plaintext chunk and its AES-128 key.
	ContentHash Hash `json:"content_hash"`
	// EncryptedHash is the hash of the sealed chunk (ciphertext and tag) and
	// the key of every shard in its shard store.
	EncryptedHash Hash  `json:"encrypted_hash"`
	Nonce         Nonce `json:"nonce"`
}

// ShardLocation says where a shard lives: a Hero Redis compatible shard store
// and a database in it.
type ShardLocation struct {
	// Host is the store's address. An IPv6 zone is not encoded.
	Host netip.AddrPort
	DB   uint16
	// Auth is the credential embedded for readers, or nil.
	Auth *Auth
}

// Auth is an embedded credential for a shard store (HeroRedisAuth::Token).
type Auth struct {
	Token string `json:"Token"`
}

func (*File) metadata()      {}
func (*Directory) metadata() {}
