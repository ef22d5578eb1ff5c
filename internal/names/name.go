package names

import (
	"errors"
	"fmt"
)

// MaxNameLen is the longest name: a DNS label.
const MaxNameLen = 63

// Errors of names, for [errors.Is]. The registry answers them with the
// HTTP status in parentheses.
var (
	// ErrInvalid means a name or a change is malformed (400).
	ErrInvalid = errors.New("invalid name change")
	// ErrBadSignature means a change's signature does not verify (401).
	ErrBadSignature = errors.New("signature does not verify")
	// ErrDenied means the signer of a change may not make it (403).
	ErrDenied = errors.New("permission denied")
	// ErrNotFound means a name was never written, or is deleted where a
	// live name is needed (404).
	ErrNotFound = errors.New("name not found")
	// ErrConflict means a change's nonce or ACL is not the one the name's
	// state needs: it is stale, replayed, or lost a race (409).
	ErrConflict = errors.New("name changed meanwhile")
)

// Check returns an error matching [ErrInvalid] unless name is a valid name:
// 1 to 63 characters of a-z, 0-9 and '-', neither first nor last '-', and
// not 32 hexadecimal characters.
func Check(name string) error {
	if err := check(name); err != nil {
		return fmt.Errorf("%w: name %.80q: %w", ErrInvalid, name, err)
	}
	return nil
}

func check(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("want 1 to %d characters, got %d", MaxNameLen, len(name))
	}
	hex := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'f':
		case c >= 'g' && c <= 'z':
			hex = false
		case c == '-':
			hex = false
			if i == 0 || i == len(name)-1 {
				return errors.New("a name neither starts nor ends with '-'")
			}
		default:
			return errors.New("a name holds only a-z, 0-9 and '-'")
		}
	}
	if hex && len(name) == 32 {
		return errors.New("32 hexadecimal characters would read as a lookup hash")
	}
	return nil
}
