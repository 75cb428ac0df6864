package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// command is one gostrap command. The table below drives dispatch, help, the README's command
// list and flag table (checked by TestREADME) and the shell completion scripts, so that none
// of them can drift from what the command accepts.
type command struct {
	name    string // "install", or "bundle create" for a subcommand
	aliases []string
	// argsUsage is the synopsis of the arguments ("[VERSION]"); minArgs and maxArgs bound
	// them (maxArgs -1: any number).
	argsUsage        string
	minArgs, maxArgs int
	// rest: arguments after "--" are a command to run (exec).
	rest    bool
	summary string
	doc     string
	flags   func(*flagSet, *opts)
	run     func(*invocation) error
	// versionArg: the arguments are Go versions (completion offers none).
	versionArg bool
}

// group is a command with subcommands (bundle, mirror, cache).
type group struct {
	name    string
	summary string
}

var groups = []group{
	{"bundle", "carry releases to an air-gapped machine, and check them there"},
	{"mirror", "build and serve a mirror tree for a fleet"},
	{"cache", "see and trim the download cache"},
}

// commands is every command, in the order help lists them.
var commands []*command

func init() {
	commands = []*command{
		{name: "install", argsUsage: "[VERSION]", maxArgs: 1, versionArg: true,
			summary: "install a Go toolchain (default: what go.mod or .go-version asks for, else the latest)",
			doc: "Installs VERSION: latest, 1.N (the newest 1.N.x), 1.N.M, go1.N.M or 1.NrcK. With no VERSION, " +
				"./go.mod decides (the newer of its toolchain and go lines, read as strictly as the go command " +
				"reads them), else .go-version, both looked for here and in the parent directories, else the " +
				"latest release. Sources are probed and tried healthy and fastest first; the bytes are verified " +
				"against the official index or the Go checksum database before anything is moved into place. " +
				"The first toolchain installed becomes current; --use makes this one current.",
			flags: func(f *flagSet, o *opts) {
				dirFlag(f, o)
				f.add(flagSpec{Name: "use", Usage: "make the installed toolchain current"}, boolValue{&o.use})
				platformFlags(f, o)
				netFlags(f, o)
				trustFlags(f, o)
				outputFlags(f, o)
			},
			run: runInstall},
		{name: "list", aliases: []string{"ls"}, maxArgs: 0,
			summary: "list installed toolchains (* marks the current one), or with --remote what a source offers",
			doc: "Lists the toolchains in the install directory, for every platform; --os and --arch show only " +
				"that platform's. With --remote, lists the releases the first answering index offers for the " +
				"platform, newest first: stable releases and installed pre-releases, or every one with --all.",
			flags: func(f *flagSet, o *opts) {
				dirFlag(f, o)
				f.add(flagSpec{Name: "remote", Usage: "list what the first answering source offers instead"}, boolValue{&o.remote})
				f.add(flagSpec{Name: "all", Usage: "with --remote, include betas and release candidates"}, boolValue{&o.all})
				platformFlags(f, o)
				netFlags(f, o)
				outputFlags(f, o)
			},
			run: runList},
		{name: "use", argsUsage: "VERSION", minArgs: 1, maxArgs: 1, versionArg: true,
			summary: "make an installed toolchain current (<dir>/current)",
			doc: "Points <dir>/current at the newest installed toolchain VERSION matches (1.22: the newest " +
				"1.22.x installed). A shell that has <dir>/current/bin on PATH (gostrap env) follows at once.",
			flags: func(f *flagSet, o *opts) { dirFlag(f, o); outputFlags(f, o) },
			run:   runUse},
		{name: "uninstall", aliases: []string{"remove", "rm"}, argsUsage: "VERSION", minArgs: 1, maxArgs: 1, versionArg: true,
			summary: "remove an installed toolchain",
			doc: "Removes the one installed toolchain VERSION names: 1.22 must match exactly one, or the " +
				"matches are listed. The current toolchain is removed only with --force; the newest remaining " +
				"release (stable preferred) then becomes current, and the command says so.",
			flags: func(f *flagSet, o *opts) {
				dirFlag(f, o)
				f.add(flagSpec{Name: "force", Usage: "remove the current toolchain too, making the newest remaining one current"}, boolValue{&o.force})
				platformFlags(f, o)
				outputFlags(f, o)
			},
			run: runUninstall},
		{name: "env", argsUsage: "[VERSION]", maxArgs: 1, versionArg: true,
			summary: "print the environment that puts a toolchain on PATH: eval \"$(gostrap env)\"",
			doc: "Prints GOROOT and PATH for a shell. The toolchain is VERSION, else what ./go.mod or " +
				".go-version asks for (as install reads them), else the current one; for the current one " +
				"GOROOT is <dir>/current, so a later 'gostrap use' takes effect without running env again. " +
				"--shell github appends to $GITHUB_ENV and $GITHUB_PATH in a GitHub Actions step; " +
				"in cmd.exe: gostrap env --shell cmd > %TEMP%\\go-env.cmd && call %TEMP%\\go-env.cmd.",
			flags: func(f *flagSet, o *opts) {
				dirFlag(f, o)
				f.add(flagSpec{Name: "shell", Arg: "SHELL", Def: "from $SHELL", Usage: "sh (also bash, zsh), fish, powershell, cmd or github",
					Complete: shellNames}, stringValue{&o.shell, checkShell})
				outputFlags(f, o)
			},
			run: runEnv},
		{name: "exec", aliases: []string{"run"}, argsUsage: "[VERSION] -- COMMAND [ARG...]", maxArgs: 1, rest: true, versionArg: true,
			summary: "run a command with a toolchain on PATH, installing it first if needed",
			doc: "Runs COMMAND with GOROOT set to the toolchain and its bin first on PATH (and GOTOOLCHAIN=local " +
				"unless set, so that the go command runs it rather than fetching another). The toolchain is " +
				"VERSION, else what ./go.mod or .go-version asks for, else the current one; one that is not " +
				"installed is installed first, as install would. The exit code is COMMAND's.",
			flags: func(f *flagSet, o *opts) {
				dirFlag(f, o)
				netFlags(f, o)
				trustFlags(f, o)
				quietFlag(f, o)
			},
			run: runExec},
		{name: "which", argsUsage: "[VERSION]", maxArgs: 1, versionArg: true,
			summary: "print the path of the go command that exec would run",
			doc: "Prints the path of the toolchain's go command: VERSION, else what ./go.mod or .go-version " +
				"asks for, else the current one. Nothing is installed.",
			flags: func(f *flagSet, o *opts) { dirFlag(f, o); outputFlags(f, o) },
			run:   runWhich},
		{name: "current", maxArgs: 0,
			summary: "say which toolchain applies here, and why",
			doc: "Prints the toolchain env, exec and which use in this directory (what ./go.mod or .go-version " +
				"asks for, else the current one), its GOROOT and what chose it.",
			flags: func(f *flagSet, o *opts) { dirFlag(f, o); outputFlags(f, o) },
			run:   runCurrent},
		{name: "doctor", argsUsage: "[URL...]", maxArgs: -1,
			summary: "probe every source stage by stage (proxy, DNS, TCP, TLS, HTTP): what fails, why, what to do",
			doc: "Probes every configured source, or just the URLs given, nearest first: the local configuration, " +
				"then each source's proxy, DNS, TCP, TLS (with the certificate chain) and HTTP stages, the " +
				"classified cause of the first failure and its remedy. Exits 0 when some source can serve an " +
				"install with a trusted checksum, 3 when none can.",
			flags: func(f *flagSet, o *opts) { dirFlag(f, o); netFlags(f, o); outputFlags(f, o) },
			run:   runDoctor},
		{name: "bundle create", maxArgs: 0,
			summary: "write a bundle: toolchain modules and their checksum-database proof (also a file:// GOPROXY)",
			doc: "Writes, per release and platform, the golang.org/toolchain module zip and the checksum " +
				"database's signed tree head, record and tiles for it, with gostrap-manifest.json listing " +
				"every file. Running it again fetches only what is missing or fails its check.",
			flags: func(f *flagSet, o *opts) {
				treeFlags(f, o, false)
				f.add(flagSpec{Name: "archive", Usage: "write one .tar file instead of a directory"}, boolValue{&o.archive})
				f.add(flagSpec{Name: "with-archives", Usage: "also hold the release archives (the full tree, test/ and api/ included)"}, boolValue{&o.withArchive})
				netFlags(f, o)
				trustFlags(f, o)
				outputFlags(f, o)
			},
			run: runBundleCreate},
		{name: "bundle verify", argsUsage: "PATH", minArgs: 1, maxArgs: 1,
			summary: "check a bundle offline: every file, every proof",
			doc: "Checks every file against the manifest and every release against the checksum database's " +
				"proof, offline, with the key this machine trusts (GOSUMDB's, else sum.golang.org's). Exits 4 " +
				"when anything was changed.",
			flags: func(f *flagSet, o *opts) {
				gosumdbFlag(f, o)
				outputFlags(f, o)
			},
			run: runBundleVerify},
		{name: "mirror sync", maxArgs: 0,
			summary: "build or update a static mirror tree: an official-compatible site, a flat mirror and a module proxy",
			doc: "Fetches the releases asked for (only what is new or fails its check) into an index.json " +
				"with the archives and .sha256 files, the golang.org/toolchain proxy layout and the checksum " +
				"database's files. Any static web server can serve the tree; run it from cron.",
			flags: func(f *flagSet, o *opts) {
				treeFlags(f, o, true)
				f.add(flagSpec{Name: "no-zips", Usage: "leave out the golang.org/toolchain proxy layout"}, boolValue{&o.noZips})
				netFlags(f, o)
				trustFlags(f, o)
				outputFlags(f, o)
			},
			run: runMirrorSync},
		{name: "mirror serve", argsUsage: "DIR", minArgs: 1, maxArgs: 1,
			summary: "serve a mirror tree or bundle on the LAN",
			doc:     "Serves DIR over HTTP until interrupted, and prints how clients point at it.",
			flags: func(f *flagSet, o *opts) {
				f.add(flagSpec{Name: "addr", Arg: "HOST:PORT", Def: "127.0.0.1:8080", Usage: "address to listen on (0.0.0.0:8080 for the LAN)"},
					stringValue{&o.addr, checkAddr})
			},
			run: runMirrorServe},
		{name: "cache list", maxArgs: 0,
			summary: "list the download cache: verified and partial downloads, and what else it holds",
			doc: "Lists every download, newest release first: its size, when it was verified and how, and " +
				"whether a toolchain in the install directory is that release (then prune keeps it).",
			flags: func(f *flagSet, o *opts) { cacheFlags(f, o); outputFlags(f, o) },
			run:   runCacheList},
		{name: "cache prune", maxArgs: 0,
			summary: "remove downloads no installed toolchain needs",
			doc: "Removes the downloads of releases not installed in the install directory (--all: those too), " +
				"except the --keep newest releases per platform and any verified more recently than " +
				"--older-than; partial downloads not written for --older-than (at least 10 minutes, so a " +
				"running install keeps its own); and stale indexes. The checksum database's state and the " +
				"rollback record are never removed: they protect later installs.",
			flags: func(f *flagSet, o *opts) {
				cacheFlags(f, o)
				f.add(flagSpec{Name: "keep", Arg: "N", Def: "0", Usage: "keep the N newest releases per platform as well"}, countValue{&o.keep})
				f.add(flagSpec{Name: "older-than", Arg: "AGE", Def: "0 (any age)", Usage: "remove only what is older than AGE, e.g. 30d, 12h"}, ageValue{&o.olderThan})
				f.add(flagSpec{Name: "all", Usage: "remove the downloads of installed toolchains too"}, boolValue{&o.all})
				f.add(flagSpec{Name: "dry-run", Usage: "say what would be removed; remove nothing"}, boolValue{&o.dryRun})
				outputFlags(f, o)
			},
			run: runCachePrune},
		{name: "cache clean", maxArgs: 0,
			summary: "remove every download and index (not the checksum database's state)",
			doc: "Removes every download, installed toolchains' too, every partial download not being written, " +
				"and every fetched index. The checksum database's verified state and the rollback record stay.",
			flags: func(f *flagSet, o *opts) {
				cacheFlags(f, o)
				f.add(flagSpec{Name: "dry-run", Usage: "say what would be removed; remove nothing"}, boolValue{&o.dryRun})
				outputFlags(f, o)
			},
			run: runCacheClean},
		{name: "completion", argsUsage: "bash|zsh|fish|powershell", minArgs: 1, maxArgs: 1,
			summary: "print a shell completion script",
			doc: "Prints the completion script for a shell, made from the same table as this help. " +
				"bash: source <(gostrap completion bash); zsh: gostrap completion zsh > \"${fpath[1]}/_gostrap\"; " +
				"fish: gostrap completion fish > ~/.config/fish/completions/gostrap.fish; " +
				"PowerShell: gostrap completion powershell | Out-String | Invoke-Expression.",
			run: runCompletion},
		{name: "version", maxArgs: 0,
			summary: "print gostrap's version",
			run:     runVersion},
		{name: "help", argsUsage: "[COMMAND]", maxArgs: 2,
			summary: "print this help, or a command's: its synopsis and every flag with its variable and default",
			run:     runHelp},
	}
}

func cacheFlags(f *flagSet, o *opts) {
	dirFlag(f, o)
	cacheDirFlag(f, o)
}

// treeFlags are the flags of bundle create and mirror sync.
func treeFlags(f *flagSet, o *opts, since bool) {
	f.add(flagSpec{Name: "out", Arg: "PATH", Usage: "directory to write (with --archive, the .tar file); required", Complete: []string{"dir"}},
		stringValue{&o.out, nil})
	f.add(flagSpec{Name: "version", Arg: "V", Repeat: true, Def: "latest", Usage: "release to include: latest, 1.N, 1.N.M"},
		listValue{&o.versions, checkVersion})
	f.add(flagSpec{Name: "platform", Arg: "OS/ARCH", Repeat: true, Def: "this machine's", Usage: "platform to include"},
		listValue{&o.platforms, checkPlatform})
	if since {
		f.add(flagSpec{Name: "since", Arg: "1.N", Usage: "include every stable release from this line on"}, stringValue{&o.since, checkLine})
	}
	f.add(flagSpec{Name: "gostrap-dist", Arg: "DIR", Usage: "take the gostrap binaries the tree carries from a 'go run ./internal/dist' output " +
		"directory (default: a dist-built gostrap rebuilds itself from the source it carries)", Complete: []string{"dir"}},
		stringValue{&o.gostrapDist, checkGostrapDist})
	f.add(flagSpec{Name: "no-gostrap", Usage: "leave gostrap itself, install.sh and install.ps1 out of the tree"}, boolValue{&o.noGostrap})
}

// checkGostrapDist requires a dist output directory: one holding SHA256SUMS.
func checkGostrapDist(s string) error {
	if _, err := os.Stat(filepath.Join(s, "SHA256SUMS")); err != nil {
		return fmt.Errorf("not a 'go run ./internal/dist' output directory (no SHA256SUMS): want DIR")
	}
	return nil
}

// lookup finds the command args name, and returns the arguments left for it.
func lookup(args []string) (*command, []string, error) {
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		name = "help"
	case "--version":
		name = "version"
	}
	for _, g := range groups {
		if name != g.name {
			continue
		}
		if len(args) < 2 {
			return nil, nil, &usageError{msg: "gostrap " + g.name + " needs a subcommand: " + strings.Join(subcommands(g.name), ", "), cmd: g.name}
		}
		switch args[1] {
		case "-h", "-help", "--help", "help":
			return find("help"), []string{g.name}, nil
		}
		if c := find(g.name + " " + args[1]); c != nil {
			return c, args[2:], nil
		}
		return nil, nil, &usageError{msg: "unknown " + g.name + " subcommand " + quote(args[1]) + ": want " + strings.Join(subcommands(g.name), ", "), cmd: g.name}
	}
	if c := find(name); c != nil {
		return c, args[1:], nil
	}
	return nil, nil, usagef("unknown command %s", quote(name))
}

func quote(s string) string { return `"` + s + `"` }

// find returns the command called name (or by an alias), or nil.
func find(name string) *command {
	for _, c := range commands {
		if c.name == name || slices.Contains(c.aliases, name) {
			return c
		}
	}
	return nil
}

// subcommands lists a group's subcommands.
func subcommands(g string) []string {
	var out []string
	for _, c := range commands {
		if sub, ok := strings.CutPrefix(c.name, g+" "); ok {
			out = append(out, sub)
		}
	}
	return out
}

// groupOf returns the group a name is, or nil.
func groupOf(name string) *group {
	for i := range groups {
		if groups[i].name == name {
			return &groups[i]
		}
	}
	return nil
}
