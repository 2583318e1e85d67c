/**
 * `tdxpa completion bash|zsh`: prints a shell completion script for `tdxpa`: subcommands, each
 * subcommand's options (read from its help text, so they never drift), `help <subcommand>`, the kinds
 * and forms of decode and encode, and for scenario arguments the shipped scenarios by name plus files.
 */
import { EXIT, type Subcommand, UsageError } from "./io.js";
import { shippedScenarioNames } from "./scenario-file.js";

const HELP = `Usage: tdxpa completion bash|zsh

Prints a completion script for the shell named: subcommands, their options, decode kinds, encode
forms and, where a scenario is taken, the shipped scenarios by name and files.

Options:
  -h, --help      show this help

Exit status: 0 printed, 2 usage error (no shell or an unknown one).

Examples:
  source <(tdxpa completion bash)                     # this shell
  tdxpa completion bash > ~/.local/share/bash-completion/completions/tdxpa
  tdxpa completion zsh > "\${fpath[1]}/_tdxpa"        # zsh: a directory on $fpath`;

/** The options a subcommand's help lists (`--name` and `-x`), in order of appearance. */
export function optionsOf(help: string): string[] {
  const out = new Set<string>();
  for (const line of help.split("\n")) {
    const match = /^\s{2}((?:-\w, )?--[\w-]+)/.exec(line);
    if (match === null) continue;
    for (const o of match[1]!.split(", ")) out.add(o);
  }
  return [...out];
}

/** Words a subcommand takes as positionals: decode kinds, encode forms, scenario names. */
function wordsOf(c: Subcommand, scenarios: readonly string[]): string[] {
  if (c.name === "decode" || c.name === "encode") {
    const block = /\n(?:Kinds|Forms):\n([\s\S]*?)\n\n/.exec(c.help)?.[1] ?? "";
    return [...block.matchAll(/^\s{2}([a-z][\w-]*)\s/gm)].map((match) => match[1]!);
  }
  if (["run", "report", "inspect", "compare"].includes(c.name)) return [...scenarios];
  return [];
}

const shellWords = (ws: readonly string[]) => ws.join(" ");
const FILE_ARGS = new Set(["run", "report", "inspect", "compare"]);

/** The bash completion script for the given subcommands. */
export function bashCompletion(cmds: readonly Subcommand[], scenarios: readonly string[]): string {
  const names = cmds.map((c) => c.name);
  const cases = cmds
    .map(
      (c) =>
        `    ${c.name}) opts="${shellWords(optionsOf(c.help))}"; words="${shellWords(wordsOf(c, scenarios))}"; files=${FILE_ARGS.has(c.name) ? 1 : 0} ;;`,
    )
    .join("\n");
  return `# bash completion for tdxpa (written by 'tdxpa completion bash')
_tdxpa() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="\${COMP_WORDS[1]}" opts="" words="" files=0
  COMPREPLY=()
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=( $(compgen -W "${shellWords(names)} help --help --version" -- "$cur") )
    return 0
  fi
  case "$cmd" in
    help) [[ $COMP_CWORD -eq 2 ]] && COMPREPLY=( $(compgen -W "${shellWords(names)}" -- "$cur") ); return 0 ;;
${cases}
    *) return 0 ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
  else
    COMPREPLY=( $(compgen -W "$words" -- "$cur") )
    [[ $files -eq 1 ]] && COMPREPLY+=( $(compgen -f -- "$cur") )
  fi
  return 0
}
complete -o filenames -F _tdxpa tdxpa
`;
}

/** The zsh completion script (works from $fpath as `_tdxpa` and when sourced). */
export function zshCompletion(cmds: readonly Subcommand[], scenarios: readonly string[]): string {
  const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  const described = cmds.map((c) => `    ${q(`${c.name}:${c.summary.replace(/:/g, "\\:")}`)}`).join("\n");
  const cases = cmds
    .map(
      (c) =>
        `    ${c.name}) opts=(${shellWords(optionsOf(c.help))}); cands=(${shellWords(wordsOf(c, scenarios))}); files=${FILE_ARGS.has(c.name) ? 1 : 0} ;;`,
    )
    .join("\n");
  return `#compdef tdxpa
# zsh completion for tdxpa (written by 'tdxpa completion zsh')
_tdxpa() {
  local -a subcmds opts cands
  local files=0
  subcmds=(
${described}
    'help:show the help of a subcommand'
  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'tdxpa subcommand' subcmds
    return
  fi
  case \${words[2]} in
    help) (( CURRENT == 3 )) && _describe -t commands 'tdxpa subcommand' subcmds; return ;;
${cases}
    *) return ;;
  esac
  if [[ \${words[CURRENT]} == -* ]]; then
    compadd -- $opts
  else
    compadd -- $cands
    (( files )) && _files
  fi
}
if [[ \${funcstack[1]} == _tdxpa ]]; then _tdxpa "$@"; else compdef _tdxpa tdxpa; fi
`;
}

/**
 * The `completion` subcommand. Built from the subcommand table it is given (main.ts passes its own,
 * this one included), so the script lists exactly the subcommands `tdxpa` has.
 */
export function completionCommand(all: () => readonly Subcommand[]): Subcommand {
  return {
    name: "completion",
    summary: "print a bash or zsh completion script",
    help: HELP,
    async run(args, io) {
      const shell = args[0];
      if (args.length !== 1 || (shell !== "bash" && shell !== "zsh"))
        throw new UsageError(
          `completion: expected one shell, bash or zsh; got ${args.length === 0 ? "none" : args.map((a) => `'${a}'`).join(" ")}`,
        );
      const scenarios = shippedScenarioNames();
      io.out((shell === "bash" ? bashCompletion : zshCompletion)(all(), scenarios).trimEnd());
      return EXIT.OK;
    },
  };
}
