# bash completion for vpsctl: commands, each command's options (read from the vpsctl being
# completed, so they follow its --help), VPS IDs and template names from the running vpsd
# (the one --socket or --remote names on the command line, else $VPSD_SOCKET or the default),
# and the names of the remotes.
# Installed as share/bash-completion/completions/vpsctl; also fine to source from ~/.bashrc.

# _vpsctl_run ARGS...: the vpsctl being completed (a path as typed, else the one on PATH),
# with the command line's --socket or --remote, for at most 3 s and with its errors silenced.
_vpsctl_run()
{
        local bin=${_vpsctl_bin:-vpsctl}
        local -a cmd=("$bin")
        [ -z "$_vpsctl_socket" ] || cmd+=(--socket "$_vpsctl_socket")
        [ -z "$_vpsctl_remote" ] || cmd+=(--remote "$_vpsctl_remote")
        if type -P timeout >/dev/null; then
                timeout 3 "${cmd[@]}" "$@" 2>/dev/null
        else
                "${cmd[@]}" "$@" 2>/dev/null
        fi
}

# The VPS IDs vpsd knows (stopped ones too), one a line.
_vpsctl_ids()
{
        _vpsctl_run list -a -H -o id
}

# _vpsctl_names ARGS...: the first column of the table that `vpsctl ARGS` prints, after its
# header line.
_vpsctl_names()
{
        _vpsctl_run "$@" | {
                local name rest
                read -r _ || return 0
                while read -r name rest; do
                        [ -z "$name" ] || printf '%s\n' "$name"
                done
        }
}

# The template names vpsd holds.
_vpsctl_templates()
{
        _vpsctl_names template list
}

# The remotes' names (from remotes.json: no vpsd is asked).
_vpsctl_remotes()
{
        _vpsctl_names remote list
}

# The commands, from the "Commands:" part of a help text (stdin): first words of its lines.
_vpsctl_commands_of()
{
        local line in=0 w
        while IFS= read -r line; do
                case $line in
                Commands:*) in=1 ;;
                "") [ "$in" = 1 ] && in=2 ;;
                "  "[a-z]*)
                        [ "$in" = 1 ] || continue
                        w=${line#  }
                        w=${w%% *}
                        # "build|import|list|remove ..." style lines name one command each
                        printf '%s\n' "${w%%|*}"
                        ;;
                esac
        done
}

# _vpsctl_options HELP: sets _vpsctl_opts (every option of the help text), _vpsctl_argopts
# (those that take a value, " --opt=PLACEHOLDER " entries) and _vpsctl_choices (" --opt=a|b ").
_vpsctl_options()
{
        local help=$1 line rest w arg
        _vpsctl_opts=" " _vpsctl_argopts=" " _vpsctl_choices=" "
        while IFS= read -r line; do
                rest=$line
                # Usage lines: "[--opt a|b]" and "[--opt VALUE]" groups.
                while [[ $rest =~ \[(--?[A-Za-z0-9][A-Za-z0-9_-]*)(\ ([^]]*))?\] ]]; do
                        w=${BASH_REMATCH[1]} arg=${BASH_REMATCH[3]}
                        rest=${rest#*"${BASH_REMATCH[0]}"}
                        [[ $_vpsctl_opts == *" $w "* ]] || _vpsctl_opts+="$w "
                        [ -z "$arg" ] || _vpsctl_argopts+="$w=$arg "
                        [[ $arg != *"|"* ]] || _vpsctl_choices+="$w=$arg "
                done
                # Option lines: "  -x, --long ARG   text" (one space before ARG) or "  --long   text".
                [[ $line =~ ^\ +(-[A-Za-z0-9],\ )?(--[A-Za-z0-9][A-Za-z0-9_-]*)(\ ([^ ]+))? ]] || continue
                w=${BASH_REMATCH[2]} arg=${BASH_REMATCH[4]}
                [[ $_vpsctl_opts == *" $w "* ]] || _vpsctl_opts+="$w "
                if [ -n "${BASH_REMATCH[1]}" ]; then
                        local short=${BASH_REMATCH[1]%, }
                        [[ $_vpsctl_opts == *" $short "* ]] || _vpsctl_opts+="$short "
                        [ -z "$arg" ] || _vpsctl_argopts+="$short=$arg "
                fi
                [ -z "$arg" ] || _vpsctl_argopts+="$w=$arg "
                [[ $arg != *"|"* ]] || _vpsctl_choices+="$w=$arg "
        done <<<"$help"
}

# The names `template build` knows, from its help: "Build the template NAME: a (...), or b, c (...)."
_vpsctl_buildable()
{
        local text
        text=$(_vpsctl_run template build --help | sed -n '/NAME:/,/^$/p' | tr '\n' ' ')
        text=${text#*NAME:}
        while [[ $text =~ \([^\(\)]*\) ]]; do text=${text/"${BASH_REMATCH[0]}"/}; done
        text=${text%%.*}
        text=${text//,/ }
        local w
        for w in $text; do
                [ "$w" = or ] || [[ ! $w =~ ^[a-z][a-z0-9_-]*$ ]] || printf '%s\n' "$w"
        done
}

# The snapshot names of VPS $1.
_vpsctl_snapshots()
{
        _vpsctl_names snapshot-list "$1"
}

# File names for the word under the cursor (cur), shown as such (a slash after directories).
_vpsctl_files()
{
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}

_vpsctl()
{
        local cur=${COMP_WORDS[COMP_CWORD]} prev=
        [ "$COMP_CWORD" -lt 1 ] || prev=${COMP_WORDS[COMP_CWORD - 1]}
        local _vpsctl_bin=${COMP_WORDS[0]} _vpsctl_socket= _vpsctl_remote=
        # A vpsctl typed as a path is run as such; "~/" is the only expansion worth doing here.
        case $_vpsctl_bin in
        "~/"*) _vpsctl_bin=$HOME/${_vpsctl_bin#"~/"} ;;
        */*) ;;
        *) _vpsctl_bin=vpsctl ;;
        esac
        COMPREPLY=()

        # The global options before the command, and the command.
        local i=1 cmd= w
        while [ "$i" -lt "$COMP_CWORD" ]; do
                w=${COMP_WORDS[i]}
                case $w in
                --socket) _vpsctl_socket=${COMP_WORDS[i + 1]}; i=$((i + 2)); continue ;;
                --socket=*) _vpsctl_socket=${w#--socket=} ;;
                --remote) _vpsctl_remote=${COMP_WORDS[i + 1]}; i=$((i + 2)); continue ;;
                --remote=*) _vpsctl_remote=${w#--remote=} ;;
                -*) ;;
                *) cmd=$w; break ;;
                esac
                i=$((i + 1))
        done
        if [ -z "$cmd" ]; then
                if [ "$prev" = --socket ]; then
                        _vpsctl_files
                elif [ "$prev" = --remote ]; then
                        mapfile -t COMPREPLY < <(compgen -W "local $(_vpsctl_remotes)" -- "$cur")
                elif [[ $cur == -* ]]; then
                        mapfile -t COMPREPLY < <(compgen -W "--socket --remote --help --version" -- "$cur")
                else
                        mapfile -t COMPREPLY < <(compgen -W "$(_vpsctl_run --help | _vpsctl_commands_of)" -- "$cur")
                fi
                return 0
        fi

        # The words after the command: the sub-command of template and remote, then the
        # arguments.
        local sub= cmdi=$i
        local -a args=()
        local help
        if [ "$cmd" = template ] || [ "$cmd" = remote ]; then
                if [ $((cmdi + 1)) -lt "$COMP_CWORD" ]; then
                        sub=${COMP_WORDS[cmdi + 1]}
                        cmdi=$((cmdi + 1))
                elif [[ $cur != -* ]]; then
                        mapfile -t COMPREPLY < <(compgen -W "$(_vpsctl_run "$cmd" --help | _vpsctl_commands_of)" -- "$cur")
                        return 0
                fi
        fi
        help=$(_vpsctl_run $cmd $sub --help)
        _vpsctl_options "$help"

        # Positional arguments so far (skipping options and their values); after "--" or
        # the command of exec, the words belong to the VPS.
        i=$((cmdi + 1))
        while [ "$i" -lt "$COMP_CWORD" ]; do
                w=${COMP_WORDS[i]}
                if [ "$w" = -- ]; then
                        [ "$cmd" = exec ] && return 0
                elif [[ $w == -* ]]; then
                        [[ $_vpsctl_argopts == *" $w="* ]] && i=$((i + 1))
                else
                        args+=("$w")
                        [ "$cmd" = exec ] && [ "${#args[@]}" -ge 2 ] && return 0
                fi
                i=$((i + 1))
        done

        # The value of an option.
        if [[ $prev == -* ]] && [[ $_vpsctl_argopts == *" $prev="* ]]; then
                local ph=${_vpsctl_argopts#*" $prev="}
                ph=${ph%% *}
                if [ "$prev" = --plan ]; then
                        # the shipped plans_dir (vpsd.conf may name another), and none
                        local f words=none
                        for f in /etc/vps/plans/*.conf; do
                                [ -f "$f" ] || continue
                                f=${f##*/}
                                words+=" ${f%.conf}"
                        done
                        mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
                elif [[ $_vpsctl_choices == *" $prev="* ]]; then
                        local c=${_vpsctl_choices#*" $prev="} words=
                        c=${c%% *}
                        for w in ${c//|/ }; do
                                [[ ! $w =~ ^[a-z][a-z0-9_-]*$ ]] || words+="$w "
                        done
                        mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
                elif [ "$prev" = --node ] || [ "$prev" = --to-node ]; then
                        mapfile -t COMPREPLY < <(compgen -W "auto $(_vpsctl_names nodes)" -- "$cur")
                elif [ "$prev" = --ostemplate ]; then
                        mapfile -t COMPREPLY < <(compgen -W "$(_vpsctl_templates)" -- "$cur")
                elif [ "$cmd/$prev" = events/--vps ]; then
                        mapfile -t COMPREPLY < <(compgen -W "$(_vpsctl_ids)" -- "$cur")
                elif [ "$ph" = FILE ] || [ "$ph" = PATH ]; then
                        _vpsctl_files
                fi
                return 0
        fi
        if [[ $cur == -* ]]; then
                mapfile -t COMPREPLY < <(compgen -W "$_vpsctl_opts" -- "$cur")
                return 0
        fi

        # The positional argument under the cursor.
        local n=${#args[@]}
        case $cmd/$sub in
        help/) [ "$n" = 0 ] && mapfile -t COMPREPLY < <(compgen -W "$(_vpsctl_run --help | _vpsctl_commands_of)" -- "$cur") ;;
        template/build) [ "$n" = 0 ] && mapfile -t COMPREPLY < <(compgen -W "$(_vpsctl_buildable)" -- "$cur") ;;
        template/remove) [ "$n" = 0 ] && mapfile -t COMPREPLY < <(compgen -W "$(_vpsctl_templates)" -- "$cur") ;;
        template/import) [ "$n" = 1 ] && _vpsctl_files ;;
        node/)
                if [ "$n" = 0 ]; then
                        mapfile -t COMPREPLY < <(compgen -W "drain undrain" -- "$cur")
                elif [ "$n" = 1 ]; then
                        mapfile -t COMPREPLY < <(compgen -W "$(_vpsctl_names nodes)" -- "$cur")
                fi
                ;;
        remote/remove) [ "$n" = 0 ] && mapfile -t COMPREPLY < <(compgen -W "$(_vpsctl_remotes)" -- "$cur") ;;
        create/ | list/ | nodes/ | version/ | template/* | remote/* | trust/ | token/ | audit/ | events/) ;;
        restore/) [ "$n" = 0 ] && _vpsctl_files ;;
        exec/) [ "$n" = 0 ] && mapfile -t COMPREPLY < <(compgen -W "$(_vpsctl_ids)" -- "$cur") ;;
        snapshot-switch/ | snapshot-delete/ | snapshot-mount/ | snapshot-umount/)
                if [ "$n" = 0 ]; then
                        mapfile -t COMPREPLY < <(compgen -W "$(_vpsctl_ids)" -- "$cur")
                elif [ "$n" = 1 ]; then
                        mapfile -t COMPREPLY < <(compgen -W "$(_vpsctl_snapshots "${args[0]}")" -- "$cur")
                elif [ "$n" = 2 ] && [ "$cmd" = snapshot-mount ]; then
                        compopt -o filenames 2>/dev/null
                        mapfile -t COMPREPLY < <(compgen -d -- "$cur")
                fi
                ;;
        migrate/) # the VPS, then a host (from the host's known hosts)
                if [ "$n" = 0 ]; then
                        mapfile -t COMPREPLY < <(compgen -W "$(_vpsctl_ids)" -- "$cur")
                elif [ "$n" = 1 ]; then
                        mapfile -t COMPREPLY < <(compgen -A hostname -- "$cur")
                fi
                ;;
        clone/) [ "$n" = 0 ] && mapfile -t COMPREPLY < <(compgen -W "$(_vpsctl_ids)" -- "$cur") ;;
        *) # a command on the VPS ID
                [ "$n" = 0 ] && [[ $help == *" ID"* ]] &&
                        mapfile -t COMPREPLY < <(compgen -W "$(_vpsctl_ids)" -- "$cur")
                ;;
        esac
        return 0
}
complete -F _vpsctl vpsctl
