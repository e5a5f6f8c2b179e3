// Tiny WGSL preprocessor: `#include "name"` of shared snippets, `#define NAME value`,
// `#if EXPR` / `#ifdef NAME` / `#ifndef NAME` / `#elif EXPR` / `#else` / `#endif`.
// EXPR is `NAME`, `!NAME`, `NAME == value`, `NAME != value`, or `NAME >= / <= / > / < number`.
// A define is substituted wherever NAME appears as a whole word in non-directive lines.
// Defines passed in by the caller (the pipeline variant) win over `#define`s in the source.

export type DefineValue = string | number | boolean;
export type Defines = Readonly<Record<string, DefineValue>>;

export class WgslPreprocessError extends Error {
  override name = 'WgslPreprocessError';
}

export interface PreprocessOptions {
  defines?: Defines;
  /** Snippets `#include "name"` may name (shared ones come from workers/gpu/snippets.ts). */
  includes?: Readonly<Record<string, string>>;
}

function truthy(v: DefineValue | undefined): boolean {
  return v !== undefined && v !== false && v !== 0 && v !== '0' && v !== 'false';
}

function evalExpr(expr: string, defs: Map<string, DefineValue>, where: string): boolean {
  const e = expr.trim();
  let m = /^!\s*([A-Za-z_]\w*)$/.exec(e);
  if (m) return !truthy(defs.get(m[1]));
  m = /^([A-Za-z_]\w*)$/.exec(e);
  if (m) return truthy(defs.get(m[1]));
  m = /^defined\s*\(\s*([A-Za-z_]\w*)\s*\)$/.exec(e);
  if (m) return defs.has(m[1]);
  m = /^([A-Za-z_]\w*)\s*(==|!=|>=|<=|>|<)\s*(\S+)$/.exec(e);
  if (m) {
    const lhs = defs.get(m[1]);
    const rhs = m[3];
    const ln = Number(lhs);
    const rn = Number(rhs);
    const numeric = lhs !== undefined && !Number.isNaN(ln) && !Number.isNaN(rn);
    switch (m[2]) {
      case '==':
        return numeric ? ln === rn : String(lhs) === rhs;
      case '!=':
        return numeric ? ln !== rn : String(lhs) !== rhs;
      case '>=':
        return numeric && ln >= rn;
      case '<=':
        return numeric && ln <= rn;
      case '>':
        return numeric && ln > rn;
      case '<':
        return numeric && ln < rn;
    }
  }
  throw new WgslPreprocessError(`${where}: cannot evaluate "#if ${expr}"`);
}

/** Expand includes, conditionals and defines; returns plain WGSL. */
export function preprocessWgsl(source: string, opts: PreprocessOptions = {}, name = 'shader'): string {
  const fixed = new Map<string, DefineValue>(Object.entries(opts.defines ?? {}));
  const defs = new Map<string, DefineValue>(fixed);
  const out: string[] = [];
  const seen = new Set<string>();

  const expand = (src: string, file: string, depth: number): void => {
    if (depth > 16) throw new WgslPreprocessError(`${file}: includes nested too deep`);
    // Stack of [active, anyBranchTaken, parentActive].
    const stack: Array<{ active: boolean; taken: boolean; parent: boolean }> = [];
    const active = () => (stack.length === 0 ? true : stack[stack.length - 1].active);
    const lines = src.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const where = `${file}:${i + 1}`;
      const d = /^\s*#(\w+)\s*(.*?)\s*$/.exec(line);
      if (!d) {
        if (active()) out.push(line);
        continue;
      }
      const [, dir, rest] = d;
      switch (dir) {
        case 'if':
        case 'ifdef':
        case 'ifndef': {
          const parent = active();
          const cond = dir === 'if' ? evalExpr(rest, defs, where) : dir === 'ifdef' ? defs.has(rest) : !defs.has(rest);
          stack.push({ active: parent && cond, taken: cond, parent });
          break;
        }
        case 'elif': {
          const top = stack[stack.length - 1];
          if (!top) throw new WgslPreprocessError(`${where}: #elif without #if`);
          const cond = !top.taken && evalExpr(rest, defs, where);
          top.active = top.parent && cond;
          top.taken = top.taken || cond;
          break;
        }
        case 'else': {
          const top = stack[stack.length - 1];
          if (!top) throw new WgslPreprocessError(`${where}: #else without #if`);
          top.active = top.parent && !top.taken;
          top.taken = true;
          break;
        }
        case 'endif':
          if (!stack.pop()) throw new WgslPreprocessError(`${where}: #endif without #if`);
          break;
        case 'define': {
          if (!active()) break;
          const m = /^([A-Za-z_]\w*)\s*(.*)$/.exec(rest);
          if (!m) throw new WgslPreprocessError(`${where}: bad #define "${rest}"`);
          if (!fixed.has(m[1])) defs.set(m[1], m[2] === '' ? true : m[2]);
          break;
        }
        case 'include': {
          if (!active()) break;
          const m = /^"([^"]+)"$/.exec(rest);
          if (!m) throw new WgslPreprocessError(`${where}: bad #include ${rest}`);
          const inc = opts.includes?.[m[1]];
          if (inc === undefined) throw new WgslPreprocessError(`${where}: unknown include "${m[1]}"`);
          if (seen.has(m[1])) break; // include once
          seen.add(m[1]);
          expand(inc, m[1], depth + 1);
          break;
        }
        default:
          throw new WgslPreprocessError(`${where}: unknown directive #${dir}`);
      }
    }
    if (stack.length) throw new WgslPreprocessError(`${file}: unterminated #if`);
  };
  expand(source, name, 0);

  const names = [...defs.keys()].filter((k) => typeof defs.get(k) !== 'boolean').sort((a, b) => b.length - a.length);
  if (names.length === 0) return out.join('\n');
  const re = new RegExp(`\\b(${names.join('|')})\\b`, 'g');
  return out.map((l) => l.replace(re, (k) => String(defs.get(k)))).join('\n');
}
