package shardproto

import (
	"errors"
	"strconv"
)

// RESP2 framing both ends write. Every Append function appends to dst and
// returns the extended slice, so callers reuse one buffer.

// AppendArrayLen appends an array header for n elements.
func AppendArrayLen(dst []byte, n int) []byte {
	return appendHeader(dst, '*', int64(n))
}

// AppendBulkLen appends the header of a bulk string of n bytes; the caller
// writes the n bytes and "\r\n" after it.
func AppendBulkLen(dst []byte, n int) []byte {
	return appendHeader(dst, '$', int64(n))
}

// AppendBulk appends b as a bulk string.
func AppendBulk(dst, b []byte) []byte {
	dst = AppendBulkLen(dst, len(b))
	dst = append(dst, b...)
	return append(dst, '\r', '\n')
}

// AppendBulkString appends s as a bulk string.
func AppendBulkString(dst []byte, s string) []byte {
	dst = AppendBulkLen(dst, len(s))
	dst = append(dst, s...)
	return append(dst, '\r', '\n')
}

// AppendNull appends the null bulk string, Redis's "no such key".
func AppendNull(dst []byte) []byte { return append(dst, "$-1\r\n"...) }

// AppendInt appends an integer reply.
func AppendInt(dst []byte, n int64) []byte { return appendHeader(dst, ':', n) }

// AppendSimple appends a simple string such as "OK". s must not hold CR or
// LF.
func AppendSimple(dst []byte, s string) []byte {
	dst = append(dst, '+')
	dst = appendLine(dst, s)
	return append(dst, '\r', '\n')
}

// AppendError appends an error reply; msg starts with its prefix, as in
// "NOPERM no write right on database 3". CR and LF in msg become spaces.
func AppendError(dst []byte, msg string) []byte {
	dst = append(dst, '-')
	dst = appendLine(dst, msg)
	return append(dst, '\r', '\n')
}

// AppendCommand appends a command as an array of bulk strings.
func AppendCommand(dst []byte, args ...[]byte) []byte {
	dst = AppendArrayLen(dst, len(args))
	for _, a := range args {
		dst = AppendBulk(dst, a)
	}
	return dst
}

func appendHeader(dst []byte, kind byte, n int64) []byte {
	dst = append(dst, kind)
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '\r', '\n')
}

func appendLine(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}

// ErrBadLength reports a RESP length or integer that is not a decimal
// number in range.
var ErrBadLength = errors.New("bad RESP length")

// ParseLength parses the decimal number of a RESP header line (without its
// type byte and CRLF): -1, or 0 to max. Leading zeros, signs other than the
// lone -1 and values above max are rejected, so no caller ever sizes a
// buffer from an unchecked number.
func ParseLength(b []byte, max int64) (int64, error) {
	if len(b) == 2 && b[0] == '-' && b[1] == '1' {
		return -1, nil
	}
	if len(b) == 0 || len(b) > 19 || (len(b) > 1 && b[0] == '0') {
		return 0, ErrBadLength
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, ErrBadLength
		}
		n = n*10 + int64(c-'0')
	}
	if n < 0 || n > max {
		return 0, ErrBadLength
	}
	return n, nil
}

// ParseInt parses a signed decimal integer reply or argument.
func ParseInt(b []byte) (int64, error) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, ErrBadLength
	}
	return n, nil
}
