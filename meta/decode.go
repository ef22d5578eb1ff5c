package meta

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"unicode/utf8"
)

// Errors that [Unmarshal] wraps in a [*DecodeError].
var (
	ErrTooShort          = errors.New("shorter than the 5-byte header")
	ErrBadMagic          = errors.New(`bad magic (want "MCDN")`)
	ErrBadVersion        = errors.New("unsupported version")
	ErrUnexpectedEnd     = errors.New("unexpected end of input")
	ErrUnexpectedVariant = errors.New("unexpected variant")
	ErrUTF8              = errors.New("invalid UTF-8")
)

// DecodeError says where and why decoding a metadata blob failed.
type DecodeError struct {
	// Offset is the position in the blob of the value that failed.
	Offset int
	// Field names that value, such as "block.shards".
	Field string
	// Err wraps one of the Err sentinels of this package.
	Err error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("meta: decode %s at offset %d: %v", e.Field, e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Smallest encodings of the items of each Vec, which bound every length
// prefix by the bytes that remain.
const (
	minShardLocation = 4 + 4 + 2 + 2 + 1 // variant, IPv4, port, db, None
	minBlock         = 8 + 2 + 8 + 8 + 16 + 16 + 12
	minEntry         = 16 + 1
)

// Unmarshal decodes a metadata blob. It returns the value and the number of
// bytes it used; bytes after them are not an error, as in the reference.
// Errors are [*DecodeError] values.
func Unmarshal(b []byte) (Metadata, int, error) {
	if len(b) < len(Magic)+1 {
		return nil, 0, &DecodeError{Field: "header", Err: ErrTooShort}
	}
	if string(b[:len(Magic)]) != Magic {
		return nil, 0, &DecodeError{Field: "magic", Err: ErrBadMagic}
	}
	if v := b[len(Magic)]; v != Version {
		return nil, 0, &DecodeError{Offset: len(Magic), Field: "version",
			Err: fmt.Errorf("%w %d (want %d)", ErrBadVersion, v, Version)}
	}
	d := decoder{b: b, off: len(Magic) + 1}
	var m Metadata
	switch v := d.u32("metadata variant"); {
	case d.err != nil:
	case v == variantFile:
		m = d.file()
	case v == variantDirectory:
		m = d.directory()
	default:
		d.variant("metadata variant", v)
	}
	if d.err != nil {
		return nil, 0, d.err
	}
	return m, d.off, nil
}

// decoder reads bincode values from b starting at off. The first error
// sticks, and every read after it returns a zero value.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(field string, at int, err error) {
	if d.err == nil {
		d.err = &DecodeError{Offset: at, Field: field, Err: err}
	}
}

func (d *decoder) variant(field string, v uint32) {
	d.fail(field, d.off-4, fmt.Errorf("%w %d", ErrUnexpectedVariant, v))
}

// take returns the next n bytes, or nil when fewer remain.
func (d *decoder) take(field string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b)-d.off {
		d.fail(field, d.off, ErrUnexpectedEnd)
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

func (d *decoder) u16(field string) uint16 {
	if p := d.take(field, 2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

func (d *decoder) u32(field string) uint32 {
	if p := d.take(field, 4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) u64(field string) uint64 {
	if p := d.take(field, 8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

func (d *decoder) hash(field string, h *Hash) { copy(h[:], d.take(field, len(h))) }

// option reads an Option tag and reports whether a value follows.
func (d *decoder) option(field string) bool {
	p := d.take(field, 1)
	if p == nil {
		return false
	}
	if p[0] > 1 {
		d.fail(field, d.off-1, fmt.Errorf("%w: option tag %d", ErrUnexpectedVariant, p[0]))
		return false
	}
	return p[0] == 1
}

// length reads a Vec or String length whose items take at least itemSize bytes
// each, and fails unless that many items fit in the remaining input.
func (d *decoder) length(field string, itemSize int) int {
	at := d.off
	n := d.u64(field)
	if d.err != nil {
		return 0
	}
	if n > uint64((len(d.b)-d.off)/itemSize) {
		d.fail(field, at, fmt.Errorf("%w: length %d exceeds the remaining %d bytes", ErrUnexpectedEnd, n, len(d.b)-d.off))
		return 0
	}
	return int(n)
}

func (d *decoder) str(field string) string {
	at := d.off
	p := d.take(field, d.length(field, 1))
	if d.err != nil {
		return ""
	}
	if !utf8.Valid(p) {
		d.fail(field, at, ErrUTF8)
		return ""
	}
	return string(p)
}

func (d *decoder) file() *File {
	f := new(File)
	d.hash("file.content_hash", &f.ContentHash)
	f.Name = d.str("file.name")
	if d.option("file.mime") {
		mime := d.str("file.mime")
		f.Mime = &mime
	}
	f.Blocks = make([]Block, d.length("file.blocks", minBlock))
	for i := range f.Blocks {
		if d.block(&f.Blocks[i]); d.err != nil {
			break
		}
	}
	return f
}

func (d *decoder) directory() *Directory {
	dir := new(Directory)
	dir.Entries = make([]Entry, d.length("directory.files", minEntry))
	for i := range dir.Entries {
		ent := &dir.Entries[i]
		d.hash("directory.files.lookup", &ent.Lookup)
		if d.option("directory.files.key") {
			ent.Key = new(Hash)
			d.hash("directory.files.key", ent.Key)
		}
		if d.err != nil {
			break
		}
	}
	dir.Name = d.str("directory.name")
	return dir
}

func (d *decoder) block(b *Block) {
	b.Shards = make([]ShardLocation, d.length("block.shards", minShardLocation))
	for i := range b.Shards {
		if d.shard(&b.Shards[i]); d.err != nil {
			return
		}
	}
	b.RequiredShards = d.u16("block.required_shards")
	b.StartOffset = d.u64("block.start_offset")
	b.EndOffset = d.u64("block.end_offset")
	d.hash("block.content_hash", &b.ContentHash)
	d.hash("block.encrypted_hash", &b.EncryptedHash)
	copy(b.Nonce[:], d.take("block.nonce", len(b.Nonce)))
}

func (d *decoder) shard(s *ShardLocation) {
	var addr netip.Addr
	switch v := d.u32("shard.host"); {
	case d.err != nil:
		return
	case v == variantV4:
		if p := d.take("shard.host", 4); p != nil {
			addr = netip.AddrFrom4([4]byte(p))
		}
	case v == variantV6:
		if p := d.take("shard.host", 16); p != nil {
			addr = netip.AddrFrom16([16]byte(p))
		}
	default:
		d.variant("shard.host", v)
		return
	}
	s.Host = netip.AddrPortFrom(addr, d.u16("shard.host.port"))
	s.DB = d.u16("shard.db")
	if d.option("shard.auth") {
		switch v := d.u32("shard.auth"); {
		case d.err != nil:
		case v == variantToken:
			s.Auth = &Auth{Token: d.str("shard.auth.token")}
		default:
			d.variant("shard.auth", v)
		}
	}
}
