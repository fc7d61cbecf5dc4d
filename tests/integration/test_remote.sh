#!/usr/bin/env bash
# vpsctl against a remote over HTTPS (`remote add|list|remove`, --remote, VPSCTL_REMOTE),
# here through a TLS terminator (socat) in front of this test's vpsd socket: the server's
# certificate is pinned at first contact (the fingerprint printed is openssl's), requests,
# the console and a backup and restore work through it, and a server with another certificate
# (another key, or the same key re-signed) is refused loudly before any request reaches it.
# Tokens and client certificates go out as given. remotes.json is the user's alone.
. "$(dirname "$0")/lib.sh"
command -v socat >/dev/null || { echo "SKIP: no socat (scripts/install-deps installs it)"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: no openssl"; exit 77; }
start_vpsd
make_running_vps 501

export XDG_CONFIG_HOME=$T/config
unset VPSCTL_REMOTE
CFG=$XDG_CONFIG_HOME/vpsctl/remotes.json
rvpsctl() { "$VPSCTL_BIN" "$@"; } # no --socket: the remote or VPSCTL_REMOTE decides

newcert() { # newcert NAME [KEY]: NAME.crt (self-signed) with a new key NAME.key, or KEY's
        local key=${2:-$T/$1.key}
        [ -n "${2:-}" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$key" 2>/dev/null
        openssl req -x509 -new -key "$key" -out "$T/$1.crt" -days 30 -subj "/CN=vpsd-$1" 2>/dev/null
}
fp_of() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }

# front CERT KEY [SOCAT-OPTS]: a TLS terminator on 127.0.0.1:$PORT relaying to vpsd's socket,
# logging what it decrypts (-v) in $T/front.log.
PORT=
front() {
        [ -z "${FRONT_PID:-}" ] || { kill "$FRONT_PID"; wait "$FRONT_PID" 2>/dev/null || true; }
        [ -n "$PORT" ] || free_port
        socat -v "OPENSSL-LISTEN:$PORT,bind=127.0.0.1,reuseaddr,fork,cert=$1,key=$2,${3:-verify=0}" \
                "UNIX-CONNECT:$SOCK" 2>"$T/front.log" &
        FRONT_PID=$!
        TEST_PIDS="${TEST_PIDS:-} $FRONT_PID"
        for _ in $(seq 100); do ss -Hltn "sport = :$PORT" | grep -q . && return; sleep 0.05; done
        fail "socat did not listen on $PORT"
}

newcert server
front "$T/server.crt" "$T/server.key"
URL=https://127.0.0.1:$PORT
FP=$(fp_of "$T/server.crt")

# First contact with no fingerprint to check: refused without a terminal unless
# --accept-certificate; on a terminal the fingerprint is shown and asked about (as ssh does).
expect_error "no --fingerprint, no terminal: refused, naming the fingerprint and both ways" \
        "the certificate of $URL \(fingerprint $FP\) is not confirmed: give --fingerprint FP .* or --accept-certificate; remote t1 not added" \
        rvpsctl remote add t1 "$URL" </dev/null
expect_eq "which exits 6" 6 "$(rvpsctl remote add t1 "$URL" </dev/null 2>/dev/null; echo $?)"
check "and nothing is kept" not test -e "$CFG"
out=$(rvpsctl remote add t1 "$URL" --fingerprint "$FP" --accept-certificate 2>&1) && rc=0 || rc=$?
expect_eq "--fingerprint with --accept-certificate: a usage error" \
        "2 vpsctl: --fingerprint or --accept-certificate, not both" "$rc $(head -n1 <<<"$out")"
tty_add() { # tty_add ANSWER NAME: remote add on a pseudo-terminal, ANSWER typed at its question
        { sleep 0.2; printf '%s\n' "$1"; sleep 1; } |
                script -qec "'$VPSCTL_BIN' remote add $2 '$URL'" /dev/null 2>&1 | tr -d '\r' || true
}
out=$(tty_add no tq)
check "on a terminal: the fingerprint is shown" grep -qx "  $FP" <<<"$out"
check "and asked about" grep -q "Trust it and add remote tq (yes/no)?" <<<"$out"
check "answered no: refused" grep -q "was not accepted: remote tq not added" <<<"$out"
check "and nothing is kept" not test -e "$CFG"
out=$(tty_add yes tq)
check "answered yes: added" grep -q "Remote tq added" <<<"$out"
expect_eq "and pinned" "$FP" "$(jq -r .remotes.tq.fingerprint "$CFG")"
rvpsctl remote remove tq >/dev/null
# The fingerprint printed is the certificate's SHA-256, as openssl has it.
out=$(rvpsctl remote add t1 "$URL/" --accept-certificate 2>&1)
check "remote add prints the server's fingerprint ($FP)" grep -qx "Certificate fingerprint of $URL: $FP" <<<"$out"
expect_eq "remotes.json is 0600" 600 "$(stat -c %a "$CFG")"
expect_eq "in a 0700 directory" 700 "$(stat -c %a "$(dirname "$CFG")")"
expect_eq "it holds the URL and the fingerprint" "$URL $FP" "$(jq -r '.remotes.t1 | "\(.url) \(.fingerprint)"' "$CFG")"
expect_jq "and the public key's pin" '.remotes.t1.pubkey | startswith("sha256//")' cat "$CFG"
expect_error "a second remote of that name" "remote 't1' already exists" rvpsctl remote add t1 "$URL"
expect_eq "which exits 4" 4 "$(rvpsctl remote add t1 "$URL" 2>/dev/null; echo $?)"
expect_error "an http:// URL" "https://HOST:PORT" rvpsctl remote add t2 "http://127.0.0.1:$PORT"
expect_error "a URL with a path" "without a path" rvpsctl remote add t2 "$URL/v1"
expect_error "a remote named local" "local socket" rvpsctl remote add local "$URL"
expect_error "the wrong fingerprint given" "has fingerprint $FP, not 0{64}: refused" \
        rvpsctl remote add t2 "$URL" --fingerprint "$(printf '0%.0s' $(seq 64))"
expect_jq "and nothing kept of it" '.remotes | has("t2") | not' cat "$CFG"
fpc=$(openssl x509 -in "$T/server.crt" -noout -fingerprint -sha256 | sed 's/.*=//')
check "the right one (as openssl prints it, with colons) is taken" sh -c "'$VPSCTL_BIN' remote add t2 '$URL' --fingerprint '$fpc' >/dev/null"
expect_jq "remote list -j shows both, without a token" \
        'length == 2 and (map(.name) | sort) == ["t1", "t2"] and all(.[]; .auth == "none" and (has("token") | not))' \
        rvpsctl remote list -j

# Requests through it: --remote, VPSCTL_REMOTE, and --remote local for the socket.
expect_jq "list -j through the remote" 'map(.id) == ["501"]' rvpsctl --remote t1 list -j
expect_jq "with VPSCTL_REMOTE" 'map(.id) == ["501"]' env VPSCTL_REMOTE=t1 "$VPSCTL_BIN" list -j
check "the request went through the TLS front" grep -q "GET /v1/vps" "$T/front.log"
expect_jq "--remote local is the socket" 'map(.id) == ["501"]' env VPSCTL_REMOTE=nonesuch "$VPSCTL_BIN" --remote local --socket "$SOCK" list -j
out=$(rvpsctl --socket "$SOCK" --remote t1 list 2>&1 >/dev/null) && rc=0 || rc=$?
expect_eq "--socket and --remote together: a usage error" "2 vpsctl: --socket or --remote, not both" "$rc $(head -n1 <<<"$out")"
expect_error "an unknown remote" "no remote 'nonesuch'" rvpsctl --remote nonesuch list
expect_eq "which exits 3" 3 "$(rvpsctl --remote nonesuch list 2>/dev/null; echo $?)"
check "--help works whatever the remote" sh -c "'$VPSCTL_BIN' --remote nonesuch list --help | grep -q Usage"
check "a change through the remote" sh -c "'$VPSCTL_BIN' --remote t1 set 501 --hostname remote-set >/dev/null"
expect_eq "is made" remote-set "$(vps_field 501 hostname)"
expect_error "vpsd's refusals come through" "VPS 777.*(not|no)" rvpsctl --remote t1 start 777

# The console and a backup and restore: upgraded streams relayed through TLS.
out=$(printf 'echo remote-$((6*7))\n' | rvpsctl --remote t1 console 501 --timeout 3 2>&1 | tr -d '\r') || true
check "the console through the remote answers" grep -q remote-42 <<<"$out"
expect_jq "backup through the remote" '.id == "501" and .files > 0' rvpsctl --remote t1 backup 501 --to "$T/501.tar.zst" -j
check "it is a backup of 501" sh -c "zstd -dc '$T/501.tar.zst' | tar -t 2>/dev/null | grep -q config.json"
expect_jq "restore through the remote" '.id == "502"' rvpsctl --remote t1 restore "$T/501.tar.zst" 502 -j
expect_eq "502 exists" stopped "$(vps_field 502 status)"
expect_eq "exec through the remote (the vps-exec upgrade through the TLS front)" remote-exec-42 \
        "$(rvpsctl --remote t1 exec 501 -- sh -c 'echo remote-exec-$((6*7))')"

# A token is sent as a bearer token; never shown by list.
check "remote add with a token from stdin" sh -c "echo s3cr3t-tok | '$VPSCTL_BIN' remote add tok '$URL' --token - --accept-certificate >/dev/null"
: >"$T/front.log"
rvpsctl --remote tok list -j >/dev/null
check "the token goes out as 'Authorization: Bearer'" grep -q "Authorization: Bearer s3cr3t-tok" "$T/front.log"
expect_jq "list says token, not the token" '.[] | select(.name == "tok") | .auth == "token" and (tostring | contains("s3cr3t") | not)' rvpsctl remote list -j
check "remote list (text)" sh -c "'$VPSCTL_BIN' remote list | grep -qE '^tok +https://127.0.0.1:$PORT +token +${FP:0:16}'"
expect_error "a token with a space" "invalid token" rvpsctl remote add tok2 "$URL" --token "a b"

# Another certificate at the same address: another key, then the same key re-signed. Both
# are refused in one line, with exit 6, and no request reaches the server.
newcert other
front "$T/other.crt" "$T/other.key"
expect_error "a server with another key is refused" \
        "certificate of remote t1 at $URL is not the one pinned at first contact \(fingerprint $(fp_of "$T/other.crt"), pinned $FP\): refused" \
        rvpsctl --remote t1 list
expect_eq "exit 6" 6 "$(rvpsctl --remote t1 list -j 2>/dev/null; echo $?)"
expect_error "the token's remote too" "not the one pinned" rvpsctl --remote tok list
expect_error "and the console" "not the one pinned" rvpsctl --remote t1 console 501 </dev/null
check "the server got no request" sh -c "! grep -qE 'GET|POST|Authorization' '$T/front.log'"
newcert resigned "$T/server.key"
check "a re-signed certificate has another fingerprint" test "$(fp_of "$T/resigned.crt")" != "$FP"
front "$T/resigned.crt" "$T/server.key"
expect_error "the same key re-signed is refused too" "not the one pinned.*fingerprint $(fp_of "$T/resigned.crt")" \
        rvpsctl --remote tok list
check "and got no request either" sh -c "! grep -qE 'GET|POST|Authorization' '$T/front.log'"
front "$T/server.crt" "$T/server.key"
expect_jq "the pinned one again is taken" 'map(.id) | sort == ["501", "502"]' rvpsctl --remote t1 list -a -j

# A front that asks for a client certificate: --cert and --key.
newcert client
front "$T/server.crt" "$T/server.key" "verify=1,cafile=$T/client.crt"
# (TLS 1.3: the server checks the client's certificate after the client's side of the
# handshake, and hangs up.)
expect_error "without a client certificate the server hangs up" "(TLS handshake with|talking to) remote t1 at $URL: .*([Rr]eset|[Bb]roken pipe|handshake|alert)" rvpsctl --remote t1 list
check "remote add with --cert and --key" sh -c "'$VPSCTL_BIN' remote add c1 '$URL' --cert '$T/client.crt' --key '$T/client.key' --fingerprint '$FP' >/dev/null"
expect_jq "requests with it work" 'length == 1' rvpsctl --remote c1 list -j
expect_eq "the key's path is kept, absolute" "$T/client.key" "$(jq -r .remotes.c1.key "$CFG")"
out=$(rvpsctl remote add c2 "$URL" --cert "$T/client.crt" 2>&1) && rc=0 || rc=$?
expect_eq "--cert without --key: a usage error" "2 vpsctl: --cert and --key go together" "$rc $(head -n1 <<<"$out")"

# remotes.json is the user's alone.
chmod 644 "$CFG"
expect_error "a remotes.json others may read is refused" "chmod 600" rvpsctl --remote t1 list
chmod 600 "$CFG"
expect_jq "remote remove" '.removed' rvpsctl remote remove t2 -j
expect_error "then it is unknown" "no remote 't2'" rvpsctl --remote t2 list
expect_error "removing it again" "no remote 't2'" rvpsctl remote remove t2
finish
