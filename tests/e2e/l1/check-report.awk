# Compare the E2E: report of tests/e2e/l2/init-report with the topology asked
# for (awk -v topo=NnLlCcTt). Prints one line per mismatch, nothing when all
# matches. Runs under busybox awk in L1.
#
# Expected values (specs/vmm-x86.md §2.2-§2.3, §2.9): guest CPU n has thread
# n % T, core (n / T) % C, LLC n / (T*C), node LLC / (L/N); one package per
# node; sched domains SMT (thread siblings) -> MC (LLC) -> PKG, named DIE on
# 6.1 (node span) -> NUMA (all CPUs), each level present only when its span
# is larger than the one below; SLIT 10 on the diagonal, 20 elsewhere.

function range(a, b) { return a == b ? a "" : a "-" b }

# "0-3,8,10-11" -> set[cpu] = 1; returns the number of CPUs.
function parse_list(s, set,    parts, n, i, ab, j, cnt) {
	cnt = 0
	n = split(s, parts, ",")
	for (i = 1; i <= n; i++) {
		if (split(parts[i], ab, "-") == 2) {
			for (j = ab[1] + 0; j <= ab[2] + 0; j++) { set[j] = 1; cnt++ }
		} else if (parts[i] != "") {
			set[parts[i] + 0] = 1
			cnt++
		}
	}
	return cnt
}

# Canonical Linux cpulist of a set given as a string list (normalises order).
function canon(s,    set, c, out, start, prev, max) {
	if (s == "none" || s == "") return s
	parse_list(s, set)
	max = -1
	for (c in set) if (c + 0 > max) max = c + 0
	out = ""
	start = -1
	for (c = 0; c <= max + 1; c++) {
		if (c in set) {
			if (start < 0) start = c
			prev = c
		} else if (start >= 0) {
			out = out (out == "" ? "" : ",") range(start, prev)
			start = -1
		}
	}
	return out
}

# Hex cpumask as printed by /proc/schedstat ("000000ff" or "...,0000000f")
# -> cpulist.
function mask2list(m,    hex, i, d, v, b, out, set, n) {
	gsub(",", "", m)
	hex = "0123456789abcdef"
	n = length(m)
	out = ""
	for (i = n; i >= 1; i--) {
		v = index(hex, tolower(substr(m, i, 1))) - 1
		for (b = 0; b < 4; b++) {
			if (v % 2) out = out (out == "" ? "" : ",") ((n - i) * 4 + b)
			v = int(v / 2)
		}
	}
	return canon(out)
}

BEGIN {
	if (match(topo, /^[0-9]+n[0-9]+l[0-9]+c[0-9]+t$/) == 0) {
		print "bad topology string '" topo "' given to the checker"
		bad = 1
		exit
	}
	s = topo
	N = substr(s, 1, index(s, "n") - 1) + 0; s = substr(s, index(s, "n") + 1)
	L = substr(s, 1, index(s, "l") - 1) + 0; s = substr(s, index(s, "l") + 1)
	C = substr(s, 1, index(s, "c") - 1) + 0; s = substr(s, index(s, "c") + 1)
	T = substr(s, 1, index(s, "t") - 1) + 0
	ncpu = L * C * T
	lpn = L / N
}

{ sub(/\r$/, "") }
$1 == "E2E:BEGIN" { split($2, kv, "."); kver = kv[1] * 100 + kv[2] }
$1 == "E2E:nproc" { nproc = $2 }
$1 == "E2E:cpu" {
	c = $2 + 0
	seen[c] = 1
	for (i = 3; i <= NF; i++) {
		split($i, kv, "=")
		val[c, kv[1]] = kv[2]
	}
}
$1 == "E2E:domspan" { dspan[$2 + 0, $3 + 0] = mask2list($4); if ($3 + 1 > ndom[$2 + 0]) ndom[$2 + 0] = $3 + 1; have_spans = 1 }
$1 == "E2E:domname" { dname[$2 + 0, $3 + 0] = $4; have_names = 1 }
$1 == "E2E:node" {
	nd = $2 + 0
	nodes++
	for (i = 3; i <= NF; i++) {
		split($i, kv, "=")
		nval[nd, kv[1]] = kv[2]
	}
}

END {
	if (bad) exit
	if (nproc + 0 != ncpu) print "nproc " nproc ", expected " ncpu
	for (c = 0; c < ncpu; c++) {
		if (!(c in seen)) { print "cpu" c " missing from sysfs"; continue }
		t = c % T
		core = int(c / T) % C
		llc = int(c / (T * C))
		node = int(llc / lpn)
		sib = range(c - t, c - t + T - 1)
		l3 = range(llc * T * C, llc * T * C + T * C - 1)
		nspan = range(node * lpn * C * T, (node + 1) * lpn * C * T - 1)
		if (canon(val[c, "sib"]) != sib) print "cpu" c ": thread siblings " val[c, "sib"] ", expected " sib
		if (canon(val[c, "llc"]) != l3) print "cpu" c ": L3 shared_cpu_list " val[c, "llc"] ", expected " l3
		# Same core: same core id and package; other cores: another (package,
		# core id). Before 6.9 an AMD pre-Zen guest (our L1 CPU model) takes
		# core_id modulo the cores of an AMD "node", which the VMM maps to the
		# LLC (vmm-x86 §2.6, D6): there core ids are only unique per LLC.
		key = val[c, "pkg"] "/" val[c, "core"]
		if (kver < 609) key = key "/" canon(val[c, "llc"])
		want = llc "/" core
		if (key in owner && owner[key] != want)
			print "cpu" c ": package/core id " val[c, "pkg"] "/" val[c, "core"] " also used by another core (cpu" first[key] ")"
		if (!(key in owner)) { owner[key] = want; first[key] = c }
		if (want in corekey && corekey[want] != key)
			print "cpu" c ": package/core id " val[c, "pkg"] "/" val[c, "core"] " differs from its sibling cpu" corecpu[want] "'s"
		if (!(want in corekey)) { corekey[want] = key; corecpu[want] = c }
		# One package per NUMA node.
		if (node in pkgof && pkgof[node] != val[c, "pkg"])
			print "cpu" c ": package " val[c, "pkg"] ", but node " node " is package " pkgof[node]
		if (!(node in pkgof)) pkgof[node] = val[c, "pkg"]
		if (val[c, "pkg"] in nodeofpkg && nodeofpkg[val[c, "pkg"]] != node)
			print "cpu" c ": package " val[c, "pkg"] " spans nodes " nodeofpkg[val[c, "pkg"]] " and " node
		if (!(val[c, "pkg"] in nodeofpkg)) nodeofpkg[val[c, "pkg"]] = node

		# Sched domains, bottom up; a level exists only if it is wider than the one below.
		n = 0
		below = 1
		if (T > 1) { n++; ename[n] = "SMT"; espan[n] = sib; below = T }
		if (T * C > below) { n++; ename[n] = "MC"; espan[n] = l3; below = T * C }
		if (lpn * C * T > below) { n++; ename[n] = "PKG"; espan[n] = nspan; below = lpn * C * T }
		if (N > 1) { n++; ename[n] = "NUMA"; espan[n] = range(0, ncpu - 1) }
		if (ncpu == 1) n = 0
		if (have_spans || have_names) {
			got = ndom[c] + 0
			if (!have_spans) { got = 0; for (d = 0; (c, d) in dname; d++) got++ }
			if (got != n) {
				s = ""
				for (d = 0; d < got; d++) s = s " " dname[c, d] "(" dspan[c, d] ")"
				e = ""
				for (d = 1; d <= n; d++) e = e " " ename[d] "(" espan[d] ")"
				print "cpu" c ": " got " sched domains:" (s == "" ? " none" : s) "; expected" (e == "" ? " none" : e)
				continue
			}
			for (d = 0; d < n; d++) {
				nm = dname[c, d]
				if (have_names && nm != ename[d + 1] && !(ename[d + 1] == "PKG" && nm == "DIE"))
					print "cpu" c ": domain" d " is " nm ", expected " ename[d + 1]
				if (have_spans && dspan[c, d] != espan[d + 1])
					print "cpu" c ": domain" d " (" ename[d + 1] ") spans " dspan[c, d] ", expected " espan[d + 1]
			}
		} else if (ncpu > 1) {
			if (c == 0) print "no sched domain information (no /proc/schedstat or debugfs sched/domains)"
		}
	}
	# NUMA nodes: CPUs, memory, SLIT distances.
	if (nodes != N) print nodes + 0 " NUMA nodes, expected " N
	total = 0
	for (i = 0; i < N; i++) total += nval[i, "memkb"]
	for (i = 0; i < N; i++) {
		if (!((i, "cpus") in nval)) { if (nodes) print "node" i " missing"; continue }
		ecpus = range(i * lpn * C * T, (i + 1) * lpn * C * T - 1)
		if (canon(nval[i, "cpus"]) != ecpus) print "node" i ": cpus " nval[i, "cpus"] ", expected " ecpus
		if (nval[i, "memkb"] + 0 <= 0) print "node" i ": no memory"
		else if (N > 1 && (nval[i, "memkb"] * N < total / 2 || nval[i, "memkb"] * N > total * 2))
			print "node" i ": " nval[i, "memkb"] " kB of " total " kB total, expected about an equal share"
		ed = ""
		for (j = 0; j < N; j++) ed = ed (j ? "," : "") (i == j ? 10 : 20)
		if (nval[i, "dist"] != ed) print "node" i ": distances " nval[i, "dist"] ", expected " ed
	}
}
