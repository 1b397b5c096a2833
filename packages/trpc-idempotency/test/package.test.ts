/**
 * The package as a registry user gets it: `pnpm pack` builds it, its README's
 * links resolve (inside the tarball or at the repository), its manifest says
 * where it lives, a browser-only install needs no server peer, and the React
 * entry imports without its optional idb-keyval.
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import packageJson from '../package.json' with { type: 'json' };

const root = join(import.meta.dirname, '..');
const repositoryRoot = join(root, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const REPOSITORY = 'https://github.com/trpc-idempotency/trpc-idempotency';

/** Whether `file` (relative to the package) is in the tarball, by the `files` globs we use. */
function shipped(file: string) {
  const patterns = packageJson.files;
  const matches = (pattern: string) => {
    const glob = pattern.replace(/^!/, '');
    const regex = new RegExp(
      `^${glob
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*\*\//g, '(?:.*/)?')
        .replace(/\*/g, '[^/]*')}(?:/.*)?$`,
    );
    return regex.test(file);
  };
  let included = false;
  for (const pattern of patterns) {
    if (matches(pattern)) included = !pattern.startsWith('!');
  }
  return included || file === 'package.json';
}

describe('the package manifest', () => {
  it('builds on pack: a `prepack` that runs the build', () => {
    expect(packageJson.scripts.prepack).toBe(packageJson.scripts.build);
  });

  it('says where it lives: repository (with its folder), homepage, bugs', () => {
    expect(packageJson.repository).toEqual({
      type: 'git',
      url: `git+${REPOSITORY}.git`,
      directory: 'packages/trpc-idempotency',
    });
    expect(packageJson.homepage).toBe(`${REPOSITORY}/tree/main/packages/trpc-idempotency#readme`);
    expect(packageJson.bugs).toEqual({ url: `${REPOSITORY}/issues` });
  });

  it('needs no server peer for a browser-only install: only @trpc/server is required', () => {
    const peers = Object.keys(packageJson.peerDependencies);
    const meta = packageJson.peerDependenciesMeta as Record<string, { optional?: boolean }>;
    expect(peers.filter((name) => !meta[name]?.optional)).toEqual(['@trpc/server']);
    expect(meta['drizzle-orm']?.optional).toBe(true);
    expect(meta['idb-keyval']?.optional).toBe(true);
    expect('dependencies' in packageJson).toBe(false);
  });
});

describe('the package README', () => {
  const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!);

  it('links nothing outside the package by a relative path', () => {
    const relative = links.filter((link) => !/^(https?:|#|mailto:)/.test(link));
    for (const link of relative) {
      expect(link, link).not.toMatch(/^\.\.\//);
      expect(shipped(link.replace(/^\.\//, '').replace(/#.*$/, '')), `${link} is shipped`).toBe(
        true,
      );
    }
  });

  it('links the repository at files that exist in it', () => {
    const toRepository = links.filter((link) => link.startsWith(`${REPOSITORY}/`));
    expect(toRepository.length).toBeGreaterThan(0);
    for (const link of toRepository) {
      const path = /^https:\/\/github\.com\/[^/]+\/[^/]+\/(?:blob|tree)\/main\/([^#]+)/.exec(
        link,
      )?.[1];
      expect(path, link).toBeDefined();
      expect(existsSync(join(repositoryRoot, path!)), link).toBe(true);
    }
  });

  it('ships every example it shows', () => {
    const cited = [...readme.matchAll(/<!-- example: (examples\/\S+) -->/g)].map((m) => m[1]!);
    expect(cited.length).toBeGreaterThan(0);
    for (const file of cited) expect(shipped(file), file).toBe(true);
    expect(shipped('examples/tsconfig.json')).toBe(false);
  });
});

describe('pnpm pack on a fresh clone (no dist/)', () => {
  let clone: string;
  let tarball: string;
  let packedFiles: Set<string>;

  beforeAll(() => {
    clone = mkdtempSync(join(tmpdir(), 'trpc-idempotency-pack-'));
    const folder = join(clone, 'packages', 'trpc-idempotency');
    for (const part of ['src', 'drizzle', 'examples']) {
      cpSync(join(root, part), join(folder, part), { recursive: true });
    }
    for (const file of ['package.json', 'README.md', 'tsconfig.json', 'tsdown.config.ts']) {
      cpSync(join(root, file), join(folder, file));
    }
    cpSync(join(repositoryRoot, 'tsconfig.base.json'), join(clone, 'tsconfig.base.json'));
    symlinkSync(join(root, 'node_modules'), join(folder, 'node_modules'), 'dir');
    expect(existsSync(join(folder, 'dist'))).toBe(false);
    const output = execFileSync('npm', ['pack', '--json', '--pack-destination', clone], {
      cwd: folder,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, npm_config_update_notifier: 'false' },
    });
    // The build's own output comes first on stdout; npm's JSON report is the last part.
    const [packed] = JSON.parse(output.slice(output.search(/^\[$/m))) as {
      filename: string;
      files: { path: string }[];
    }[];
    tarball = join(clone, packed!.filename);
    packedFiles = new Set(packed!.files.map((file) => file.path));
  }, 180_000);
  afterAll(() => {
    if (clone) rmSync(clone, { recursive: true, force: true });
  });

  it('builds dist/ into the tarball, every export target included', () => {
    const targets = JSON.stringify(packageJson.exports).match(/\.\/dist\/[^"]+/g) ?? [];
    expect(targets.length).toBeGreaterThan(10);
    for (const target of targets) expect(packedFiles.has(target.slice(2)), target).toBe(true);
    expect(packedFiles.has('dist/cli.mjs')).toBe(true);
    expect(packedFiles.has('examples/quickstart/router.ts')).toBe(true);
    expect(
      [...packedFiles].some((file) => file.endsWith('.test.ts') && file.startsWith('src/')),
    ).toBe(false);
  });

  /**
   * An app with the tarball installed beside React and TanStack Query (and
   * fake-indexeddb for a browser's IndexedDB), with idb-keyval or without:
   * what the react-query entry does, from ESM and from CommonJS.
   */
  function reactQueryApp(opts: { idbKeyval: boolean }) {
    const app = mkdtempSync(join(clone, 'app-'));
    const modules = join(app, 'node_modules');
    mkdirSync(join(modules, '@tanstack'), { recursive: true });
    execFileSync('tar', ['-xzf', tarball, '-C', modules]);
    renameSync(join(modules, 'package'), join(modules, 'trpc-idempotency'));
    const peers = ['react', '@tanstack/react-query', 'fake-indexeddb'];
    if (opts.idbKeyval) peers.push('idb-keyval');
    for (const peer of peers) {
      symlinkSync(realpathSync(join(root, 'node_modules', peer)), join(modules, peer), 'dir');
    }
    // Pending operations used: the store is opened (idb-keyval loaded) by resume().
    const script = (load: string) => `
      require('fake-indexeddb/auto');
      const { QueryClient } = require('@tanstack/react-query');
      (async () => {
        const entry = ${load};
        const errors = [];
        const pending = entry.createPendingOperations({
          queryClient: new QueryClient(),
          procedures: {},
          onStorageError: (error) => errors.push(String(error)),
        });
        await pending.resume();
        console.log(JSON.stringify({ exports: Object.keys(entry).sort(), errors }));
      })();`;
    const run = (load: string) =>
      JSON.parse(execFileSync('node', ['-e', script(load)], { cwd: app, encoding: 'utf8' })) as {
        exports: string[];
        errors: string[];
      };
    return {
      esm: run("await import('trpc-idempotency/react-query')"),
      cjs: run("require('trpc-idempotency/react-query')"),
    };
  }

  it('trpc-idempotency/react-query imports without idb-keyval (an optional peer); pending operations then name it', () => {
    const { esm, cjs } = reactQueryApp({ idbKeyval: false });
    for (const { exports, errors } of [esm, cjs]) {
      expect(exports).toContain('useIdempotentMutation');
      expect(exports).toContain('createPendingOperations');
      // Each use that needed the store (the horizon, the operations) said why it could not.
      expect(errors.length).toBeGreaterThan(0);
      for (const error of errors) {
        expect(error).toContain(
          'pending operations are kept in IndexedDB through idb-keyval, an optional peer dependency of trpc-idempotency',
        );
        expect(error).toContain('install it (npm install idb-keyval)');
      }
    }
  });

  it('with idb-keyval installed, pending operations load it when first used', () => {
    const { esm, cjs } = reactQueryApp({ idbKeyval: true });
    expect(esm).toEqual({ exports: cjs.exports, errors: [] });
    expect(cjs.errors).toEqual([]);
  });
});
