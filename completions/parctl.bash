# SPDX-License-Identifier: MIT
# bash completion for parctl(1): commands, global options, job kinds and their options, and the
# ids of the daemon's jobs (asked from the daemon with `parctl list`, when it answers).

_parctl_job_ids()
{
	local -a sock=()
	local i
	for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
		case ${COMP_WORDS[i]} in
		--socket | -s) sock=(--socket "${COMP_WORDS[i + 1]}") ;;
		--socket=*) sock=("${COMP_WORDS[i]}") ;;
		esac
	done
	parctl "${sock[@]}" list 2>/dev/null | awk 'NR > 1 { print $1 }'
}

_parctl()
{
	local cur prev words cword
	if declare -F _init_completion >/dev/null; then
		_init_completion -n = || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi

	local commands='submit status wait result cancel list stats'
	local globals='--json --socket -o --output --format --colormap --help --version'

	case $prev in
	--socket | -s)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	-o | --output)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -X '!*.@(npy|png|pgm|raw)' -- "$cur") $(compgen -d -- "$cur"))
		[[ -z $cur || $cur == - ]] && COMPREPLY+=(-)
		return
		;;
	--format)
		COMPREPLY=($(compgen -W 'npy png pgm raw' -- "$cur"))
		return
		;;
	--colormap)
		COMPREPLY=($(compgen -W 'grey fire viridis' -- "$cur"))
		return
		;;
	--seed | --iterations | --region)
		return
		;;
	esac
	case $cur in
	--socket=*)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "${cur#--socket=}"))
		return
		;;
	esac

	# The command and its arguments, skipping global options (they may come anywhere).
	local i cmd= kind= nargs=0
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--socket | -s | -o | --output | --format | --colormap) ((i++)) ;;
		--seed | --iterations | --region) [[ $cmd == submit ]] && ((i++)) ;;
		-*) ;;
		*)
			if [[ -z $cmd ]]; then
				cmd=${words[i]}
			else
				((nargs++))
				[[ $cmd == submit && $nargs -eq 1 ]] && kind=${words[i]}
			fi
			;;
		esac
	done

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$globals" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return
	fi

	case $cmd in
	submit)
		if [[ -z $kind ]]; then
			[[ $cur == -* ]] && COMPREPLY=($(compgen -W "$globals" -- "$cur")) ||
				COMPREPLY=($(compgen -W 'pi fractal' -- "$cur"))
		elif [[ $cur == -* ]]; then
			case $kind in
			pi) COMPREPLY=($(compgen -W "--seed --wait $globals" -- "$cur")) ;;
			fractal) COMPREPLY=($(compgen -W "--iterations --region --wait $globals" -- "$cur")) ;;
			*) COMPREPLY=($(compgen -W "--wait $globals" -- "$cur")) ;;
			esac
		fi
		;;
	status | wait | result | cancel)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$globals" -- "$cur"))
		elif ((nargs == 0)); then
			COMPREPLY=($(compgen -W "$(_parctl_job_ids)" -- "$cur"))
		fi
		;;
	*)
		[[ $cur == -* ]] && COMPREPLY=($(compgen -W "$globals" -- "$cur"))
		;;
	esac
} &&
	complete -F _parctl parctl
