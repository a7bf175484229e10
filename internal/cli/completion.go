package cli

import (
	"sort"
	"strings"

	"secgw/internal/schema"
)

// CompleteWords returns the words that may replace partial after the
// complete words of a one-shot command ('secgw show ike ...'), from the
// schema alone: the shell's completion runs it without connecting, so
// list keys (the names of existing VPNs...) are not offered. Placeholders
// ("<name>") are left out, they are not words to type.
func CompleteWords(s *schema.Schema, words []string, partial string) []string {
	c := New(s, nil, nil)
	var out []string
	for _, cand := range c.Candidates(words) {
		if cand.Value || !strings.HasPrefix(cand.Word, partial) {
			continue
		}
		out = append(out, cand.Word)
	}
	sort.Strings(out)
	return out
}

// BashCompletion is the bash completion of secgw, printed by
// 'secgw -completion bash': source it, or install it as
// /usr/share/bash-completion/completions/secgw. It hands the command line
// up to the cursor to 'secgw -complete', which parses the flags as a run
// would and completes the command's words.
const BashCompletion = `# bash completion for secgw (secgw -completion bash)
_secgw() {
	local cur=${COMP_WORDS[COMP_CWORD]}
	case $cur in
	-*)
		COMPREPLY=($(compgen -W "$(secgw -complete-flags 2>/dev/null)" -- "$cur"))
		return
		;;
	esac
	local IFS=$'\n'
	COMPREPLY=($(secgw -complete "${COMP_WORDS[@]:1:COMP_CWORD-1}" "$cur" 2>/dev/null))
}
complete -F _secgw secgw
`
