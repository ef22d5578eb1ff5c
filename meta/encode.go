package meta

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Magic and Version open every metadata blob.
const (
	Magic   = "MCDN"
	Version = 1
)

// Variant indexes of the encoded enums.
const (
	variantFile      = 0
	variantDirectory = 1
	variantV4        = 0
	variantV6        = 1
	variantToken     = 0
)

// Marshal returns the metadata blob of m: magic, version and payload.
// It fails when m is nil, a string is not valid UTF-8 or a host address is
// invalid, since the reader could not decode such a blob.
func Marshal(m Metadata) ([]byte, error) {
	return Append(nil, m)
}

// Append appends the metadata blob of m to dst, as [Marshal] does.
func Append(dst []byte, m Metadata) ([]byte, error) {
	e := encoder{b: append(append(dst, Magic...), Version)}
	switch m := m.(type) {
	case *File:
		if m == nil {
			return dst, errors.New("meta: marshal: nil *File")
		}
		e.u32(variantFile)
		e.file(m)
	case *Directory:
		if m == nil {
			return dst, errors.New("meta: marshal: nil *Directory")
		}
		e.u32(variantDirectory)
		e.directory(m)
	default:
		return dst, fmt.Errorf("meta: marshal: unknown metadata %T", m)
	}
	if e.err != nil {
		return dst, fmt.Errorf("meta: marshal: %w", e.err)
	}
	return e.b, nil
}

// AppendShardLocations appends the encoding of shards as it appears in a
// block (a Vec<ShardLocation>), for callers that bind a value to where its
// shards are stored.
func AppendShardLocations(dst []byte, shards []ShardLocation) ([]byte, error) {
	e := encoder{b: dst}
	e.shards(shards)
	if e.err != nil {
		return dst, fmt.Errorf("meta: encode shard locations: %w", e.err)
	}
	return e.b, nil
}

// encoder appends the bincode encoding of values to b. The first error sticks.
type encoder struct {
	b   []byte
	err error
}

func (e *encoder) u16(v uint16) { e.b = binary.BigEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }

func (e *encoder) option(present bool) {
	if present {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) str(what, s string) {
	if !utf8.ValidString(s) && e.err == nil {
		e.err = fmt.Errorf("%s: %w", what, ErrUTF8)
	}
	e.u64(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) file(f *File) {
	e.b = append(e.b, f.ContentHash[:]...)
	e.str("file name", f.Name)
	e.option(f.Mime != nil)
	if f.Mime != nil {
		e.str("mime", *f.Mime)
	}
	e.u64(uint64(len(f.Blocks)))
	for i := range f.Blocks {
		e.block(&f.Blocks[i])
	}
}

func (e *encoder) directory(d *Directory) {
	e.u64(uint64(len(d.Entries)))
	for _, ent := range d.Entries {
		e.b = append(e.b, ent.Lookup[:]...)
		e.option(ent.Key != nil)
		if ent.Key != nil {
			e.b = append(e.b, ent.Key[:]...)
		}
	}
	e.str("directory name", d.Name)
}

func (e *encoder) block(b *Block) {
	e.shards(b.Shards)
	e.u16(b.RequiredShards)
	e.u64(b.StartOffset)
	e.u64(b.EndOffset)
	e.b = append(e.b, b.ContentHash[:]...)
	e.b = append(e.b, b.EncryptedHash[:]...)
	e.b = append(e.b, b.Nonce[:]...)
}

func (e *encoder) shards(shards []ShardLocation) {
	e.u64(uint64(len(shards)))
	for i := range shards {
		e.shard(&shards[i])
	}
}

func (e *encoder) shard(s *ShardLocation) {
	addr := s.Host.Addr()
	switch {
	case addr.Is4():
		e.u32(variantV4)
		a := addr.As4()
		e.b = append(e.b, a[:]...)
	case addr.Is6():
		e.u32(variantV6)
		a := addr.As16()
		e.b = append(e.b, a[:]...)
	default:
		if e.err == nil {
			e.err = fmt.Errorf("shard host %v: invalid address", s.Host)
		}
	}
	e.u16(s.Host.Port())
	e.u16(s.DB)
	e.option(s.Auth != nil)
	if s.Auth != nil {
		e.u32(variantToken)
		e.str("token", s.Auth.Token)
	}
}
