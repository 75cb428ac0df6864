package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Completion scripts are generated from the command table, as help is: every command,
// subcommand and flag a shell offers is one gostrap accepts.

var completionShells = []string{"bash", "zsh", "fish", "powershell"}

func runCompletion(x *invocation) error {
	switch x.args[0] {
	case "bash":
		writeBash(x.stdout)
	case "zsh":
		writeZsh(x.stdout)
	case "fish":
		writeFish(x.stdout)
	case "powershell", "pwsh":
		writePowerShell(x.stdout)
	default:
		return badValue("shell", x.args[0], fmt.Errorf("want %s", strings.Join(completionShells, ", ")))
	}
	return nil
}

// compCommand is a command as completion sees it.
type compCommand struct {
	*command
	words []string // "install" or "bundle", "create"
	specs []*flagSpec
	// args: what the positional arguments complete to: "file", "dir", words, or nothing.
	args []string
}

func compCommands() []compCommand {
	var out []compCommand
	for _, c := range commands {
		cc := compCommand{command: c, words: strings.Fields(c.name), specs: c.flagSet(newOpts()).specs}
		switch c.name {
		case "completion":
			cc.args = completionShells
		case "help":
			cc.args = topWords()
		case "bundle verify", "mirror serve":
			cc.args = []string{"file"}
		}
		out = append(out, cc)
	}
	return out
}

// topWords are the first words of the commands, groups included, without aliases.
func topWords() []string {
	var out []string
	for _, c := range commands {
		w, _, _ := strings.Cut(c.name, " ")
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// names are the words that select c at the top level: its name and aliases.
func (c compCommand) names() []string {
	if len(c.words) > 1 {
		return nil
	}
	return append([]string{c.name}, c.aliases...)
}

func flagNames(specs []*flagSpec) string {
	var out []string
	for _, s := range specs {
		out = append(out, "--"+s.Name)
	}
	return strings.Join(out, " ")
}

func writeBash(w io.Writer) {
	// The flags that take a value, and what the value completes to.
	values := map[string][]string{}
	var order []string
	for _, c := range compCommands() {
		for _, s := range c.specs {
			if s.Arg == "" {
				continue
			}
			key := "--" + s.Name
			if _, ok := values[key]; !ok {
				order = append(order, key)
			}
			values[key] = s.Complete
		}
	}
	fmt.Fprintf(w, `# bash completion for gostrap: source <(gostrap completion bash)
_gostrap() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    local cmd="" sub="" i skip=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        local word="${COMP_WORDS[i]}"
        if [[ -n "$skip" ]]; then skip=""; continue; fi
        case "$word" in
            %s) skip=1 ;;
            -*) ;;
            *) if [[ -z "$cmd" ]]; then cmd="$word"; elif [[ -z "$sub" ]]; then sub="$word"; fi ;;
        esac
    done
    case "$prev" in
`, strings.Join(order, "|"))
	for _, key := range order {
		fmt.Fprintf(w, "        %s) %s; return ;;\n", key, bashWords(values[key]))
	}
	fmt.Fprintf(w, `    esac
    if [[ -z "$cmd" ]]; then
        COMPREPLY=($(compgen -W %q -- "$cur")); return
    fi
    local key="$cmd"
    case "$cmd" in
`, strings.Join(topWords(), " "))
	for _, g := range groups {
		fmt.Fprintf(w, "        %s)\n            if [[ -z \"$sub\" ]]; then COMPREPLY=($(compgen -W %q -- \"$cur\")); return; fi\n            key=\"$cmd $sub\" ;;\n",
			g.name, strings.Join(subcommands(g.name), " "))
	}
	fmt.Fprintf(w, "    esac\n    local flags=\"\" args=\"\"\n    case \"$key\" in\n")
	for _, c := range compCommands() {
		pattern := fmt.Sprintf("%q", c.name)
		if names := c.names(); len(names) > 0 {
			pattern = strings.Join(names, "|")
		}
		fmt.Fprintf(w, "        %s) flags=%q; args=%q ;;\n", pattern, flagNames(c.specs), strings.Join(c.args, " "))
	}
	fmt.Fprint(w, `    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    elif [[ "$args" == file ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
    elif [[ -n "$args" ]]; then
        COMPREPLY=($(compgen -W "$args" -- "$cur"))
    fi
}
complete -o default -F _gostrap gostrap
`)
}

func bashWords(complete []string) string {
	switch {
	case len(complete) == 0:
		return "COMPREPLY=()"
	case complete[0] == "file":
		return `COMPREPLY=($(compgen -f -- "$cur"))`
	case complete[0] == "dir":
		return `COMPREPLY=($(compgen -d -- "$cur"))`
	}
	return fmt.Sprintf(`COMPREPLY=($(compgen -W %q -- "$cur"))`, strings.Join(complete, " "))
}

func writeZsh(w io.Writer) {
	fmt.Fprint(w, "#compdef gostrap\n# zsh completion for gostrap: gostrap completion zsh > \"${fpath[1]}/_gostrap\"\n\n_gostrap() {\n")
	fmt.Fprint(w, "  local -a commands\n  commands=(\n")
	for _, c := range compCommands() {
		if len(c.words) == 1 {
			for _, n := range c.names() {
				fmt.Fprintf(w, "    %s\n", zshQuote(n+":"+zshEscapeColon(c.summary)))
			}
		}
	}
	for _, g := range groups {
		fmt.Fprintf(w, "    %s\n", zshQuote(g.name+":"+zshEscapeColon(g.summary)))
	}
	fmt.Fprint(w, "  )\n  local curcontext=\"$curcontext\" state line\n  _arguments -C '1: :->command' '*:: :->args'\n")
	fmt.Fprint(w, "  case $state in\n    command) _describe -t commands 'gostrap command' commands ;;\n    args)\n      local key=$words[1]\n      case $key in\n")
	for _, g := range groups {
		var subs []string
		for _, c := range compCommands() {
			if len(c.words) == 2 && c.words[0] == g.name {
				subs = append(subs, zshQuote(c.words[1]+":"+zshEscapeColon(c.summary)))
			}
		}
		fmt.Fprintf(w, "        %s)\n          if (( CURRENT == 2 )); then\n            local -a subs; subs=(%s)\n            _describe -t commands 'subcommand' subs; return\n          fi\n          key=\"$key $words[2]\"; shift words; (( CURRENT-- )) ;;\n",
			g.name, strings.Join(subs, " "))
	}
	fmt.Fprint(w, "      esac\n      case $key in\n")
	for _, c := range compCommands() {
		pattern := zshQuote(c.name)
		if names := c.names(); len(names) > 0 {
			pattern = strings.Join(names, "|")
		}
		specs := []string{}
		for _, s := range c.specs {
			specs = append(specs, zshQuote(zshFlag(s)))
		}
		switch {
		case len(c.args) > 0 && c.args[0] == "file":
			specs = append(specs, zshQuote("*:file:_files"))
		case len(c.args) > 0:
			specs = append(specs, zshQuote("1:argument:("+strings.Join(c.args, " ")+")"))
		}
		fmt.Fprintf(w, "        %s) _arguments %s ;;\n", pattern, strings.Join(specs, " \\\n            "))
	}
	fmt.Fprint(w, "      esac ;;\n  esac\n}\n\n_gostrap \"$@\"\n")
}

func zshFlag(s *flagSpec) string {
	f := "--" + s.Name + "[" + zshEscapeBrackets(s.Usage) + "]"
	if s.Repeat {
		f = "*" + f
	}
	if s.Arg == "" {
		return f
	}
	action := " "
	switch {
	case len(s.Complete) == 0:
	case s.Complete[0] == "file":
		action = "_files"
	case s.Complete[0] == "dir":
		action = "_files -/"
	default:
		action = "(" + strings.Join(s.Complete, " ") + ")"
	}
	return f + ":" + zshEscapeColon(s.Arg) + ":" + action
}

func zshQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func zshEscapeColon(s string) string { return strings.ReplaceAll(s, ":", `\:`) }

func zshEscapeBrackets(s string) string {
	return strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`, ":", `\:`).Replace(s)
}

func writeFish(w io.Writer) {
	fmt.Fprint(w, "# fish completion for gostrap: gostrap completion fish > ~/.config/fish/completions/gostrap.fish\ncomplete -c gostrap -f\n")
	all := strings.Join(append(topWords(), aliases()...), " ")
	for _, c := range compCommands() {
		if len(c.words) == 1 {
			for _, n := range c.names() {
				fmt.Fprintf(w, "complete -c gostrap -n %s -a %s -d %s\n", fishQuote("not __fish_seen_subcommand_from "+all), n, fishQuote(c.summary))
			}
		}
	}
	for _, g := range groups {
		fmt.Fprintf(w, "complete -c gostrap -n %s -a %s -d %s\n", fishQuote("not __fish_seen_subcommand_from "+all), g.name, fishQuote(g.summary))
		subs := strings.Join(subcommands(g.name), " ")
		for _, c := range compCommands() {
			if len(c.words) == 2 && c.words[0] == g.name {
				cond := "__fish_seen_subcommand_from " + g.name + "; and not __fish_seen_subcommand_from " + subs
				fmt.Fprintf(w, "complete -c gostrap -n %s -a %s -d %s\n", fishQuote(cond), c.words[1], fishQuote(c.summary))
			}
		}
	}
	for _, c := range compCommands() {
		cond := "__fish_seen_subcommand_from " + strings.Join(c.names(), " ")
		if len(c.words) == 2 {
			cond = "__fish_seen_subcommand_from " + c.words[0] + "; and __fish_seen_subcommand_from " + c.words[1]
		}
		for _, s := range c.specs {
			value := ""
			switch {
			case s.Arg == "":
			case len(s.Complete) == 0:
				value = " -x"
			case s.Complete[0] == "file":
				value = " -r -F"
			case s.Complete[0] == "dir":
				value = " -x -a '(__fish_complete_directories)'"
			default:
				value = " -x -a " + fishQuote(strings.Join(s.Complete, " "))
			}
			fmt.Fprintf(w, "complete -c gostrap -n %s -l %s%s -d %s\n", fishQuote(cond), s.Name, value, fishQuote(s.Usage))
		}
		switch {
		case len(c.args) > 0 && c.args[0] == "file":
			fmt.Fprintf(w, "complete -c gostrap -n %s -F\n", fishQuote(cond))
		case len(c.args) > 0:
			fmt.Fprintf(w, "complete -c gostrap -n %s -a %s\n", fishQuote(cond), fishQuote(strings.Join(c.args, " ")))
		}
	}
}

func aliases() []string {
	var out []string
	for _, c := range commands {
		out = append(out, c.aliases...)
	}
	return out
}

func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}

func writePowerShell(w io.Writer) {
	fmt.Fprint(w, "# PowerShell completion for gostrap: gostrap completion powershell | Out-String | Invoke-Expression\n")
	fmt.Fprint(w, "$gostrapCommands = @{\n")
	for _, c := range compCommands() {
		keys := []string{c.name}
		if names := c.names(); len(names) > 0 {
			keys = names
		}
		for _, k := range keys {
			var flags []string
			for _, s := range c.specs {
				flags = append(flags, psQuote("--"+s.Name))
			}
			fmt.Fprintf(w, "    %s = @{ Flags = @(%s); Args = @(%s); Summary = %s }\n", psQuote(k), strings.Join(flags, ", "),
				psList(c.args), psQuote(c.summary))
		}
	}
	fmt.Fprint(w, "}\n$gostrapGroups = @{\n")
	for _, g := range groups {
		fmt.Fprintf(w, "    %s = @(%s)\n", psQuote(g.name), psList(subcommands(g.name)))
	}
	fmt.Fprint(w, `}
Register-ArgumentCompleter -Native -CommandName gostrap, gostrap.exe -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $words = @($commandAst.CommandElements | Select-Object -Skip 1 | ForEach-Object { $_.ToString() } |
        Where-Object { $_ -notlike '-*' })
    if ($wordToComplete -ne '' -and $words.Count -gt 0 -and $words[-1] -eq $wordToComplete) {
        $words = @($words | Select-Object -SkipLast 1)
    }
    $candidates = @()
    if ($words.Count -eq 0) {
        $candidates = @($gostrapCommands.Keys | Where-Object { $_ -notlike '* *' }) + @($gostrapGroups.Keys)
    } elseif ($gostrapGroups.ContainsKey($words[0]) -and $words.Count -eq 1) {
        $candidates = $gostrapGroups[$words[0]]
    } else {
        $key = $words[0]
        if ($gostrapGroups.ContainsKey($key)) { $key = "$key $($words[1])" }
        $cmd = $gostrapCommands[$key]
        if ($cmd) {
            if ($wordToComplete -like '-*') { $candidates = $cmd.Flags } else { $candidates = $cmd.Args | Where-Object { $_ -ne 'file' } }
        }
    }
    $candidates | Where-Object { $_ -like "$wordToComplete*" } | Sort-Object -Unique | ForEach-Object {
        [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
    }
}
`)
}

func psQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func psList(xs []string) string {
	var out []string
	for _, x := range xs {
		out = append(out, psQuote(x))
	}
	return strings.Join(out, ", ")
}
