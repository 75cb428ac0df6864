package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gostrap/gostrap/internal/failure"
)

// interrupted is the cause of a run cancelled by a signal.
type interrupted struct{ sig os.Signal }

func (e *interrupted) Error() string        { return "interrupted by " + signalName(e.sig) }
func (e *interrupted) Class() failure.Class { return failure.Canceled }
func (e *interrupted) Hint() string {
	return "run the same command again: what was downloaded is kept, and the next run fetches only the rest"
}

// code is the exit code a shell expects after the signal: 128 + its number.
func (e *interrupted) code() int {
	if s, ok := e.sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 130
}

func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

// signalContext is cancelled, with an *interrupted cause, by the first SIGINT or SIGTERM: every
// stage of the run watches it and returns, and what was fetched is kept. A second signal ends
// the process at once, for a step that would not stop.
func signalContext(stderr interface{ Write([]byte) (int, error) }) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		var first os.Signal
		select {
		case first = <-ch:
			cancel(&interrupted{first})
		case <-done:
			return
		}
		select {
		case sig := <-ch:
			fmt.Fprintf(stderr, "gostrap: %s again: exiting now\n", signalName(sig))
			os.Exit((&interrupted{first}).code())
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}
