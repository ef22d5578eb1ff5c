package registry

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mycdn/mycdn/internal/xeddsa"
	"github.com/mycdn/mycdn/meta"
)

// Authorization schemes of writes.
const (
	SchemeBearer = "Bearer"
	SchemeXEdDSA = "XEdDSA"
)

// SigningDomain is the first line of every message a writer signs.
const SigningDomain = "mycdn-registry-v1"

// maxAuthLen bounds the Authorization header a parser looks at; a signed
// header is about 230 bytes.
const maxAuthLen = 1024

// ErrBadAuth means an Authorization header is malformed.
var ErrBadAuth = errors.New("malformed Authorization header")

// Auth is the Authorization header of a write: a bearer token
// ("Bearer <token>"), or a request signed with the XEdDSA key of a writer:
//
//	XEdDSA pub=<64 hex>, ts=<unix seconds>, sig=<128 hex>
//
// where sig is the XEdDSA signature by pub of [SignedMessage].
type Auth struct {
	// Scheme is SchemeBearer or SchemeXEdDSA.
	Scheme string
	// Token is the bearer token.
	Token string
	// Pub, Time and Sig are the parameters of a signed request.
	Pub  xeddsa.PublicKey
	Time int64
	Sig  [xeddsa.SignatureSize]byte
}

// SignedMessage returns the message a writer signs for a request:
//
//	mycdn-registry-v1\n<METHOD>\n<path>\n<hex blake3_16(body)>\n<unix seconds>
//
// path is the request's path as sent, without the query.
func SignedMessage(method, path string, bodyHash meta.Hash, unix int64) []byte {
	b := make([]byte, 0, len(SigningDomain)+len(method)+len(path)+2*len(bodyHash)+24)
	b = append(b, SigningDomain...)
	b = append(b, '\n')
	b = append(b, method...)
	b = append(b, '\n')
	b = append(b, path...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, bodyHash[:])
	b = append(b, '\n')
	return strconv.AppendInt(b, unix, 10)
}

// Sign returns the Auth of a request signed with k at time now.
func Sign(k *xeddsa.PrivateKey, method, path string, bodyHash meta.Hash, now time.Time) Auth {
	a := Auth{Scheme: SchemeXEdDSA, Pub: k.PublicKey(), Time: now.Unix()}
	copy(a.Sig[:], xeddsa.Sign(k, SignedMessage(method, path, bodyHash, a.Time)))
	return a
}

// Verify reports whether a is a signature by a.Pub of the request with the
// given method, path and body hash. It does not check a.Time against a
// clock or a.Pub against a list of writers.
func (a *Auth) Verify(method, path string, bodyHash meta.Hash) bool {
	return a.Scheme == SchemeXEdDSA && xeddsa.Verify(&a.Pub, SignedMessage(method, path, bodyHash, a.Time), a.Sig[:])
}

// String returns a as the value of an Authorization header.
func (a *Auth) String() string {
	if a.Scheme == SchemeBearer {
		return SchemeBearer + " " + a.Token
	}
	return fmt.Sprintf("%s pub=%s, ts=%d, sig=%x", SchemeXEdDSA, a.Pub, a.Time, a.Sig)
}

// ParseAuth parses the value of an Authorization header. Scheme names are
// matched without regard to case; the parameters of XEdDSA may come in any
// order, each exactly once. Errors match [ErrBadAuth].
func ParseAuth(v string) (Auth, error) {
	if len(v) > maxAuthLen {
		return Auth{}, fmt.Errorf("%w: longer than %d bytes", ErrBadAuth, maxAuthLen)
	}
	scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
	rest = strings.TrimSpace(rest)
	switch {
	case strings.EqualFold(scheme, SchemeBearer):
		if rest == "" || strings.ContainsAny(rest, " \t,") {
			return Auth{}, fmt.Errorf("%w: want \"Bearer <token>\"", ErrBadAuth)
		}
		return Auth{Scheme: SchemeBearer, Token: rest}, nil
	case strings.EqualFold(scheme, SchemeXEdDSA):
		return parseSigned(rest)
	case scheme == "":
		return Auth{}, fmt.Errorf("%w: empty", ErrBadAuth)
	}
	return Auth{}, fmt.Errorf("%w: unknown scheme %.20q (want Bearer or XEdDSA)", ErrBadAuth, scheme)
}

func parseSigned(params string) (Auth, error) {
	a := Auth{Scheme: SchemeXEdDSA}
	seen := map[string]bool{}
	for p := range strings.SplitSeq(params, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			return Auth{}, fmt.Errorf("%w: XEdDSA parameter %.20q is not key=value", ErrBadAuth, p)
		}
		if seen[k] {
			return Auth{}, fmt.Errorf("%w: XEdDSA %.20q given twice", ErrBadAuth, k)
		}
		seen[k] = true
		var err error
		switch k {
		case "pub":
			err = hexInto(a.Pub[:], v)
		case "ts":
			a.Time, err = parseUnix(v)
		case "sig":
			err = hexInto(a.Sig[:], v)
		default:
			return Auth{}, fmt.Errorf("%w: unknown XEdDSA parameter %.20q", ErrBadAuth, k)
		}
		if err != nil {
			return Auth{}, fmt.Errorf("%w: XEdDSA %s: %w", ErrBadAuth, k, err)
		}
	}
	if len(seen) != 3 {
		return Auth{}, fmt.Errorf("%w: want \"XEdDSA pub=<64 hex>, ts=<unix seconds>, sig=<128 hex>\"", ErrBadAuth)
	}
	return a, nil
}

func hexInto(dst []byte, s string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("want %d hex characters, got %d", 2*len(dst), len(s))
	}
	_, err := hex.Decode(dst, []byte(s))
	return err
}

// parseUnix parses decimal seconds written as [SignedMessage] writes them:
// digits only, no leading zero.
func parseUnix(s string) (int64, error) {
	if s == "" || len(s) > 18 || (s[0] == '0' && len(s) > 1) || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("want unix seconds in decimal, got %.20q", s)
	}
	return strconv.ParseInt(s, 10, 64)
}
