package vault

import (
	"os"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/sinks"
)

// TokenSink is a file that receives the Vault token this backend logs in with, for an
// application that talks to Vault itself (Vault Agent's file sink). The token is the
// backend's own: it is renewed at about 2/3 of its TTL as long as it is renewable, and when
// a new login replaces it the file is rewritten, atomically, with the same mode and owner.
type TokenSink struct {
	Path string
	Mode os.FileMode // default 0400
	UID  int         // -1 keeps the process's own
	GID  int
}

func (t *TokenSink) write(token fetcher.Value) error {
	mode := t.Mode
	if mode == 0 {
		mode = 0o400
	}
	_, err := sinks.WriteAtomic(t.Path, token.Reveal(), sinks.FileOptions{Mode: mode, UID: t.UID, GID: t.GID})
	return err
}
