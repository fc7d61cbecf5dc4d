#!/usr/bin/env bash
# vpsctl's bash completion (vpsctl/completion.bash), as an interactive bash with
# bash-completion loaded runs it: the commands, each command's own options, the values of
# an option with a fixed set, and VPS IDs and template names from the vpsd that the command
# line's --socket names (not another one).
. "$(dirname "$0")/lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
COMPLETION=$REPO/vpsctl/completion.bash

start_vpsd
make_running_vps 8101
vpsctl create 8102 --ostemplate busybox >/dev/null
vpsctl create web-1 --ostemplate busybox >/dev/null

# complete WORD...: what Tab offers for the last WORD (the word under the cursor, "" for a
# new one), one a line, sorted; as bash does it: the function `complete -p vpsctl` names,
# called with COMP_WORDS, COMP_CWORD, COMP_LINE and COMP_POINT. The bash runs -i style with
# bash-completion's loader when the host has it, so the file must work beside it.
complete_words() {
        bash --norc --noprofile -c '
                [ ! -f /usr/share/bash-completion/bash_completion ] || . /usr/share/bash-completion/bash_completion
                . "$1"; shift
                spec=$(complete -p vpsctl) || exit 3
                fn=${spec#*-F }; fn=${fn%% *}
                COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
                COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
                "$fn" vpsctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" || exit 4
                printf "%s\n" "${COMPREPLY[@]}"' complete "$COMPLETION" "$@" | sed '/^$/d' | sort
}
# offers DESCRIPTION "EXPECTED WORDS" WORD...: Tab offers exactly these words.
offers() {
        local what=$1 want=$2; shift 2
        local got rc=0
        got=$(complete_words "$@" | paste -sd' ') || rc=$?
        if [ "$rc" != 0 ]; then fail "$what: the completion failed ($rc)"; return; fi
        expect_eq "$what" "$(tr ' ' '\n' <<<"$want" | sort | paste -sd' ')" "$got"
}
# offers_all DESCRIPTION "WORDS" WORD...: Tab offers at least these words (and others).
offers_all() {
        local what=$1 want=$2; shift 2
        local got missing= w
        got=" $(complete_words "$@" | paste -sd' ') "
        for w in $want; do [[ $got == *" $w "* ]] || missing+=" $w"; done
        if [ -z "$missing" ]; then pass "$what"; else fail "$what: missing$missing in:$got"; fi
}
# offers_none DESCRIPTION "WORDS" WORD...: Tab offers something, none of these words.
offers_none() {
        local what=$1 bad=$2; shift 2
        local got found= w
        got=" $(complete_words "$@" | paste -sd' ') "
        if [ "$got" = "  " ]; then fail "$what: nothing offered"; return; fi
        for w in $bad; do [[ $got != *" $w "* ]] || found+=" $w"; done
        if [ -z "$found" ]; then pass "$what"; else fail "$what: offered$found in:$got"; fi
}

V=$VPSCTL_BIN
S=(--socket "$SOCK")
offers_all "the commands" "list create start stop restart status stats set destroy exec enter console template version help" "$V" ""
offers "the commands starting with st" "start stats status stop" "$V" "st"
offers "after --socket PATH too" "start stats status stop" "$V" "${S[@]}" "st"
offers "the global options" "--help --remote --socket --version" "$V" "--"
offers_all "create's options" "--ostemplate --hostname --ipadd --ram --features --netmode -j --json" "$V" "${S[@]}" create 9 "-"
offers_all "stop's options" "--fast --timeout -j" "$V" "${S[@]}" stop 8101 "-"
offers_none "and not create's" "--ostemplate --ram --hostname" "$V" "${S[@]}" stop 8101 "-"
offers_all "set has --ipdel and --userpasswd" "--ipdel --userpasswd --ssh-key" "$V" "${S[@]}" set 8101 "--"
offers "the values of --netmode" "bridged routed" "$V" "${S[@]}" create 9 --netmode ""
offers "of --onboot" "no yes" "$V" "${S[@]}" set 8101 --onboot ""
offers "of --oompolicy, after other options" "process restart" "$V" "${S[@]}" set 8101 --ram 64M --oompolicy ""

plans=
for f in /etc/vps/plans/*.conf; do [ ! -f "$f" ] || plans+="${plans:+ }$(basename "$f" .conf)"; done
offers "--plan: the plans in /etc/vps/plans ($plans) and none" "none${plans:+ $plans}" "$V" "${S[@]}" create 9 --plan ""
offers "the VPS IDs of --socket's vpsd for start, stopped ones too" "8101 8102 web-1" "$V" "${S[@]}" start ""
offers "for stop, by prefix" "8101 8102" "$V" "${S[@]}" stop "81"
offers "with --socket=PATH" "8101 8102 web-1" "$V" "--socket=$SOCK" status ""
VPSD_SOCKET=$SOCK offers "and with VPSD_SOCKET, as vpsctl reads it" "8101 8102 web-1" "$V" destroy ""
offers "exec: the ID" "8101 8102 web-1" "$V" "${S[@]}" exec ""
offers_all "pause and unpause are commands" "pause unpause" "$V" ""
offers "pause: the ID" "8101 8102 web-1" "$V" "${S[@]}" pause ""
offers "unpause's options" "--help --json -h -j" "$V" "${S[@]}" unpause 8101 "-"
offers "node: drain and undrain" "drain undrain" "$V" "${S[@]}" node ""
offers "--node: auto (this vpsd is no node of a fleet: no names)" "auto" "$V" "${S[@]}" create 9 --node ""
offers_all "create has --node" "--node" "$V" "${S[@]}" create 9 "--no"
offers "but not for a new VPS (create)" "" "$V" "${S[@]}" create ""
offers "nor once the ID is there" "" "$V" "${S[@]}" start 8101 ""
offers "nor in the command exec runs" "" "$V" "${S[@]}" exec 8101 ls ""
offers "no IDs from a socket where no vpsd answers" "" "$V" --socket "$T/none.sock" start ""

offers "template's commands" "build import list remove" "$V" "${S[@]}" template ""
offers "the templates vpsd holds, for --ostemplate" "busybox" "$V" "${S[@]}" create 9 --ostemplate ""
offers "and for template remove" "busybox" "$V" "${S[@]}" template remove ""
offers_all "template build: the names it can build" "busybox debian-12" "$V" "${S[@]}" template build ""
offers_all "help: the commands" "start template" "$V" help ""

# A file name for --ssh-key and template import's FILE.
touch "$T/key.pub" "$T/rootfs.tar"
offers "--ssh-key: files" "$T/key.pub" "$V" "${S[@]}" set 8101 --ssh-key "$T/key"
offers "template import NAME FILE: files" "$T/rootfs.tar" "$V" "${S[@]}" template import t1 "$T/rootf"

# Snapshot names of the VPS named before them (snapshot-switch, -delete, -mount, -umount).
vpsctl snapshot 8102 --name before-upgrade >/dev/null
vpsctl snapshot 8102 --name nightly.1 >/dev/null
offers "snapshot-switch ID NAME: its snapshots" "before-upgrade nightly.1" "$V" "${S[@]}" snapshot-switch 8102 ""
offers "snapshot-delete ID NAME: by prefix" "nightly.1" "$V" "${S[@]}" snapshot-delete 8102 ni
offers "snapshot-mount ID: the IDs" "8101 8102 web-1" "$V" "${S[@]}" snapshot-mount ""
offers "clone ID: the IDs" "8101 8102 web-1" "$V" "${S[@]}" clone ""

# Remotes: their names (remotes.json), for --remote and remote remove; remote's commands.
export XDG_CONFIG_HOME=$T/config
mkdir -m 700 -p "$XDG_CONFIG_HOME/vpsctl"
pin="sha256//$(printf 'A%.0s' $(seq 43))="
jq -n --arg pin "$pin" --arg fp "$(printf 'a%.0s' $(seq 64))" \
        '{remotes: {prod: {url: "https://h:8443", fingerprint: $fp, pubkey: $pin}, lab: {url: "https://l:8443", fingerprint: $fp, pubkey: $pin}}}' \
        >"$XDG_CONFIG_HOME/vpsctl/remotes.json"
chmod 600 "$XDG_CONFIG_HOME/vpsctl/remotes.json"
offers "--remote: the remotes and local" "lab local prod" "$V" --remote ""
offers "remote's commands" "add list remove" "$V" remote ""
offers "remote remove: the remotes" "lab prod" "$V" remote remove ""
offers_all "remote add's options" "--token --cert --key --fingerprint --accept-certificate" "$V" remote add x https://h:1 "--"
touch "$T/client.pem"
offers "remote add --cert: files" "$T/client.pem" "$V" remote add x https://h:1 --cert "$T/client.p"
unset XDG_CONFIG_HOME

# On a command line without a path, the vpsctl on PATH is run.
mkdir -p "$T/bin"
ln -s "$VPSCTL_BIN" "$T/bin/vpsctl"
PATH=$T/bin:$PATH VPSD_SOCKET=$SOCK offers "vpsctl from PATH" "8101 8102 web-1" vpsctl start ""
finish
