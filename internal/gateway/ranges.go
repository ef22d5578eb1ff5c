package gateway

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// maxRanges bounds the ranges of one request; a Range header with more is
// ignored and the whole file sent, as RFC 9110 allows.
const maxRanges = 32

// byteRange is [start, start+length) of a file.
type byteRange struct{ start, length int64 }

func (r byteRange) contentRange(size int64) string {
	return fmt.Sprintf("bytes %d-%d/%d", r.start, r.start+r.length-1, size)
}

// errUnsatisfiable means no range of a Range header overlaps the file.
var errUnsatisfiable = errors.New("no range within the file")

// parseRanges parses a Range header (RFC 9110 §14.1.2) for a file of size
// bytes. It returns the satisfiable ranges in the order given, clamped to
// the file. It returns nil without error when the whole file is to be sent:
// no header, another unit, bad syntax, more than maxRanges ranges, or
// ranges that add up to more than the file (overlapping ones, say, which
// would cost more than the file itself). It returns errUnsatisfiable when
// no range overlaps the file.
func parseRanges(header string, size int64) ([]byteRange, error) {
	unit, set, ok := strings.Cut(header, "=")
	if !ok || !strings.EqualFold(unit, "bytes") {
		return nil, nil
	}
	specs := strings.Split(set, ",")
	if len(specs) > maxRanges {
		return nil, nil
	}
	var (
		out   []byteRange
		total int64
		some  bool
	)
	for _, spec := range specs {
		spec = strings.Trim(spec, " \t")
		if spec == "" {
			continue // empty list elements are allowed
		}
		some = true
		first, last, ok := strings.Cut(spec, "-")
		if !ok {
			return nil, nil
		}
		var br byteRange
		if first == "" { // suffix: the last n bytes
			n, ok := digits(last)
			if !ok {
				return nil, nil
			}
			if n == 0 || size == 0 {
				continue
			}
			n = min(n, size)
			br = byteRange{size - n, n}
		} else {
			start, ok := digits(first)
			if !ok {
				return nil, nil
			}
			end := int64(math.MaxInt64)
			if last != "" {
				if end, ok = digits(last); !ok || end < start {
					return nil, nil
				}
			}
			if start >= size {
				continue // unsatisfiable on its own
			}
			end = min(end, size-1)
			br = byteRange{start, end - start + 1}
		}
		if total += br.length; total > size {
			return nil, nil
		}
		out = append(out, br)
	}
	if !some {
		return nil, nil
	}
	if len(out) == 0 {
		return nil, errUnsatisfiable
	}
	return out, nil
}

// digits parses a non-empty string of ASCII digits, saturating at
// math.MaxInt64 (a position past any file).
func digits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			n = math.MaxInt64
			continue
		}
		n = n*10 + d
	}
	return n, true
}

// etagMatch reports whether an If-None-Match header (a list of entity
// tags, or "*") matches etag by the weak comparison of RFC 9110 §8.8.3.2.
// A malformed header matches nothing.
func etagMatch(header, etag string) bool {
	s := header
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return false
		}
		if s[0] == '*' {
			return true
		}
		s = strings.TrimPrefix(s, "W/")
		if s == "" || s[0] != '"' {
			return false
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return false
		}
		if s[:end+2] == etag {
			return true
		}
		s = s[end+2:]
	}
}
