import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  directorySource,
  isCandidatePath,
  isSafeRelativePath,
  memorySource,
  RepoSourceError,
} from '../../../lambdas/spec/index.ts';

describe('which paths are read', () => {
  it('reads .yaml and .yml files outside hidden directories and node_modules', () => {
    for (const path of ['ballast.yaml', 'models/a.yml', 'deep/er/x.YAML']) assert.ok(isCandidatePath(path), path);
    for (const path of [
      '.github/workflows/ci.yaml',
      'a/.git/x.yaml',
      'node_modules/p/x.yaml',
      '.hidden.yaml',
      'README.md',
      'x.yaml.bak',
    ]) {
      assert.ok(!isCandidatePath(path), path);
    }
  });

  it('accepts only plain relative paths', () => {
    assert.ok(isSafeRelativePath('models/a.yaml'));
    for (const path of [
      '',
      '/abs.yaml',
      '../up.yaml',
      'a/../b.yaml',
      'a/./b.yaml',
      'a//b.yaml',
      'a\\b.yaml',
      'C:/x.yaml',
      'a\nb.yaml',
    ]) {
      assert.ok(!isSafeRelativePath(path), JSON.stringify(path));
    }
  });
});

describe('directorySource', () => {
  let root = '';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'ballast-source-'));
    await mkdir(join(root, 'models'));
    await mkdir(join(root, '.git'));
    await mkdir(join(root, 'node_modules'));
    await writeFile(join(root, 'ballast.yaml'), 'a: 1\n');
    await writeFile(join(root, 'models', 'm.yaml'), 'bb: 22\n');
    await writeFile(join(root, '.git', 'config.yaml'), 'x: 1\n');
    await writeFile(join(root, 'node_modules', 'n.yaml'), 'x: 1\n');
    await symlink('models/m.yaml', join(root, 'link.yaml'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('lists files sorted with kinds and sizes, without descending into skipped directories', async () => {
    assert.deepEqual(await directorySource(root).list(), [
      { path: 'ballast.yaml', kind: 'file', size: 5 },
      { path: 'link.yaml', kind: 'symlink', size: 'models/m.yaml'.length },
      { path: 'models/m.yaml', kind: 'file', size: 7 },
    ]);
  });

  it('stops listing a huge tree', async () => {
    await assert.rejects(directorySource(root, { maxEntries: 2 }).list(), RepoSourceError);
  });
});

describe('memorySource', () => {
  it('lists sorted files with their UTF-8 sizes and reads them back', async () => {
    const source = memorySource({ 'b.yaml': 'é: 1', 'a.yaml': new Uint8Array([1, 2]) });
    assert.deepEqual(await source.list(), [
      { path: 'a.yaml', kind: 'file', size: 2 },
      { path: 'b.yaml', kind: 'file', size: 5 },
    ]);
    assert.equal(new TextDecoder().decode(await source.read('b.yaml')), 'é: 1');
    await assert.rejects(source.read('c.yaml'), RepoSourceError);
  });
});
