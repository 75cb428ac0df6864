// Package failure is gostrap's vocabulary for what went wrong: the stable error classes of the
// CLI contract (docs/design.md, "Error classes"), the remedy for each, the typed errors several
// packages share (DiskError), and redaction of credentials from anything that is printed.
//
// Rules:
//   - a class is decided from error values (errors.Is, errors.As), never from an error's text,
//     which changes between Go releases and operating systems;
//   - an error that knows its class says so through Classer, so this package imports none of
//     the packages whose errors it classifies;
//   - every message that reaches a person passes through Redact: a URL's user information
//     (a proxy or mirror password) is never printed.
package failure
