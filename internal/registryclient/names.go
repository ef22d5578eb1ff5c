package registryclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/mycdn/mycdn/internal/names"
	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/internal/xeddsa"
	"github.com/mycdn/mycdn/ref"
)

// maxStateSize bounds the JSON state of a name that the client reads: two
// full ACLs take about 40 KiB.
const maxStateSize = 256 << 10

// maxAttempts bounds how many times SetName, DeleteName and EditNameACL read
// a name and sign again because a concurrent change took their nonce.
const maxAttempts = 8

// errBadState marks a state the registry answered that is not valid.
var errBadState = errors.New("the registry answered an invalid state")

// Name returns the state of a name, a deleted name's tombstone included.
// Errors match [names.ErrInvalid] for a bad name, which is not sent, and
// [names.ErrNotFound] for a name never written.
func (c *Client) Name(ctx context.Context, name string) (names.State, error) {
	if err := names.Check(name); err != nil {
		return names.State{}, fmt.Errorf("registry: %w", err)
	}
	var st names.State
	err := c.do(ctx, http.MethodGet, registry.NamePath(name), nil, func(resp *http.Response) error {
		return readState(resp, name, &st)
	})
	if err != nil {
		return names.State{}, fmt.Errorf("registry: name %q: %w", name, err)
	}
	return st, nil
}

// Resolve returns the reference a name points at: what the gateway serves
// for <name>.<domain> and /name/<name>/. Errors match [names.ErrNotFound]
// for a name never written or deleted, and [names.ErrInvalid] for a string
// that is not a name (nothing is sent then).
func (c *Client) Resolve(ctx context.Context, name string) (ref.Ref, error) {
	st, err := c.Name(ctx, name)
	if err != nil {
		return ref.Ref{}, err
	}
	if st.Deleted {
		return ref.Ref{}, fmt.Errorf("registry: resolve %q: %w: it is deleted", name, names.ErrNotFound)
	}
	r, err := ref.Parse(st.Value)
	if err != nil { // the state was checked as it was read
		return ref.Ref{}, fmt.Errorf("registry: resolve %q: %w: %w", name, errBadState, err)
	}
	return r, nil
}

// Change sends a signed change and returns the name's new state. When the
// registry refuses it as stale because it is the name's last change
// already (an attempt that was applied but whose answer was lost), Change
// returns that state. Errors of the registry match the errors of package
// names (see [StatusError]).
func (c *Client) Change(ctx context.Context, ch *names.Change) (names.State, error) {
	if err := ch.Check(); err != nil {
		return names.State{}, fmt.Errorf("registry: %w", err)
	}
	body, err := json.Marshal(ch)
	if err != nil {
		return names.State{}, fmt.Errorf("registry: %s %q: %w", ch.Op, ch.Name, err)
	}
	var st names.State
	err = c.do(ctx, http.MethodPost, registry.NamePath(ch.Name), body, func(resp *http.Response) error {
		return readState(resp, ch.Name, &st)
	})
	if errors.Is(err, names.ErrConflict) {
		if cur, gerr := c.Name(ctx, ch.Name); gerr == nil && cur.Nonce == ch.Nonce && cur.Sig == ch.Sig {
			return cur, nil
		}
	}
	if err != nil {
		return names.State{}, fmt.Errorf("registry: %s %q: %w", ch.Op, ch.Name, err)
	}
	return st, nil
}

// SetName points name at r, signed with key, and returns the name's new
// state. A name never written is created with key as its only admin; a
// deleted one is re-created with the ACL it kept. r must have no Path: a
// name points at an object.
func (c *Client) SetName(ctx context.Context, key *xeddsa.PrivateKey, name string, r ref.Ref) (names.State, error) {
	if r.Path != "" {
		return names.State{}, fmt.Errorf("registry: set %q: %w: a name points at an object, not at path %q inside it", name, names.ErrInvalid, r.Path)
	}
	return c.update(ctx, key, name, func(cur *names.State) (names.Change, error) {
		ch := names.Change{Op: names.OpWrite, Value: r.String()}
		if cur == nil {
			ch.ACL = names.CreatorACL(key.PublicKey().Address())
		} else {
			ch.ACL = cur.ACL.Clone()
		}
		return ch, nil
	})
}

// DeleteName deletes name, signed with key, leaving a tombstone that keeps
// its nonce and ACL, and returns that state.
func (c *Client) DeleteName(ctx context.Context, key *xeddsa.PrivateKey, name string) (names.State, error) {
	return c.update(ctx, key, name, func(cur *names.State) (names.Change, error) {
		switch {
		case cur == nil:
			return names.Change{}, fmt.Errorf("registry: delete %q: %w", name, names.ErrNotFound)
		case cur.Deleted:
			return names.Change{}, fmt.Errorf("registry: delete %q: %w: it is deleted already", name, names.ErrNotFound)
		}
		return names.Change{Op: names.OpDelete}, nil
	})
}

// EditNameACL applies e to the ACL of name, signed with key, and returns
// the name's new state.
func (c *Client) EditNameACL(ctx context.Context, key *xeddsa.PrivateKey, name string, e names.Edit) (names.State, error) {
	return c.update(ctx, key, name, func(cur *names.State) (names.Change, error) {
		if cur == nil {
			return names.Change{}, fmt.Errorf("registry: set the ACL of %q: %w", name, names.ErrNotFound)
		}
		return names.Change{Op: names.OpSetACL, ACL: e.Apply(cur.ACL)}, nil
	})
}

// update reads the state of name (nil when never written), makes a change
// of it with build, numbers it, signs it with key and sends it; it starts
// again when a concurrent change takes the nonce, up to maxAttempts times.
func (c *Client) update(ctx context.Context, key *xeddsa.PrivateKey, name string, build func(cur *names.State) (names.Change, error)) (names.State, error) {
	for attempt := 1; ; attempt++ {
		var cur *names.State
		st, err := c.Name(ctx, name)
		switch {
		case err == nil:
			cur = &st
		case !errors.Is(err, names.ErrNotFound):
			return names.State{}, err
		}
		ch, err := build(cur)
		if err != nil {
			return names.State{}, err
		}
		ch.Name, ch.Nonce = name, 1
		if cur != nil {
			ch.Nonce = cur.Nonce + 1
		}
		if err := ch.Sign(key); err != nil {
			return names.State{}, fmt.Errorf("registry: %s %q: %w", ch.Op, name, err)
		}
		st, err = c.Change(ctx, &ch)
		if errors.Is(err, names.ErrConflict) && attempt < maxAttempts {
			continue
		}
		return st, err
	}
}

// readState reads the JSON state of name from a response.
func readState(resp *http.Response, name string, st *names.State) error {
	b, err := readLimited(resp, maxStateSize)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, st); err != nil {
		return fmt.Errorf("%w: %s", errBadState, err.Error())
	}
	if st.Name != name {
		return fmt.Errorf("%w: the state of %q, not of %q", errBadState, st.Name, name)
	}
	return nil
}
