package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/mycdn/mycdn/internal/shardproto"
)

const (
	recordVersion = 1
	flagInline    = 1
)

// ErrCorrupt reports a record or blob file that does not match what the
// store wrote.
var ErrCorrupt = errors.New("corrupt store entry")

// Info describes a stored value.
type Info struct {
	Size   int64
	Digest [shardproto.DigestSize]byte // BLAKE3-256 of the value
	Expiry time.Time                   // zero: never expires
}

// expired reports whether the value has expired at now.
func (i *Info) expired(now time.Time) bool {
	return !i.Expiry.IsZero() && !now.Before(i.Expiry)
}

// record is a decoded index entry: the value's info and where the bytes are.
type record struct {
	Info
	inline []byte // the value, when kept in the index (aliases the input)
	file   uint64 // blob file id otherwise
}

func (r *record) isInline() bool { return r.file == 0 }

// appendRecord appends the encoding of r to dst.
func appendRecord(dst []byte, r *record) []byte {
	flags := byte(0)
	if r.isInline() {
		flags = flagInline
	}
	dst = append(dst, recordVersion, flags)
	dst = binary.AppendUvarint(dst, uint64(r.Size))
	var exp int64
	if !r.Expiry.IsZero() {
		exp = max(r.Expiry.UnixMilli(), 1)
	}
	dst = binary.AppendVarint(dst, exp)
	dst = append(dst, r.Digest[:]...)
	if r.isInline() {
		return append(dst, r.inline...)
	}
	return binary.BigEndian.AppendUint64(dst, r.file)
}

// decodeRecord decodes b. The returned record's inline value aliases b.
func decodeRecord(b []byte) (record, error) {
	var r record
	if len(b) < 2 || b[0] != recordVersion || b[1]&^flagInline != 0 {
		return r, fmt.Errorf("%w: bad record header", ErrCorrupt)
	}
	inline := b[1]&flagInline != 0
	b = b[2:]
	size, n := binary.Uvarint(b)
	if n <= 0 || size > 1<<40 {
		return r, fmt.Errorf("%w: bad record size", ErrCorrupt)
	}
	b = b[n:]
	exp, n := binary.Varint(b)
	if n <= 0 || exp < 0 {
		return r, fmt.Errorf("%w: bad record expiry", ErrCorrupt)
	}
	b = b[n:]
	if len(b) < len(r.Digest) {
		return r, fmt.Errorf("%w: short record", ErrCorrupt)
	}
	r.Size = int64(size)
	copy(r.Digest[:], b)
	b = b[len(r.Digest):]
	if exp != 0 {
		r.Expiry = time.UnixMilli(exp)
	}
	if inline {
		if uint64(len(b)) != size {
			return r, fmt.Errorf("%w: inline value of %d bytes, record says %d", ErrCorrupt, len(b), size)
		}
		r.inline = b
		return r, nil
	}
	if len(b) != 8 {
		return r, fmt.Errorf("%w: bad blob id", ErrCorrupt)
	}
	r.file = binary.BigEndian.Uint64(b)
	if r.file == 0 {
		return r, fmt.Errorf("%w: blob id 0", ErrCorrupt)
	}
	return r, nil
}
