# A local apt repository for a Debian VPS with no mirror, sourced by the tests that install
# packages in one (after lib.sh).
# local_repo ROOTFS CACHE REPO PKG...: a flat repository in REPO with PKG... and whatever they
# need beyond the template's packages: resolved by the host's apt from the host's package lists
# (the host is bookworm on the same mirror) against ROOTFS's dpkg status, fetched once with
# `apt-get download` into CACHE (reruns are offline; the cache keeps only the current set),
# indexed with dpkg-scanpackages, with a Release file naming the index (apt warns about a
# repository without one). REPO_N is the number of packages, REPO_FETCHED how many came from
# the mirror now; on failure it returns 1 with REPO_ERR saying why.
local_repo() {
        local rootfs=$1 cache=$2 repo=$3 f v dl
        shift 3
        REPO_N=0 REPO_FETCHED=0 REPO_ERR=
        mkdir -p "$T/lr-archives/partial" "$cache" "$repo"
        if ! apt-get -qq -o Debug::NoLocking=1 -o Dir::State::status="$rootfs/var/lib/dpkg/status" \
                -o Dir::Cache::Archives="$T/lr-archives" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
                install --print-uris -y --no-install-recommends "$@" >"$T/lr-uris" 2>"$T/lr-uris.err"; then
                REPO_ERR="resolving $* with the host's package lists (apt-get update?): $(head -n3 "$T/lr-uris.err")"
                return 1
        fi
        # One archive file name a line (name_version_arch.deb, ':' as %3a).
        awk '{ print $2 }' "$T/lr-uris" | sort >"$T/lr-need"
        REPO_N=$(wc -l <"$T/lr-need")
        local fetch=()
        while read -r f; do
                [ -s "$cache/$f" ] && continue
                v=${f#*_}
                v=${v%_*}
                fetch+=("${f%%_*}=$(printf '%b' "${v//%/\\x}")")
        done <"$T/lr-need"
        if [ "${#fetch[@]}" -gt 0 ]; then
                dl=$(mktemp -d "$cache/.download.XXXXXX")
                chmod 0755 "$dl"
                chown _apt "$dl" 2>/dev/null || true
                if ! (cd "$dl" && apt-get download -q "${fetch[@]}") >"$T/lr-download.out" 2>&1; then
                        rm -rf "$dl"
                        REPO_ERR="apt-get download on the host: $(grep -E '^(E|W):' "$T/lr-download.out" | head -n3)"
                        return 1
                fi
                mv "$dl"/*.deb "$cache"/
                rm -rf "$dl"
                REPO_FETCHED=${#fetch[@]}
        fi
        for f in "$cache"/*.deb; do
                grep -qxF "${f##*/}" "$T/lr-need" || rm -f "$f"
        done
        while read -r f; do
                cp -l "$cache/$f" "$repo/" 2>/dev/null || cp "$cache/$f" "$repo/" ||
                        { REPO_ERR="$f is not in $cache"; return 1; }
        done <"$T/lr-need"
        (cd "$repo" && dpkg-scanpackages . >Packages) 2>"$T/lr-scan.err" ||
                { REPO_ERR="dpkg-scanpackages: $(head -n3 "$T/lr-scan.err")"; return 1; }
        printf 'Origin: vps-test\nLabel: vps-test\nDate: %s\nArchitectures: amd64 all\nSHA256:\n %s %s Packages\n' \
                "$(date -Ru)" "$(sha256sum <"$repo/Packages" | cut -d' ' -f1)" "$(stat -c %s "$repo/Packages")" \
                >"$repo/Release"
}
