// The mock backend may refuse only with codes the Rust side has: a code
// spelled in the mock but not in the engine, the core or the app would let
// a component test pass on a refusal the kiosk never gives (issue 15,
// item 6). Until the codes are one generated union (issue 19), the Rust
// sources are read: every `x.y` code string literal, `refused.` + the
// core's `Refusal::code()` names, `auth.` + `AuthRefusal::code()` names.
// @vitest-environment node
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '../../../..');

function rustFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'target' ? [] : rustFiles(p);
    return p.endsWith('.rs') ? [p] : [];
  });
}

function rustCodes(): Set<string> {
  const codes = new Set<string>();
  for (const f of [...rustFiles(join(ROOT, 'crates')), ...rustFiles(join(ROOT, 'src-tauri/src'))]) {
    for (const m of readFileSync(f, 'utf8').matchAll(/"([a-z_]+\.[a-z_]+)"/g)) codes.add(m[1]!);
  }
  const names = (file: string, enumName: string) =>
    [...readFileSync(join(ROOT, file), 'utf8').matchAll(new RegExp(`${enumName}::\\w+(?: \\{ \\.\\. \\}|\\(_\\))? => "([a-z_]+)"`, 'g'))].map(
      (m) => m[1]!,
    );
  for (const n of names('crates/core/src/lib.rs', 'Refusal')) codes.add(`refused.${n}`);
  for (const n of names('crates/core/src/auth.rs', 'AuthRefusal')) codes.add(`auth.${n}`);
  return codes;
}

function mockCodes(): string[] {
  const dir = join(__dirname);
  const found = new Set<string>();
  for (const name of readdirSync(dir).filter((n) => /^mock.*\.ts$/.test(n) && !n.endsWith('.test.ts'))) {
    const text = readFileSync(join(dir, name), 'utf8');
    for (const m of text.matchAll(/fail\(\s*'([a-z_.]+)'/g)) found.add(m[1]!);
    for (const m of text.matchAll(/fail\(\s*\w+\.\w+ \? '([a-z_.]+)' : '([a-z_.]+)'/g)) {
      found.add(m[1]!);
      found.add(m[2]!);
    }
    for (const m of text.matchAll(/refuse\(\s*\w+,\s*'([a-z_]+)'/g)) found.add(`refused.${m[1]!}`);
  }
  return [...found].sort();
}

describe('the mock backend', () => {
  it('finds the Rust side’s codes (the reader works)', () => {
    const codes = rustCodes();
    for (const c of ['refused.self_dealing', 'refused.invalid_transition', 'auth.auth_failed', 'console.no_session']) {
      expect(codes.has(c), c).toBe(true);
    }
  });

  it('refuses only with codes the engine, the core or the app have', () => {
    const codes = rustCodes();
    const mock = mockCodes();
    expect(mock.length).toBeGreaterThan(20);
    expect(mock.filter((c) => !codes.has(c))).toEqual([]);
  });
});
