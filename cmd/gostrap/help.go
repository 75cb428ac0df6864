package main

import (
	"fmt"
	"io"
	"strings"
)

// Help is made from the command table: a command's synopsis, what it does, and every flag it
// takes with its environment variable and default.

const intro = `gostrap installs Go toolchains, from wherever the network allows: the official site, a
mirror, a module proxy, or an offline bundle, each download verified before it is installed.
`

const exitCodes = `Exit codes: 0 done, 1 other failure, 2 usage or bad input, 3 no source could
serve the request, 4 verification failed.`

// writeHelp prints the general help (cmd nil) or one command's.
func writeHelp(w io.Writer, cmd *command) {
	if cmd == nil {
		writeGeneralHelp(w)
		return
	}
	fmt.Fprintf(w, "usage: %s\n\n", synopsis(cmd))
	doc := cmd.doc
	if doc == "" {
		doc = strings.ToUpper(cmd.summary[:1]) + cmd.summary[1:] + "."
	}
	fmt.Fprintln(w, wrap(doc, 78, ""))
	if len(cmd.aliases) > 0 {
		fmt.Fprintf(w, "\nAlso called: %s.\n", strings.Join(cmd.aliases, ", "))
	}
	if specs := cmd.flagSet(newOpts()).specs; len(specs) > 0 {
		fmt.Fprintln(w, "\nFlags, before or after arguments; a variable applies when its flag is absent:")
		writeFlags(w, specs)
	}
	fmt.Fprintf(w, "\n%s\n", exitCodes)
}

func writeGeneralHelp(w io.Writer) {
	fmt.Fprint(w, intro+"\nCommands:\n")
	for _, line := range commandList() {
		fmt.Fprintln(w, "  "+line)
	}
	fmt.Fprintln(w, "\nRun 'gostrap help COMMAND' (or gostrap COMMAND --help) for a command's flags,")
	fmt.Fprintln(w, "each with its environment variable and default.")
	fmt.Fprintf(w, "\n%s\n", exitCodes)
}

// writeGroupHelp prints a group's subcommands.
func writeGroupHelp(w io.Writer, g *group) {
	fmt.Fprintf(w, "usage: gostrap %s SUBCOMMAND\n\n%s%s.\n\nSubcommands:\n", g.name, strings.ToUpper(g.summary[:1]), g.summary[1:])
	for _, c := range commands {
		if strings.HasPrefix(c.name, g.name+" ") {
			for _, l := range strings.Split(listLine(c), "\n") {
				fmt.Fprintln(w, "  "+l)
			}
		}
	}
	fmt.Fprintf(w, "\nRun 'gostrap help %s SUBCOMMAND' for its flags.\n", g.name)
}

// commandList is one entry per command, its usage and summary, as the general help and the
// README list them.
func commandList() []string {
	var out []string
	for _, c := range commands {
		out = append(out, strings.Split(listLine(c), "\n")...)
	}
	return out
}

// listLine is a command's usage, then its summary in a column (on a line of its own when the
// usage is long).
func listLine(c *command) string {
	const col = 30
	u := strings.TrimSpace(c.name + " " + c.argsUsage)
	sum := wrap(c.summary, 76-col, strings.Repeat(" ", col+2))
	if len(u) >= col {
		return u + "\n" + strings.Repeat(" ", col+2) + sum
	}
	return fmt.Sprintf("%-*s  %s", col, u, sum)
}

func synopsis(c *command) string {
	s := "gostrap " + c.name
	if c.flags != nil {
		s += " [flags]"
	}
	if c.argsUsage != "" {
		s += " " + c.argsUsage
	}
	return s
}

// writeFlags prints one entry per flag: the flag and its value, what it does, then its
// environment variable and default.
func writeFlags(w io.Writer, specs []*flagSpec) {
	const col = 26
	indent := strings.Repeat(" ", col+4)
	for _, s := range specs {
		name := flagTitle(s)
		text := wrap(s.Usage, 78-col-4, indent)
		if len(name) <= col {
			fmt.Fprintf(w, "  %-*s  %s\n", col, name, text)
		} else {
			fmt.Fprintf(w, "  %s\n%s%s\n", name, indent, text)
		}
		var extra []string
		if s.Env != "" {
			env := "env " + s.Env
			if s.Repeat {
				env += " (comma-separated)"
			}
			extra = append(extra, env)
		}
		if s.Def != "" {
			extra = append(extra, "default: "+s.Def)
		}
		if len(extra) > 0 {
			fmt.Fprintf(w, "%s%s\n", indent, wrap(strings.Join(extra, "; "), 78-col-4, indent))
		}
	}
}

// flagTitle is how help and the README show a flag: --name ARG, and "..." when it repeats.
func flagTitle(s *flagSpec) string {
	t := "--" + s.Name
	if s.Arg != "" {
		t += " " + s.Arg
	}
	if s.Repeat {
		t += " ..."
	}
	return t
}

// wrap breaks text into lines of at most width characters, indenting every line but the first.
func wrap(text string, width int, indent string) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(text) {
		if i > 0 && n+1+len(word) > width {
			b.WriteString("\n" + indent)
			n = 0
		} else if i > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}

func runHelp(x *invocation) error {
	if len(x.args) == 0 {
		writeGeneralHelp(x.stdout)
		return nil
	}
	name := strings.Join(x.args, " ")
	if g := groupOf(name); g != nil {
		writeGroupHelp(x.stdout, g)
		return nil
	}
	c := find(name)
	if c == nil {
		return usagef("no help for %s: not a command (run 'gostrap help' for the list)", quote(name))
	}
	writeHelp(x.stdout, c)
	return nil
}

func runVersion(x *invocation) error {
	fmt.Fprint(x.stdout, versionText())
	return nil
}
