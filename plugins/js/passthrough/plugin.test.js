// `node --test` in this directory (after one build, which puts the kit in .sluice-build/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runTransform } from '#sluice/testing';
import * as plugin from './plugin.js';

test('everything unchanged, configuration refused', () => {
  const out = runTransform(plugin, {}, [{ body: 'a' }, { body: Uint8Array.from([0xff]) }]);
  assert.deepEqual(out, [{ outcome: 'unchanged' }, { outcome: 'unchanged' }]);
  assert.throws(() => runTransform(plugin, { x: '1' }, []), { key: 'x' });
});
