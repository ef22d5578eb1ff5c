// Command mycdnd runs the mycdn servers: shard stores, the metadata registry
// and the HTTP gateway.
package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/mycdn/mycdn/cmd/internal/cli"
)

func main() {
	os.Exit(cli.Main(newRootCmd()))
}

func newRootCmd() *cobra.Command {
	root := cli.Group(&cobra.Command{
		Use:   "mycdnd",
		Short: "Run the mycdn servers",
		Long: `mycdnd runs the servers of a mycdn network: shard stores that keep the
erasure-coded shards of content, the registry that keeps sealed metadata, and
the HTTP gateway that readers and browsers fetch content from.`,
	})
	root.AddCommand(newDevCmd(), newShardCmd(), newRegistryCmd(), newGatewayCmd())
	return root
}
