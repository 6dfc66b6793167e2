//go:debug x509negativeserial=1

// Command vault is Vault v1.14.1 (MPL-2.0) built for the integration tests of
// fetcher/vault only. It is never shipped. See scripts/prepare.d/vault.sh.
package main

import (
	"os"

	"github.com/hashicorp/vault/command"
)

func main() { os.Exit(command.Run(os.Args[1:])) }
