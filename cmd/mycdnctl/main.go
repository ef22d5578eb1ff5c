// Command mycdnctl is the mycdn client: it uploads, downloads, inspects and
// verifies content.
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
		Use:   "mycdnctl",
		Short: "Upload, fetch, inspect and name mycdn content",
		Long: `mycdnctl is the mycdn client. It uploads files and directory trees to a
mycdn network, fetches them back by reference, inspects metadata and
references, and points stable names at references ("name", "keygen").`,
	})
	root.AddCommand(newInitCmd(), newUploadCmd(), newGetCmd(), newCatCmd(), newLsCmd(), newStatCmd(), newMetaCmd(), newKeygenCmd(), newNameCmd())
	return root
}
