//go:build !windows

package layout

// isEphemeral is false: outside Windows an open file does not stop a rename or a removal, so
// a refusal is not going to pass.
func isEphemeral(error) bool { return false }
