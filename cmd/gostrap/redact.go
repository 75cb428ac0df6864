package main

import (
	"io"

	"github.com/gostrap/gostrap/internal/failure"
)

// redacting is the one door every byte gostrap prints goes through: the user information of
// any URL in it (a proxy or mirror password, a token) is replaced before it reaches the
// terminal, a log or a --json consumer. The library redacts where it renders URLs too; this
// is the guarantee that nothing it missed gets out. Each Write is redacted whole; gostrap
// writes a message, a JSON document or a progress update in one Write.
type redacting struct{ w io.Writer }

func (r redacting) Write(p []byte) (int, error) {
	out := failure.Redact(string(p))
	if _, err := io.WriteString(r.w, out); err != nil {
		return 0, err
	}
	return len(p), nil
}
