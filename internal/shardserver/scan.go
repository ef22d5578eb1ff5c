package shardserver

import (
	"bytes"
	"strconv"

	"github.com/mycdn/mycdn/internal/shardserver/store"
)

// maxScans bounds the SCAN cursors a connection keeps.
const maxScans = 16

// scans holds a connection's SCAN cursors: cursor number -> the last key
// returned. Numbers are what Redis clients expect (go-redis parses them).
type scans struct {
	next uint64
	last map[uint64][]byte
}

func (s *scans) add(key []byte) uint64 {
	if s.last == nil {
		s.last = map[uint64][]byte{}
	}
	if len(s.last) >= maxScans {
		oldest := s.next
		for id := range s.last {
			oldest = min(oldest, id)
		}
		delete(s.last, oldest)
	}
	s.next++
	s.last[s.next] = bytes.Clone(key)
	return s.next
}

// cmdScan is SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]. COUNT keys
// are examined per call (default 10, at most 1000); every value is a string.
func cmdScan(c *conn, a [][]byte) {
	var after []byte
	if string(a[1]) != "0" {
		id, err := strconv.ParseUint(string(a[1]), 10, 64)
		k, ok := c.scans.last[id]
		if err != nil || !ok {
			c.errorf("ERR invalid cursor")
			return
		}
		delete(c.scans.last, id)
		after = k
	}
	count, pattern, typ := 10, []byte(nil), "string"
	for i := 2; i < len(a); i += 2 {
		if i+1 == len(a) {
			c.errorf("ERR syntax error")
			return
		}
		switch opt := string(upper(nil, a[i])); opt {
		case "MATCH":
			pattern = a[i+1]
		case "COUNT":
			n, err := strconv.Atoi(string(a[i+1]))
			if err != nil || n < 1 {
				c.errorf("ERR value is not an integer or out of range")
				return
			}
			count = min(n, 1000)
		case "TYPE":
			typ = string(bytes.ToLower(a[i+1]))
		default:
			c.errorf("ERR syntax error")
			return
		}
	}
	var keys [][]byte
	var last []byte
	seen := 0
	if typ == "string" {
		err := c.s.store.Scan(c.db, after, func(k []byte, _ store.Info) bool {
			if seen == count {
				return false
			}
			seen++
			last = bytes.Clone(k)
			if pattern == nil || globMatch(pattern, k) {
				keys = append(keys, last)
			}
			return true
		})
		if err != nil {
			c.storeError("scan", nil, err)
			return
		}
	}
	cursor := "0"
	if seen == count {
		cursor = strconv.FormatUint(c.scans.add(last), 10)
	}
	c.array(2)
	c.bulkString(cursor)
	c.array(len(keys))
	for _, k := range keys {
		c.bulk(k)
	}
}

// globMatch reports whether key matches the Redis glob pattern: * any
// bytes, ? one byte, [abc] [^a-z] classes, \ escapes.
func globMatch(pattern, key []byte) bool {
	// Iterative matching with one backtrack point for the last star: linear
	// in practice and never recursive, whatever the pattern.
	p, k := 0, 0
	starP, starK := -1, 0
	for k < len(key) {
		if p < len(pattern) {
			switch pattern[p] {
			case '*':
				starP, starK = p, k
				p++
				continue
			case '?':
				p++
				k++
				continue
			default:
				if n, ok := matchOne(pattern[p:], key[k]); ok {
					p += n
					k++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starK++
		p, k = starP+1, starK
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchOne matches one pattern element (a byte, an escape or a class)
// against ch and returns the element's length and whether it matched.
func matchOne(pat []byte, ch byte) (int, bool) {
	switch pat[0] {
	case '\\':
		if len(pat) > 1 {
			return 2, pat[1] == ch
		}
		return 1, ch == '\\'
	case '[':
		i, neg, matched := 1, false, false
		if i < len(pat) && pat[i] == '^' {
			neg = true
			i++
		}
		for ; i < len(pat) && pat[i] != ']'; i++ {
			switch {
			case pat[i] == '\\' && i+1 < len(pat):
				i++
				matched = matched || pat[i] == ch
			case i+2 < len(pat) && pat[i+1] == '-' && pat[i+2] != ']':
				lo, hi := pat[i], pat[i+2]
				if lo > hi {
					lo, hi = hi, lo
				}
				matched = matched || (lo <= ch && ch <= hi)
				i += 2
			default:
				matched = matched || pat[i] == ch
			}
		}
		if i == len(pat) { // no closing bracket: Redis treats the rest as the class
			return i, matched != neg
		}
		return i + 1, matched != neg
	default:
		return 1, pat[0] == ch
	}
}
