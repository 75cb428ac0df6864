package testnet

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// programEnv names, in a re-executed test binary, the Program to run.
const programEnv = "GOSTRAP_TESTNET_PROGRAM"

var (
	programs   = map[string]func(args []string) int{}
	mainCalled bool
)

// A Program is a function of the test binary that ProgramCommand runs as a
// process of its own in a namespace: the way to run Go client code there
// with the namespace's /etc/resolv.conf and /etc/hosts, as a real program
// would (the test process's own resolver reads the host's files).
type Program struct{ name string }

// Register makes main a Program of the test binary. Call it from a package
// variable's initialiser or init, so that it is registered before Main
// runs, in the parent and in the re-executed binary alike:
//
//	var fetch = testnet.Register("fetch", func(args []string) int { ... })
//
// main gets the arguments given to ProgramCommand and returns the exit
// status.
func Register(name string, main func(args []string) int) Program {
	if _, dup := programs[name]; dup {
		panic("testnet: program " + name + " registered twice")
	}
	programs[name] = main
	return Program{name}
}

// Main runs the Program this process was started for, if any, and exits;
// otherwise the tests. A package whose tests use ProgramCommand calls it
// from TestMain:
//
//	func TestMain(m *testing.M) { testnet.Main(m) }
func Main(m *testing.M) {
	if name, ok := os.LookupEnv(programEnv); ok {
		main := programs[name]
		if main == nil {
			fmt.Fprintf(os.Stderr, "testnet: no program %q registered\n", name)
			os.Exit(2)
		}
		os.Unsetenv(programEnv)
		os.Exit(main(os.Args[1:]))
	}
	mainCalled = true
	os.Exit(m.Run())
}

// ProgramCommand returns a command that runs p with args in r's
// namespace, as Command does, by re-executing the test binary. It panics
// if TestMain did not call Main.
func (n *Net) ProgramCommand(r Role, p Program, args ...string) *exec.Cmd {
	return n.ProgramCommandContext(context.Background(), r, p, args...)
}

// ProgramCommandContext is ProgramCommand with a context, as
// CommandContext.
func (n *Net) ProgramCommandContext(ctx context.Context, r Role, p Program, args ...string) *exec.Cmd {
	if !mainCalled {
		panic(fmt.Sprintf("testnet: program %q: TestMain must call testnet.Main", p.name))
	}
	if programs[p.name] == nil {
		panic(fmt.Sprintf("testnet: program %q not registered", p.name))
	}
	exe, err := os.Executable()
	if err != nil {
		panic(fmt.Sprintf("testnet: program %q: %v", p.name, err))
	}
	cmd := n.CommandContext(ctx, r, exe, args...)
	cmd.Env = append(cmd.Env, programEnv+"="+p.name)
	return cmd
}
