package meta_test

import (
	"fmt"
	"net/netip"

	"github.com/mycdn/mycdn/meta"
)

func Example() {
	mime := "text/plain"
	file := &meta.File{
		Name: "hello.txt",
		Mime: &mime,
		Blocks: []meta.Block{{
			Shards:         []meta.ShardLocation{{Host: netip.MustParseAddrPort("127.0.0.1:6379"), DB: 1}},
			RequiredShards: 1,
			EndOffset:      4,
		}},
	}
	blob, err := meta.Marshal(file)
	if err != nil {
		panic(err)
	}
	m, used, err := meta.Unmarshal(blob)
	if err != nil {
		panic(err)
	}
	switch m := m.(type) {
	case *meta.File:
		fmt.Println(m.Name, *m.Mime, len(m.Blocks), m.Blocks[0].Shards[0].Host, used == len(blob))
	case *meta.Directory:
		fmt.Println("directory", m.Name)
	}
	// Output: hello.txt text/plain 1 127.0.0.1:6379 true
}

func ExampleJSON() {
	m := &meta.Directory{Name: "site", Entries: []meta.Entry{{Lookup: meta.Hash{0xab}}}}
	js, err := meta.JSON(m)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(js))
	// Output: {"Directory":{"files":[["ab000000000000000000000000000000",null]],"name":"site"}}
}
