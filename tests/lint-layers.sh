#!/usr/bin/env bash
# The library's layering rules, checked from the #include lines of the C
# files under common/ and cmd/ (run by `make lint`):
#
#   1. a dependency's headers are included only by the module that owns it:
#      libcurl by common/net/http.c, cJSON by common/text/json.c, libpq by
#      common/pg/, zstd, snappy, zlib and lz4 by common/parquet/pq_codec.c;
#   2. a program (cmd/) never includes a library-internal header (*_internal.h);
#   3. a quoted include names its folder ("base/err.h"); only a program's own
#      headers, beside its sources, go by their bare name ("fetch.h");
#   4. the folders of common/ do not include each other in a cycle.
#
#   tests/lint-layers.sh [-v] [ROOT]
#
# ROOT is the top of the tree (default: the one this script is in).  -v
# prints the folder graph of common/ (`make lint V=1`).  Each violation is
# one line, "file:line: what is wrong"; the exit status is 1 when there is
# any, 0 otherwise.
set -u

verbose=0
if [ "${1:-}" = -v ]; then
	verbose=1
	shift
fi
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2

mapfile -t files < <(find common cmd -type f \( -name '*.c' -o -name '*.h' \) 2>/dev/null | LC_ALL=C sort)
if [ ${#files[@]} -eq 0 ]; then
	echo "lint-layers: no C files under $root/common or $root/cmd" >&2
	exit 2
fi
# The folders of the library: those that hold C files (man/ holds pages).
folders=$(find common -mindepth 2 -maxdepth 2 -type f \( -name '*.c' -o -name '*.h' \) -printf '%h\n' |
	sed 's|^common/||' | LC_ALL=C sort -u | tr '\n' ' ')
headers=$(find common cmd -type f -name '*.h' -printf '%p ' 2>/dev/null)

awk -v verbose="$verbose" -v folders="$folders" -v headers="$headers" '
BEGIN {
	nfolders = split(folders, fl, " ")
	for (i = 1; i <= nfolders; i++)
		is_folder[fl[i]] = 1
	n = split(headers, h, " ")
	for (i = 1; i <= n; i++)
		is_header[h[i]] = 1
	bad = 0
}

function fail(msg) {
	printf "%s:%d: %s\n", FILENAME, FNR, msg
	bad = 1
}

# The module that owns the dependency a header belongs to ("" for none).
function owner(hdr) {
	if (hdr ~ /^curl\//)
		return "common/net/http.c"
	if (hdr ~ /^cjson\// || hdr == "cJSON.h")
		return "common/text/json.c"
	if (hdr ~ /^(libpq-fe|libpq-events|pg_config[a-z_]*)\.h$/ || hdr ~ /^(libpq|postgresql)\//)
		return "common/pg/"
	if (hdr ~ /^(zstd|zstd_errors|zdict|snappy-c|zlib|zconf|lz4|lz4hc|lz4frame)\.h$/)
		return "common/parquet/pq_codec.c"
	return ""
}

function dir_of(path) {
	sub(/\/[^\/]*$/, "", path)
	return path
}

/^[ \t]*#[ \t]*include[ \t]*[<"]/ {
	line = $0
	sub(/^[ \t]*#[ \t]*include[ \t]*/, "", line)
	quoted = substr(line, 1, 1) == "\""
	hdr = substr(line, 2)
	sub(/[">].*$/, "", hdr)

	own = owner(hdr)
	if (own != "" && !(own ~ /\/$/ ? index(FILENAME, own) == 1 : FILENAME == own))
		fail("includes " hdr ", which only " own " may include (one module owns each dependency)")

	if (FILENAME ~ /^cmd\// && hdr ~ /_internal\.h$/)
		fail("a program includes the library-internal header " hdr)

	if (!quoted)
		next
	here = dir_of(FILENAME)
	if (hdr !~ /\//) {
		if (FILENAME ~ /^cmd\// && is_header[here "/" hdr])
			next
		hint = "folder/" hdr
		for (i = 1; i <= nfolders; i++)
			if (is_header["common/" fl[i] "/" hdr])
				hint = fl[i] "/" hdr
		fail("#include \"" hdr "\" does not name its folder (write \"" hint "\")")
		next
	}
	folder = hdr
	sub(/\/.*$/, "", folder)
	if (hdr !~ /^[A-Za-z0-9_-]+\/[^\/]+$/ || !is_folder[folder]) {
		fail("#include \"" hdr "\" does not name a folder of common/")
		next
	}
	if (FILENAME ~ /^common\//) {
		split(FILENAME, parts, "/")
		if (parts[2] != folder && !((parts[2], folder) in edge)) {
			edge[parts[2], folder] = FILENAME ":" FNR
			out[parts[2]] = out[parts[2]] " " folder
		}
	}
}

# Depth-first search; on a back edge, the cycle is the path from that folder.
function visit(v,    i, j, k, w, list, cycle) {
	state[v] = 1
	path[++depth] = v
	k = split(out[v], list, " ")
	for (i = 1; i <= k; i++) {
		w = list[i]
		if (state[w] == 1 && !found) {
			cycle = w
			for (j = depth; path[j] != w; j--)
				;
			for (j++; j <= depth; j++)
				cycle = cycle " -> " path[j]
			cycle = cycle " -> " w
			found = cycle
			where = edge[v, w]
		} else if (!state[w]) {
			visit(w)
		}
	}
	depth--
	state[v] = 2
}

END {
	nf = split(folders, f, " ")
	for (i = 1; i <= nf; i++)
		if (!state[f[i]])
			visit(f[i])
	if (found) {
		printf "%s: the folders of common/ include each other in a cycle: %s\n", where, found
		bad = 1
	}
	if (verbose) {
		print "folder graph of common/ (a folder: the folders it includes):"
		for (i = 1; i <= nf; i++)
			printf "  %-8s:%s\n", f[i], out[f[i]] == "" ? " (none)" : out[f[i]]
	}
	exit bad
}
' "${files[@]}"
