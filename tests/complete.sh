#!/usr/bin/env bash
# tests/complete.sh LINE: what bash's TAB offers for the command line LINE (the cursor at
# its end), one line for each completion: LINE as it would read with that completion
# put in; a last line "nospace" when no space would follow it.
#
# The completion is loaded as bash-completion loads it on a first TAB (from its
# completions directory, or one under $XDG_DATA_DIRS), or from the file
# $FACTUURFS_COMPLETION.  COMP_WORDS are split as bash splits them: at blanks, and
# around each "=" and ":" (they are in COMP_WORDBREAKS).
set -u
source /usr/share/bash-completion/bash_completion
if [[ -n ${FACTUURFS_COMPLETION-} ]]; then
	source "$FACTUURFS_COMPLETION"
else
	_completion_loader factuurfs
fi
if [[ $(complete -p factuurfs 2>/dev/null) != "complete -F _factuurfs factuurfs" ]]; then
	echo "complete.sh: no completion for factuurfs: $(complete -p factuurfs 2>&1)" >&2
	exit 1
fi

nospace=0
# Outside a real completion compopt refuses: note what it is asked.
compopt() { [[ $* == *nospace* ]] && nospace=1; return 0; }

COMP_LINE=$1
COMP_POINT=${#COMP_LINE}
COMP_WORDS=()
w= started=0 start=0
for ((i = 0; i < ${#COMP_LINE}; i++)); do
	c=${COMP_LINE:i:1}
	case $c in
	' ') ((started)) && COMP_WORDS+=("$w"); w= started=0 start=$((i + 1)) ;;
	'=' | ':')
		((started)) && COMP_WORDS+=("$w")
		COMP_WORDS+=("$c") w= started=0 start=$((i + 1)) ;;
	*) w+=$c started=1 ;;
	esac
done
if ((started)) || [[ $COMP_LINE == *[\ =:] ]]; then
	COMP_WORDS+=("$w")
fi
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMPREPLY=()
_factuurfs factuurfs "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
# Readline replaces what follows the last blank or word break.
for r in "${COMPREPLY[@]}"; do
	printf '%s%s\n' "${COMP_LINE:0:start}" "$r"
done
((nospace)) && echo nospace
exit 0
