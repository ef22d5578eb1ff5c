// Package meta is the MCDN v1 metadata format: the types that describe an
// uploaded file or directory, and their binary encoding.
//
// A metadata blob is the 4 bytes "MCDN", the version byte 1, and the bincode 2
// encoding of a [Metadata] value (big-endian, fixed-width integers), exactly as
// the reference system (crate cdn-meta) writes it:
//
//	u16, u32, u64     2, 4, 8 bytes, big-endian
//	enum              variant index as u32, then the variant's fields
//	struct, tuple     fields in order, no framing
//	Option<T>         1 tag byte (0 None, 1 Some), then T
//	Vec<T>, String    length as u64, then the items or the UTF-8 bytes
//	[u8; N]           N raw bytes
//	SocketAddr        u32 variant (0 V4, 1 V6), 4 or 16 address octets, port u16
//
// The value types are
//
//	Metadata      = File | Directory
//	File          = {content_hash [16], name String, mime Option<String>, blocks Vec<Block>}
//	Directory     = {files Vec<([16], Option<[16]>)>, name String}
//	Block         = {shards Vec<ShardLocation>, required_shards u16, start_offset u64,
//	                 end_offset u64, content_hash [16], encrypted_hash [16], nonce [12]}
//	ShardLocation = {host SocketAddr, db u16, auth Option<HeroRedisAuth>}
//	HeroRedisAuth = Token(String)
//
// IPv6 flow information and scope (zone) are not encoded, and an IPv4-mapped
// IPv6 address stays an IPv6 address.
//
// [Unmarshal] never panics and never allocates more than its input can hold:
// every length prefix is checked against the bytes that remain before anything
// is allocated. Its errors wrap one of the sentinel errors [ErrTooShort],
// [ErrBadMagic], [ErrBadVersion], [ErrUnexpectedEnd], [ErrUnexpectedVariant]
// and [ErrUTF8].
//
// The package also defines the JSON form of metadata used by tools such as
// "mycdnctl meta" (see [MarshalJSON] and [UnmarshalJSON]).
package meta
