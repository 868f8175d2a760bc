/**
 * A pure PubGrub version solver (no Effect inside): terms, incompatibilities, a partial solution
 * with decision levels, unit propagation, conflict resolution that learns incompatibilities and
 * backjumps, and decisions that prefer the newest version of the package with the fewest
 * candidates. When there is no solution it explains why in a few plain English lines.
 *
 * Version sets are bitsets over each package's known versions (sorted ascending by semver), so
 * every set operation is a few word operations.
 * @since 0.1.0
 */
import semver from "semver"
import { normalizeName } from "../domain/PackageName.js"

/**
 * Where the solver reads packages from. Synchronous: the effectful resolver fetches all metadata
 * first. Names are passed in normalized form (see `normalizeName`).
 * @since 0.1.0
 * @category models
 */
export interface PackageSource {
  /** The usable versions of a package (yanked ones already dropped unless pinned or locked). */
  readonly versions: (name: string) => ReadonlyArray<string>
  /** The dependencies (name -> semver range) of one version. */
  readonly dependencies: (name: string, version: string) => Readonly<Record<string, string>>
  /**
   * Versions that only an exact pin (`1.2.3` or `=1.2.3`) may select, e.g. yanked releases: they
   * are listed by `versions` but left out of every wider range.
   */
  readonly pinOnly?: ((name: string) => ReadonlySet<string> | undefined) | undefined
}

/**
 * The version an exact pin such as `1.2.3` or `=1.2.3` names, or `undefined` for any other range.
 * @since 0.1.0
 */
export const exactPin = (range: string): string | undefined => {
  const v = range.trim().replace(/^=\s*/, "")
  return semver.valid(v) === v ? v : undefined
}

/**
 * Options of {@link solve}.
 * @since 0.1.0
 * @category models
 */
export interface SolveOptions {
  /** How the root is named in explanations (default `the project`). */
  readonly rootName?: string | undefined
  /** Versions to prefer when allowed (normalized name -> version), e.g. from a lockfile. */
  readonly preferred?: ReadonlyMap<string, string> | undefined
  /** Upper bound on solver steps (decisions + conflicts); default 1,000,000. */
  readonly maxSteps?: number | undefined
}

/**
 * A successful resolution: normalized name -> version, for every package needed.
 * @since 0.1.0
 * @category models
 */
export interface Solved {
  readonly _tag: "Solved"
  readonly solution: ReadonlyMap<string, string>
  /** Decisions made (a measure of work). */
  readonly decisions: number
  /** Conflicts resolved (a measure of backtracking). */
  readonly conflicts: number
}

/**
 * No set of versions satisfies the root: `lines` explain why, in plain English.
 * @since 0.1.0
 * @category models
 */
export interface NoSolution {
  readonly _tag: "NoSolution"
  readonly lines: ReadonlyArray<string>
  /** The lines joined with newlines. */
  readonly message: string
}

/**
 * The outcome of {@link solve}.
 * @since 0.1.0
 * @category models
 */
export type SolveResult = Solved | NoSolution

// ---------------------------------------------------------------------------------------------
// Bitsets

type Bits = Array<number>

const zeros = (n: number): Bits => {
  const r: Bits = new Array<number>(n)
  for (let i = 0; i < n; i++) r[i] = 0
  return r
}

const popcount32 = (x: number): number => {
  x = x - ((x >>> 1) & 0x55555555)
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24
}
const bitsAnd = (a: Bits, b: Bits): Bits => {
  const r: Bits = new Array<number>(a.length)
  for (let i = 0; i < a.length; i++) r[i] = a[i] & b[i]
  return r
}
const bitsOr = (a: Bits, b: Bits): Bits => {
  const r: Bits = new Array<number>(a.length)
  for (let i = 0; i < a.length; i++) r[i] = a[i] | b[i]
  return r
}
const bitsAndNot = (a: Bits, b: Bits): Bits => {
  const r: Bits = new Array<number>(a.length)
  for (let i = 0; i < a.length; i++) r[i] = a[i] & ~b[i]
  return r
}
const bitsIsEmpty = (a: Bits): boolean => {
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) return false
  return true
}
const bitsSubset = (a: Bits, b: Bits): boolean => {
  for (let i = 0; i < a.length; i++) if ((a[i] & ~b[i]) !== 0) return false
  return true
}
const bitsDisjoint = (a: Bits, b: Bits): boolean => {
  for (let i = 0; i < a.length; i++) if ((a[i] & b[i]) !== 0) return false
  return true
}
const bitsCount = (a: Bits): number => {
  let n = 0
  for (let i = 0; i < a.length; i++) n += popcount32(a[i])
  return n
}
const bitsHas = (a: Bits, i: number): boolean => (a[i >>> 5] & (1 << (i & 31))) !== 0
const bitsSet = (a: Bits, i: number): void => {
  a[i >>> 5] = a[i >>> 5] | (1 << (i & 31))
}
const bitsHighest = (a: Bits): number => {
  for (let w = a.length - 1; w >= 0; w--) {
    const x = a[w]
    if (x !== 0) return w * 32 + (31 - Math.clz32(x))
  }
  return -1
}

// ---------------------------------------------------------------------------------------------
// Terms: `pos` = the package is selected with a version in `bits`; `!pos` = it is not selected
// with a version in `bits` (it may be absent).

interface Term {
  readonly pos: boolean
  readonly bits: Bits
}

const negate = (t: Term): Term => ({ pos: !t.pos, bits: t.bits })
const intersect = (a: Term, b: Term): Term => {
  if (a.pos && b.pos) return { pos: true, bits: bitsAnd(a.bits, b.bits) }
  if (a.pos) return { pos: true, bits: bitsAndNot(a.bits, b.bits) }
  if (b.pos) return { pos: true, bits: bitsAndNot(b.bits, a.bits) }
  return { pos: false, bits: bitsOr(a.bits, b.bits) }
}
const union = (a: Term, b: Term): Term => negate(intersect(negate(a), negate(b)))
/** Whether `a` implies `b` (a ⊆ b). */
const subset = (a: Term, b: Term): boolean => {
  if (a.pos && b.pos) return bitsSubset(a.bits, b.bits)
  if (a.pos) return bitsDisjoint(a.bits, b.bits)
  if (b.pos) return false
  return bitsSubset(b.bits, a.bits)
}
/** Whether `a` and `b` cannot both hold. */
const disjoint = (a: Term, b: Term): boolean => {
  if (a.pos && b.pos) return bitsDisjoint(a.bits, b.bits)
  if (a.pos) return bitsSubset(a.bits, b.bits)
  if (b.pos) return bitsSubset(b.bits, a.bits)
  return false
}
const isAny = (t: Term): boolean => !t.pos && bitsIsEmpty(t.bits)

// ---------------------------------------------------------------------------------------------
// Incompatibilities

interface PkgTerm {
  readonly pkg: number
  readonly term: Term
}

type Cause =
  | { readonly kind: "root" }
  | { readonly kind: "dependency"; readonly dep: number; readonly range: string }
  | { readonly kind: "noVersions" }
  | { readonly kind: "derived"; readonly left: number; readonly right: number }

interface Incompat {
  readonly terms: ReadonlyArray<PkgTerm>
  readonly cause: Cause
}

interface Assignment {
  readonly pkg: number
  readonly term: Term
  readonly level: number
  /** The incompatibility it was derived from, or -1 for a decision. */
  readonly cause: number
  /** The intersection of this package's assignments up to and including this one. */
  readonly acc: Term
}

interface Pkg {
  readonly id: number
  readonly name: string
  readonly versions: ReadonlyArray<string>
  readonly parsed: ReadonlyArray<semver.SemVer>
  readonly words: number
  readonly any: Term
  readonly ranges: Map<string, Bits>
  readonly deps: Array<ReadonlyArray<readonly [string, string]> | undefined>
  readonly incompats: Array<number>
  readonly assignments: Array<number>
  acc: Term
  decided: boolean
  /** Whether it is in the solver's candidate list. */
  listed: boolean
}

/** Parsed versions, shared across runs (version strings repeat across packages and runs). */
const parsedCache = new Map<string, semver.SemVer | null>()
const parseVersion = (v: string): semver.SemVer | null => {
  let hit = parsedCache.get(v)
  if (hit === undefined) {
    const sv = semver.parse(v)
    hit = sv !== null && sv.version === v ? sv : null
    if (parsedCache.size > 100_000) parsedCache.clear()
    parsedCache.set(v, hit)
  }
  return hit
}

/** Range membership, shared across runs: range -> (version -> satisfies). */
const rangeCache = new Map<string, { readonly range: semver.Range | undefined; readonly hits: Map<string, boolean> }>()
const satisfies = (range: string, v: semver.SemVer): boolean => {
  let entry = rangeCache.get(range)
  if (entry === undefined) {
    let r: semver.Range | undefined
    try {
      r = new semver.Range(range)
    } catch {
      r = undefined
    }
    if (rangeCache.size > 10_000) rangeCache.clear()
    entry = { range: r, hits: new Map() }
    rangeCache.set(range, entry)
  }
  if (entry.range === undefined) return false
  let hit = entry.hits.get(v.version)
  if (hit === undefined) {
    hit = entry.range.test(v)
    if (entry.hits.size > 10_000) entry.hits.clear()
    entry.hits.set(v.version, hit)
  }
  return hit
}

class SolveFailure {
  constructor(readonly incompat: number) {}
}

const ROOT = 0

/**
 * Solves the root's dependencies against a package source. Returns the newest versions that
 * satisfy every constraint, or an explanation of why none exist.
 * @since 0.1.0
 */
export const solve = (
  rootDependencies: Readonly<Record<string, string>>,
  source: PackageSource,
  options: SolveOptions = {}
): SolveResult => new Solver(rootDependencies, source, options).run()

class Solver {
  readonly pkgs: Array<Pkg> = []
  readonly byName = new Map<string, number>()
  readonly incompats: Array<Incompat> = []
  readonly assignments: Array<Assignment> = []
  readonly depKeys = new Set<string>()
  /** Packages that may need a decision (positive and undecided); pruned lazily. */
  readonly candidates: Array<number> = []
  readonly rootName: string
  readonly rootDeps: ReadonlyArray<readonly [string, string]>
  level = 0
  decisions = 0
  conflicts = 0

  constructor(
    rootDependencies: Readonly<Record<string, string>>,
    readonly source: PackageSource,
    readonly options: SolveOptions
  ) {
    this.rootName = options.rootName ?? "the project"
    this.rootDeps = Object.entries(rootDependencies).map(([n, r]) => [normalizeName(n), r] as const)
    this.makePkg("\u0000root", ["0.0.0"])
  }

  makePkg(name: string, versions: ReadonlyArray<string>): Pkg {
    const parsed: Array<semver.SemVer> = []
    const seen = new Set<string>()
    for (const v of versions) {
      const sv = parseVersion(v)
      if (sv !== null && !seen.has(v)) {
        seen.add(v)
        parsed.push(sv)
      }
    }
    parsed.sort((a, b) => a.compare(b))
    const sorted = parsed.map((p) => p.version)
    const words = Math.max(1, (sorted.length + 31) >>> 5)
    const pkg: Pkg = {
      id: this.pkgs.length,
      name,
      versions: sorted,
      parsed,
      words,
      any: { pos: false, bits: zeros(words) },
      ranges: new Map(),
      deps: new Array(sorted.length),
      incompats: [],
      assignments: [],
      acc: { pos: false, bits: zeros(words) },
      decided: false,
      listed: false
    }
    this.pkgs.push(pkg)
    this.byName.set(name, pkg.id)
    return pkg
  }

  pkg(name: string): Pkg {
    const id = this.byName.get(name)
    if (id !== undefined) return this.pkgs[id]
    return this.makePkg(name, this.source.versions(name))
  }

  rangeBits(p: Pkg, range: string): Bits {
    const hit = p.ranges.get(range)
    if (hit !== undefined) return hit
    const bits = zeros(p.words)
    const pinOnly = exactPin(range) === undefined ? this.source.pinOnly?.(p.name) : undefined
    for (let i = 0; i < p.parsed.length; i++) {
      if (!satisfies(range, p.parsed[i])) continue
      if (pinOnly !== undefined && pinOnly.has(p.versions[i])) continue
      bitsSet(bits, i)
    }
    p.ranges.set(range, bits)
    return bits
  }

  single(p: Pkg, i: number): Bits {
    const bits = zeros(p.words)
    bitsSet(bits, i)
    return bits
  }

  depsOf(p: Pkg, i: number): ReadonlyArray<readonly [string, string]> {
    if (p.id === ROOT) return this.rootDeps
    const hit = p.deps[i]
    if (hit !== undefined) return hit
    const raw = this.source.dependencies(p.name, p.versions[i])
    const list = Object.entries(raw)
      .map(([n, r]) => [normalizeName(n), r] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    p.deps[i] = list
    return list
  }

  depRange(p: Pkg, i: number, dep: string): string | undefined {
    for (const [n, r] of this.depsOf(p, i)) if (n === dep) return r
    return undefined
  }

  addIncompat(terms: ReadonlyArray<PkgTerm>, cause: Cause, register: boolean): number {
    const id = this.incompats.length
    this.incompats.push({ terms, cause })
    if (register) this.register(id)
    return id
  }

  register(id: number): void {
    for (const t of this.incompats[id].terms) this.pkgs[t.pkg].incompats.push(id)
  }

  // -------------------------------------------------------------------------------------------

  run(): SolveResult {
    const maxSteps = this.options.maxSteps ?? 1_000_000
    const root = this.pkgs[ROOT]
    this.addIncompat([{ pkg: ROOT, term: { pos: false, bits: this.single(root, 0) } }], { kind: "root" }, true)
    try {
      let next: number | undefined = ROOT
      while (next !== undefined) {
        if (this.decisions + this.conflicts > maxSteps) {
          return this.fail([`gave up after ${maxSteps} steps without finding a solution`])
        }
        this.propagate(next)
        next = this.choose()
      }
    } catch (e) {
      if (e instanceof SolveFailure) return this.fail(this.explain(e.incompat))
      throw e
    }
    const solution = new Map<string, string>()
    for (const p of this.pkgs) {
      if (p.id === ROOT || !p.decided) continue
      const i = bitsHighest(p.acc.bits)
      solution.set(p.name, p.versions[i])
    }
    return { _tag: "Solved", solution, decisions: this.decisions, conflicts: this.conflicts }
  }

  fail(lines: ReadonlyArray<string>): NoSolution {
    return { _tag: "NoSolution", lines, message: lines.join("\n") }
  }

  /** -2: satisfied, -1: nothing to do, >= 0: index of the one unsatisfied term. */
  relation(inc: Incompat): number {
    let unsatisfied = -1
    const terms = inc.terms
    for (let i = 0; i < terms.length; i++) {
      const t = terms[i]
      const acc = this.pkgs[t.pkg].acc
      if (subset(acc, t.term)) continue
      if (disjoint(acc, t.term)) return -1
      if (unsatisfied !== -1) return -1
      unsatisfied = i
    }
    return unsatisfied === -1 ? -2 : unsatisfied
  }

  assign(pkg: number, term: Term, cause: number): void {
    const p = this.pkgs[pkg]
    const acc = intersect(p.acc, term)
    p.acc = acc
    if (acc.pos && !p.decided && !p.listed) {
      p.listed = true
      this.candidates.push(pkg)
    }
    p.assignments.push(this.assignments.length)
    this.assignments.push({ pkg, term, level: this.level, cause, acc })
  }

  propagate(start: number): void {
    const changed: Array<number> = [start]
    const queued = new Set<number>([start])
    for (let pkg = changed.pop(); pkg !== undefined; pkg = changed.pop()) {
      queued.delete(pkg)
      const list = this.pkgs[pkg].incompats
      for (let k = list.length - 1; k >= 0; k--) {
        const id = list[k]
        const inc = this.incompats[id]
        const rel = this.relation(inc)
        if (rel === -1) continue
        if (rel === -2) {
          const learned = this.resolveConflict(id)
          const lrel = this.relation(this.incompats[learned])
          if (lrel < 0) throw new Error("PubGrub invariant: a learned incompatibility must be almost satisfied")
          const t = this.incompats[learned].terms[lrel]
          this.assign(t.pkg, negate(t.term), learned)
          changed.length = 0
          queued.clear()
          changed.push(t.pkg)
          queued.add(t.pkg)
          break
        }
        const t = inc.terms[rel]
        this.assign(t.pkg, negate(t.term), id)
        if (!queued.has(t.pkg)) {
          queued.add(t.pkg)
          changed.push(t.pkg)
        }
      }
    }
  }

  isTerminal(inc: Incompat): boolean {
    return inc.terms.length === 0 || (inc.terms.length === 1 && inc.terms[0].pkg === ROOT && inc.terms[0].term.pos)
  }

  firstSatisfier(t: PkgTerm): number {
    const p = this.pkgs[t.pkg]
    if (subset(p.any, t.term)) return -1
    for (const a of p.assignments) if (subset(this.assignments[a].acc, t.term)) return a
    throw new Error(`PubGrub invariant: no satisfier for ${p.name}`)
  }

  resolveConflict(start: number): number {
    this.conflicts++
    let id = start
    let learned = false
    for (let guard = 0; guard < 1_000_000; guard++) {
      const inc = this.incompats[id]
      if (this.isTerminal(inc)) throw new SolveFailure(id)
      let satIdx = -1
      let satTerm: PkgTerm | undefined
      const firsts = inc.terms.map((t) => this.firstSatisfier(t))
      for (let i = 0; i < firsts.length; i++) {
        if (firsts[i] > satIdx) {
          satIdx = firsts[i]
          satTerm = inc.terms[i]
        }
      }
      if (satTerm === undefined) throw new Error("PubGrub invariant: a satisfied incompatibility has a satisfier")
      const satisfier = this.assignments[satIdx]
      let prevIdx = -1
      for (let i = 0; i < firsts.length; i++) {
        if (inc.terms[i].pkg !== satisfier.pkg && firsts[i] > prevIdx) prevIdx = firsts[i]
      }
      if (!subset(satisfier.term, satTerm.term)) {
        for (const a of this.pkgs[satisfier.pkg].assignments) {
          if (a >= satIdx) break
          if (subset(intersect(this.assignments[a].acc, satisfier.term), satTerm.term)) {
            if (a > prevIdx) prevIdx = a
            break
          }
        }
      }
      const prevLevel = Math.max(prevIdx >= 0 ? this.assignments[prevIdx].level : 1, 1)
      if (satisfier.cause === -1 || prevLevel < satisfier.level) {
        this.backtrack(prevLevel)
        if (learned) this.register(id)
        return id
      }
      const cause = this.incompats[satisfier.cause]
      const merged = new Map<number, Term>()
      for (const t of inc.terms) if (t.pkg !== satisfier.pkg) merged.set(t.pkg, t.term)
      let causeTerm: Term | undefined
      for (const t of cause.terms) {
        if (t.pkg === satisfier.pkg) {
          causeTerm = t.term
          continue
        }
        const prev = merged.get(t.pkg)
        merged.set(t.pkg, prev === undefined ? t.term : intersect(prev, t.term))
      }
      const u = causeTerm === undefined ? satTerm.term : union(satTerm.term, causeTerm)
      if (!isAny(u)) merged.set(satisfier.pkg, u)
      const terms: Array<PkgTerm> = []
      for (const [pkg, term] of merged) if (!isAny(term)) terms.push({ pkg, term })
      terms.sort((a, b) => a.pkg - b.pkg)
      id = this.addIncompat(terms, { kind: "derived", left: id, right: satisfier.cause }, false)
      learned = true
    }
    throw new Error("PubGrub: conflict resolution did not terminate")
  }

  backtrack(level: number): void {
    for (
      let a = this.assignments.at(-1);
      a !== undefined && a.level > level;
      a = this.assignments.at(-1)
    ) {
      this.assignments.pop()
      const p = this.pkgs[a.pkg]
      p.assignments.pop()
      const last = p.assignments.at(-1)
      p.acc = last === undefined ? p.any : this.assignments[last].acc
      if (a.cause === -1) p.decided = false
      if (p.acc.pos && !p.decided && !p.listed) {
        p.listed = true
        this.candidates.push(p.id)
      }
    }
    this.level = level
  }

  choose(): number | undefined {
    let best: Pkg | undefined
    let bestCount = Number.POSITIVE_INFINITY
    const cands = this.candidates
    for (let i = 0; i < cands.length; i++) {
      const p = this.pkgs[cands[i]]
      if (p.decided || !p.acc.pos) {
        p.listed = false
        cands[i] = cands[cands.length - 1]
        cands.pop()
        i--
        continue
      }
      const c = bitsCount(p.acc.bits)
      if (c < bestCount || (c === bestCount && best !== undefined && p.id < best.id)) {
        best = p
        bestCount = c
      }
    }
    if (best === undefined) return undefined
    const p = best
    if (bestCount === 0) {
      this.addIncompat([{ pkg: p.id, term: { pos: true, bits: p.acc.bits } }], { kind: "noVersions" }, true)
      return p.id
    }
    let vi = bitsHighest(p.acc.bits)
    const pref = this.options.preferred?.get(p.name)
    if (pref !== undefined) {
      const pi = p.versions.indexOf(pref)
      if (pi >= 0 && bitsHas(p.acc.bits, pi)) vi = pi
    }
    let conflict = false
    for (const [depName, range] of this.depsOf(p, vi)) {
      if (depName === p.name) continue
      const dep = this.pkg(depName)
      // Widen the depender's side over neighbouring versions that ask for the same range.
      let lo = vi
      let hi = vi
      if (p.id !== ROOT) {
        while (lo > 0 && this.depRange(p, lo - 1, depName) === range) lo--
        while (hi < p.versions.length - 1 && this.depRange(p, hi + 1, depName) === range) hi++
      }
      const depBits = this.rangeBits(dep, range)
      if (bitsIsEmpty(depBits) || subset(dep.acc, { pos: false, bits: depBits })) conflict = true
      const key = `${p.id}\u0000${depName}\u0000${lo}\u0000${hi}`
      if (this.depKeys.has(key)) continue
      this.depKeys.add(key)
      const lhs = zeros(p.words)
      for (let i = lo; i <= hi; i++) bitsSet(lhs, i)
      const terms: Array<PkgTerm> = [{ pkg: p.id, term: { pos: true, bits: lhs } }]
      if (!bitsIsEmpty(depBits)) terms.push({ pkg: dep.id, term: { pos: false, bits: depBits } })
      this.addIncompat(terms, { kind: "dependency", dep: dep.id, range }, true)
    }
    if (!conflict) {
      this.level++
      this.decisions++
      p.decided = true
      this.assign(p.id, { pos: true, bits: this.single(p, vi) }, -1)
    }
    return p.id
  }

  // -------------------------------------------------------------------------------------------
  // Explanations

  rangeText(p: Pkg, bits: Bits): string {
    const n = p.versions.length
    const parts: Array<string> = []
    let i = 0
    while (i < n) {
      if (!bitsHas(bits, i)) {
        i++
        continue
      }
      let j = i
      // extend the run, stepping over prereleases that the set leaves out
      let k = i + 1
      while (k < n) {
        if (bitsHas(bits, k)) {
          j = k
          k++
        } else if (p.parsed[k].prerelease.length > 0) {
          k++
        } else break
      }
      const from = p.versions[i]
      const after = j + 1 < n ? p.versions[j + 1] : undefined
      if (i === j) parts.push(from)
      else if (i === 0 && after === undefined) parts.push("*")
      else if (i === 0) parts.push(`<${after}`)
      else if (after === undefined) parts.push(`>=${from}`)
      else parts.push(`>=${from} <${after}`)
      i = j + 1
    }
    return parts.join(" || ")
  }

  subject(p: Pkg, bits: Bits): string {
    if (p.id === ROOT) return this.rootName
    const r = this.rangeText(p, bits)
    return r === "*" ? `every version of ${p.name}` : `${p.name} ${r}`
  }

  object(p: Pkg, bits: Bits): string {
    const r = this.rangeText(p, bits)
    return r === "*" ? p.name : `${p.name} ${r}`
  }

  describe(id: number): string {
    const inc = this.incompats[id]
    const cause = inc.cause
    if (cause.kind === "dependency") {
      const p = this.pkgs[inc.terms[0].pkg]
      const dep = this.pkgs[cause.dep]
      const who = this.subject(p, inc.terms[0].term.bits)
      const what = `${who} depends on ${dep.name} ${cause.range}`
      if (inc.terms.length > 1) return what
      if (dep.versions.length === 0) return `${what}, but no versions of ${dep.name} are available`
      if (semver.validRange(cause.range) === null) return `${what}, which is not a valid version range`
      return `${what}, but no version of ${dep.name} matches ${cause.range}`
    }
    if (cause.kind === "noVersions") {
      const t = inc.terms[0]
      const p = this.pkgs[t.pkg]
      return p.versions.length === 0
        ? `no versions of ${p.name} are available`
        : `no version of ${p.name} matches ${this.rangeText(p, t.term.bits) || "the required range"}`
    }
    if (cause.kind === "root") return `${this.rootName} is being resolved`
    const hasRoot = inc.terms.some((t) => t.pkg === ROOT && t.term.pos)
    const terms = inc.terms.filter((t) => !(t.pkg === ROOT && t.term.pos))
    const pos = terms.filter((t) => t.term.pos)
    const neg = terms.filter((t) => !t.term.pos)
    if (terms.length === 0) return `no versions satisfy ${this.rootName}'s dependencies`
    if (pos.length === 0) {
      const req = neg.map((t) => this.object(this.pkgs[t.pkg], t.term.bits)).join(" or ")
      return hasRoot ? `${this.rootName} depends on ${req}` : `${req} is required`
    }
    if (neg.length === 0) {
      const names = pos.map((t) => this.subject(this.pkgs[t.pkg], t.term.bits))
      if (names.length === 1) return `${names[0]} cannot be installed`
      return names.length === 2
        ? `${names[0]} and ${names[1]} cannot be installed together`
        : `${names.slice(0, -1).join(", ")} and ${names.at(-1)} cannot all be installed together`
    }
    if (pos.length === 1) {
      const who = this.subject(this.pkgs[pos[0].pkg], pos[0].term.bits)
      const req = neg.map((t) => this.object(this.pkgs[t.pkg], t.term.bits)).join(" or ")
      return `${who} ${neg.length === 1 ? "depends on" : "requires"} ${req}`
    }
    const names = pos.map((t) => this.subject(this.pkgs[t.pkg], t.term.bits))
    const req = neg.map((t) => this.object(this.pkgs[t.pkg], t.term.bits)).join(" or ")
    return `${names.join(" and ")} together require ${req}`
  }

  explain(terminal: number): Array<string> {
    const lines: Array<string> = []
    const lineOf = new Map<number, number>()
    const visit = (id: number): void => {
      const inc = this.incompats[id]
      if (inc.cause.kind !== "derived" || lineOf.has(id)) return
      const { left, right } = inc.cause
      const lDerived = this.incompats[left].cause.kind === "derived"
      const rDerived = this.incompats[right].cause.kind === "derived"
      // explain the derived cause last, so that its line is the one right above
      const order = lDerived && !rDerived ? [left, right] : [right, left]
      for (const c of order) visit(c)
      const previous = lines.length
      const reasons: Array<string> = []
      for (const c of [left, right]) {
        const ci = this.incompats[c]
        if (ci.cause.kind === "root") continue
        if (ci.cause.kind !== "derived") reasons.push(this.describe(c))
        else if (lineOf.get(c) !== previous) reasons.push(`${this.describe(c)} (line ${lineOf.get(c)})`)
      }
      const conclusion = id === terminal
        ? `so ${this.rootName}'s dependencies cannot be satisfied`
        : `so ${this.describe(id)}`
      lines.push(reasons.length === 0 ? conclusion : `${reasons.join("; ")}; ${conclusion}`)
      lineOf.set(id, lines.length)
    }
    const t = this.incompats[terminal]
    if (t.cause.kind !== "derived") {
      return [`${this.describe(terminal)}; so ${this.rootName}'s dependencies cannot be satisfied`]
    }
    visit(terminal)
    const referenced = lines.some((l) => / \(line \d+\)/.test(l))
    return referenced ? lines.map((l, i) => `${i + 1}. ${l}`) : lines
  }
}
