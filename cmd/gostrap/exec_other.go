//go:build !unix

package main

import (
	"io"
	"os"
	"os/exec"
)

// startAndWait runs cmd; a console's Ctrl-C reaches it directly.
func startAndWait(cmd *exec.Cmd) error { return cmd.Run() }

func exitCode(ee *exec.ExitError) int { return ee.ExitCode() }

// terminalColumns reports whether w is a terminal (a character device), 80 columns assumed.
func terminalColumns(w io.Writer) (int, bool) {
	f, ok := fileOf(w)
	if !ok {
		return 0, false
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return 0, false
	}
	return 80, true
}
