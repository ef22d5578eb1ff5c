package meta

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
)

// The JSON form of metadata is the one of the MCDN v1 golden vectors:
//
//	{"File": {"content_hash": hex, "name": str, "mime": str|null, "blocks": [Block]}}
//	{"Directory": {"files": [[hex, hex|null], ...], "name": str}}
//	Block = {"shards": [Shard], "required_shards": u16, "start_offset": "u64",
//	         "end_offset": "u64", "content_hash": hex, "encrypted_hash": hex, "nonce": hex}
//	Shard = {"host": {"V4": {"ip", "port"}} | {"V6": {"ip", "port", "flowinfo", "scope_id"}},
//	         "db": u16, "auth": null | {"Token": str}}
//
// u64 values are decimal strings, hashes lowercase hex, IP addresses RFC 5952
// text. Every key is required; unknown keys are ignored. flowinfo and scope_id
// are written as 0 and ignored when read, since the binary form has neither.

// JSON returns the JSON form of m.
func JSON(m Metadata) ([]byte, error) {
	var v any
	switch m := m.(type) {
	case *File:
		if m != nil {
			v = struct {
				File *File `json:"File"`
			}{m}
		}
	case *Directory:
		if m != nil {
			v = struct {
				Directory *Directory `json:"Directory"`
			}{m}
		}
	}
	if v == nil {
		return nil, fmt.Errorf("meta: JSON of %T(nil)", m)
	}
	return json.Marshal(v)
}

// ParseJSON parses the JSON form of metadata.
func ParseJSON(b []byte) (Metadata, error) {
	var tagged map[string]json.RawMessage
	if err := json.Unmarshal(b, &tagged); err != nil {
		return nil, fmt.Errorf("meta: parse JSON: %w", err)
	}
	if len(tagged) != 1 {
		return nil, errors.New(`meta: parse JSON: want an object with one key, "File" or "Directory"`)
	}
	var m Metadata
	var body json.RawMessage
	if body = tagged["File"]; body != nil {
		m = new(File)
	} else if body = tagged["Directory"]; body != nil {
		m = new(Directory)
	} else {
		return nil, errors.New(`meta: parse JSON: want an object with one key, "File" or "Directory"`)
	}
	if err := json.Unmarshal(body, m); err != nil {
		return nil, fmt.Errorf("meta: parse JSON: %w", err)
	}
	return m, nil
}

// MarshalJSON writes f's fields, with an empty list for no blocks.
func (f File) MarshalJSON() ([]byte, error) {
	type plain File
	if f.Blocks == nil {
		f.Blocks = []Block{}
	}
	return json.Marshal(plain(f))
}

// UnmarshalJSON reads f's fields, all required.
func (f *File) UnmarshalJSON(b []byte) error {
	type plain File
	return strictUnmarshal(b, "File", (*plain)(f), "content_hash", "name", "mime", "blocks")
}

// MarshalJSON writes d's fields, with an empty list for no entries.
func (d Directory) MarshalJSON() ([]byte, error) {
	type plain Directory
	if d.Entries == nil {
		d.Entries = []Entry{}
	}
	return json.Marshal(plain(d))
}

// UnmarshalJSON reads d's fields, all required.
func (d *Directory) UnmarshalJSON(b []byte) error {
	type plain Directory
	return strictUnmarshal(b, "Directory", (*plain)(d), "files", "name")
}

// MarshalJSON writes b's fields, with an empty list for no shards.
func (b Block) MarshalJSON() ([]byte, error) {
	type plain Block
	if b.Shards == nil {
		b.Shards = []ShardLocation{}
	}
	return json.Marshal(plain(b))
}

// UnmarshalJSON reads b's fields, all required.
func (b *Block) UnmarshalJSON(data []byte) error {
	type plain Block
	return strictUnmarshal(data, "Block", (*plain)(b), "shards", "required_shards", "start_offset",
		"end_offset", "content_hash", "encrypted_hash", "nonce")
}

// UnmarshalJSON reads a, whose one key "Token" is required.
func (a *Auth) UnmarshalJSON(b []byte) error {
	type plain Auth
	return strictUnmarshal(b, "auth", (*plain)(a), "Token")
}

// MarshalJSON writes e as the pair [lookup, key|null].
func (e Entry) MarshalJSON() ([]byte, error) {
	return json.Marshal([2]any{e.Lookup, e.Key})
}

// UnmarshalJSON reads the pair [lookup, key|null].
func (e *Entry) UnmarshalJSON(b []byte) error {
	var pair []json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return err
	}
	if len(pair) != 2 {
		return fmt.Errorf("directory entry: want [lookup, key|null], got %d items", len(pair))
	}
	if err := json.Unmarshal(pair[0], &e.Lookup); err != nil {
		return fmt.Errorf("directory entry lookup: %w", err)
	}
	e.Key = nil
	if err := json.Unmarshal(pair[1], &e.Key); err != nil {
		return fmt.Errorf("directory entry key: %w", err)
	}
	return nil
}

type jsonV4 struct {
	IP   string `json:"ip"`
	Port uint16 `json:"port"`
}

type jsonV6 struct {
	IP       string `json:"ip"`
	Port     uint16 `json:"port"`
	FlowInfo uint32 `json:"flowinfo"`
	ScopeID  uint32 `json:"scope_id"`
}

type jsonHost struct {
	V4 *jsonV4 `json:"V4,omitempty"`
	V6 *jsonV6 `json:"V6,omitempty"`
}

type jsonShard struct {
	Host jsonHost `json:"host"`
	DB   uint16   `json:"db"`
	Auth *Auth    `json:"auth"`
}

// MarshalJSON writes s with its host as {"V4": ...} or {"V6": ...}.
func (s ShardLocation) MarshalJSON() ([]byte, error) {
	js := jsonShard{DB: s.DB, Auth: s.Auth}
	addr := s.Host.Addr().WithZone("")
	switch {
	case addr.Is4():
		js.Host.V4 = &jsonV4{IP: addr.String(), Port: s.Host.Port()}
	case addr.Is6():
		js.Host.V6 = &jsonV6{IP: addr.String(), Port: s.Host.Port()}
	default:
		return nil, fmt.Errorf("shard host %v: invalid address", s.Host)
	}
	return json.Marshal(js)
}

// UnmarshalJSON reads s; an IPv6 host's flowinfo and scope_id are ignored.
func (s *ShardLocation) UnmarshalJSON(b []byte) error {
	var js jsonShard
	if err := strictUnmarshal(b, "shard", &js, "host", "db", "auth"); err != nil {
		return err
	}
	var (
		addr netip.Addr
		port uint16
		err  error
	)
	switch h := js.Host; {
	case h.V4 != nil && h.V6 == nil:
		addr, err = netip.ParseAddr(h.V4.IP)
		if err == nil && !addr.Is4() {
			err = fmt.Errorf("%q is not an IPv4 address", h.V4.IP)
		}
		port = h.V4.Port
	case h.V6 != nil && h.V4 == nil:
		addr, err = netip.ParseAddr(h.V6.IP)
		if err == nil && (!addr.Is6() || addr.Zone() != "") {
			err = fmt.Errorf("%q is not an IPv6 address without zone", h.V6.IP)
		}
		port = h.V6.Port
	default:
		err = errors.New(`want one key, "V4" or "V6"`)
	}
	if err != nil {
		return fmt.Errorf("shard host: %w", err)
	}
	*s = ShardLocation{Host: netip.AddrPortFrom(addr, port), DB: js.DB, Auth: js.Auth}
	return nil
}

// strictUnmarshal decodes the JSON object b into v after checking that it
// has every one of keys.
func strictUnmarshal(b []byte, what string, v any, keys ...string) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if obj == nil {
		return fmt.Errorf("%s: want an object, got null", what)
	}
	for _, k := range keys {
		if _, ok := obj[k]; !ok {
			return fmt.Errorf("%s: missing key %q", what, k)
		}
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
