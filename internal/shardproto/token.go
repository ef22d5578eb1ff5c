package shardproto

import (
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Token errors; [Token.Verify] and [ParseToken] wrap them.
var (
	ErrTokenMalformed = errors.New("malformed session token")
	ErrTokenSignature = errors.New("session token not signed by this server")
	ErrTokenExpired   = errors.New("session token expired")
)

const (
	tokenPrefix = "mst1."
	tokenDomain = "mycdn-shard-token-v1\x00"
	// MaxTokenLen bounds the text of a token: prefix, 64 + 1 + up to 20 + 1
	// + 128 characters.
	MaxTokenLen = len(tokenPrefix) + 64 + 1 + 20 + 1 + 128
)

// Token is a parsed session token: who logged in, until when, and the
// server's signature of both.
type Token struct {
	User   ed25519.PublicKey
	Expiry time.Time // whole seconds
	sig    []byte
}

// IssueToken returns the text of a token for user valid until expiry,
// signed with the server's key.
func IssueToken(server ed25519.PrivateKey, user ed25519.PublicKey, expiry time.Time) string {
	exp := uint64(max(expiry.Unix(), 0))
	sig := ed25519.Sign(server, tokenMessage(user, exp))
	var b strings.Builder
	b.Grow(MaxTokenLen)
	b.WriteString(tokenPrefix)
	b.WriteString(hex.EncodeToString(user))
	b.WriteByte('.')
	b.WriteString(strconv.FormatUint(exp, 10))
	b.WriteByte('.')
	b.WriteString(hex.EncodeToString(sig))
	return b.String()
}

// ParseToken parses the text of a token without checking its signature or
// expiry; see [Token.Verify].
func ParseToken(s string) (Token, error) {
	if len(s) > MaxTokenLen || !strings.HasPrefix(s, tokenPrefix) {
		return Token{}, ErrTokenMalformed
	}
	parts := strings.Split(s[len(tokenPrefix):], ".")
	if len(parts) != 3 {
		return Token{}, ErrTokenMalformed
	}
	user, err := decodeHex(parts[0], ed25519.PublicKeySize)
	if err != nil {
		return Token{}, fmt.Errorf("%w: user key: %w", ErrTokenMalformed, err)
	}
	// Digits only: ParseUint alone would accept "+1" and so give one token
	// several texts.
	if parts[1] == "" || strings.TrimLeft(parts[1], "0123456789") != "" || (len(parts[1]) > 1 && parts[1][0] == '0') {
		return Token{}, fmt.Errorf("%w: expiry %q", ErrTokenMalformed, parts[1])
	}
	exp, err := strconv.ParseUint(parts[1], 10, 63)
	if err != nil {
		return Token{}, fmt.Errorf("%w: expiry: %w", ErrTokenMalformed, err)
	}
	sig, err := decodeHex(parts[2], ed25519.SignatureSize)
	if err != nil {
		return Token{}, fmt.Errorf("%w: signature: %w", ErrTokenMalformed, err)
	}
	return Token{User: user, Expiry: time.Unix(int64(exp), 0), sig: sig}, nil
}

// Verify checks that t was signed by the server key pub and has not expired
// at now.
func (t Token) Verify(pub ed25519.PublicKey, now time.Time) error {
	if len(t.User) != ed25519.PublicKeySize {
		return ErrTokenMalformed
	}
	if !ed25519.Verify(pub, tokenMessage(t.User, uint64(t.Expiry.Unix())), t.sig) {
		return ErrTokenSignature
	}
	if !now.Before(t.Expiry) {
		return fmt.Errorf("%w at %s", ErrTokenExpired, t.Expiry.UTC().Format(time.RFC3339))
	}
	return nil
}

func tokenMessage(user ed25519.PublicKey, exp uint64) []byte {
	m := make([]byte, 0, len(tokenDomain)+len(user)+8)
	m = append(m, tokenDomain...)
	m = append(m, user...)
	return binary.BigEndian.AppendUint64(m, exp)
}
